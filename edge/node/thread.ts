/**
 * Calls to a worker thread by message: { id, ...msg } out, { id, ok, value |
 * message } back. The thread starts on the first call, does not keep the
 * process alive while nothing is asked of it, and when it dies every call in
 * flight fails and the next call starts a new one.
 */
import { Worker } from 'node:worker_threads';

type Reply = { id: number; ok: true; value: unknown } | { id: number; ok: false; message: string };

export class ThreadCalls {
  private worker: Worker | undefined;
  private pending = new Map<number, { ok: (v: unknown) => void; fail: (e: Error) => void }>();
  private next = 1;

  constructor(private readonly url: URL) {}

  call<T>(msg: Record<string, unknown>, transfer: ArrayBuffer[] = []): Promise<T> {
    const worker = this.start();
    const id = this.next++;
    return new Promise<T>((ok, fail) => {
      this.pending.set(id, { ok: ok as (v: unknown) => void, fail });
      if (this.pending.size === 1) worker.ref();
      worker.postMessage({ ...msg, id }, transfer);
    });
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(this.url);
    worker.unref();
    worker.on('message', (reply: Reply) => {
      const p = this.pending.get(reply.id);
      if (!p) return;
      this.pending.delete(reply.id);
      if (!this.pending.size) worker.unref();
      if (reply.ok) p.ok(reply.value);
      else p.fail(new Error(reply.message));
    });
    const lost = (err: Error) => {
      if (this.worker === worker) this.worker = undefined;
      for (const p of this.pending.values()) p.fail(err);
      this.pending.clear();
    };
    worker.on('error', lost);
    worker.on('exit', (code) => lost(new Error(`thread ${this.url.pathname.split('/').pop()} exited (${code})`)));
    this.worker = worker;
    return worker;
  }

  /** Stop the thread. */
  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    await w?.terminate();
  }
}
