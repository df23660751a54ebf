/** The one file that imports onnxruntime-node: a Runtime session over its CPU provider. */
import { Worker } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import type { ModelSession, Tensor } from '../runtime';

/**
 * One intra-op thread per session (as the Python peer in bench/peer.py): the
 * process serves many requests at once and batching (edge/batch.ts) gives the
 * kernels their size; all graph optimisations on.
 */
export const SESSION_OPTIONS: ort.InferenceSession.SessionOptions = {
  executionProviders: ['cpu'],
  graphOptimizationLevel: 'all',
  intraOpNumThreads: 1,
};

/** A session run on the calling (main) thread: onnxruntime-node blocks it for the whole graph. */
export async function createNodeSession(bytes: Uint8Array): Promise<ModelSession> {
  const session = await ort.InferenceSession.create(bytes, SESSION_OPTIONS);
  return {
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    async run(feeds) {
      const inputs: Record<string, ort.Tensor> = {};
      for (const [name, t] of Object.entries(feeds)) inputs[name] = new ort.Tensor('float32', t.data, t.dims);
      const outputs = await session.run(inputs);
      const result: Record<string, Tensor> = {};
      for (const [name, t] of Object.entries(outputs)) {
        result[name] = { data: t.data as Float32Array, dims: [...t.dims] };
      }
      return result;
    },
    release: () => session.release(),
  };
}

type Reply = { id: number; ok: true; value: unknown } | { id: number; ok: false; message: string };

/**
 * onnxruntime-node on a thread of its own (ort-thread.cjs): the same library,
 * options and inputs, so the same numbers, but the main thread is free while a
 * graph runs, to read, check and draw the noise of the next requests and write
 * the answers of the last. Runs still go one at a time, on one core, as on the
 * main thread; on two cores Node then does its JavaScript and its graphs side
 * by side. The thread does not keep the process alive while nothing is asked
 * of it.
 */
export class OrtThread {
  private worker: Worker | undefined;
  private pending = new Map<number, { ok: (v: unknown) => void; fail: (e: Error) => void }>();
  private next = 1;

  private call<T>(msg: Record<string, unknown>): Promise<T> {
    const worker = this.start();
    const id = this.next++;
    return new Promise<T>((ok, fail) => {
      this.pending.set(id, { ok: ok as (v: unknown) => void, fail });
      if (this.pending.size === 1) worker.ref();
      worker.postMessage({ ...msg, id });
    });
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(new URL('./ort-thread.cjs', import.meta.url));
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
      // its sessions are gone with it: every call in flight fails, and the next starts a new thread
      if (this.worker === worker) this.worker = undefined;
      for (const p of this.pending.values()) p.fail(err);
      this.pending.clear();
    };
    worker.on('error', lost);
    worker.on('exit', (code) => lost(new Error(`onnxruntime thread exited (${code})`)));
    this.worker = worker;
    return worker;
  }

  async createSession(bytes: Uint8Array): Promise<ModelSession & { lastRunThreadId(): number }> {
    const info = await this.call<{ session: number; inputNames: string[]; outputNames: string[] }>({ op: 'create', bytes, options: SESSION_OPTIONS });
    let last = -1;
    return {
      inputNames: info.inputNames,
      outputNames: info.outputNames,
      run: async (feeds) => {
        const plain: Record<string, Tensor> = {};
        // a view into a larger buffer would carry all of it across: send what it covers
        for (const [name, t] of Object.entries(feeds)) plain[name] = { data: t.data.byteLength === t.data.buffer.byteLength ? t.data : t.data.slice(), dims: t.dims };
        const out = await this.call<{ outputs: Record<string, Tensor>; threadId: number }>({ op: 'run', session: info.session, feeds: plain });
        last = out.threadId;
        return out.outputs;
      },
      release: () => this.call<void>({ op: 'release', session: info.session }),
      /** the thread that answered the last run (tests) */
      lastRunThreadId: () => last,
    };
  }

  /** Stop the thread (its sessions with it). */
  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    await w?.terminate();
  }
}

let shared: OrtThread | undefined;
/** The process's one onnxruntime thread, started on first use. */
export function ortThread(): OrtThread {
  return (shared ??= new OrtThread());
}
