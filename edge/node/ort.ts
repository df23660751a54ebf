/** The one file that imports onnxruntime-node: a Runtime session over its CPU provider. */
import { availableParallelism } from 'node:os';
import * as ort from 'onnxruntime-node';
import type { ModelSession, Tensor } from '../runtime';
import { ThreadCalls } from './thread';

/**
 * One intra-op thread per session (as the Python peer in bench/peer.py): the
 * process serves many requests at once and batching (edge/batch.ts) gives the
 * kernels their size; all graph optimisations on. onnxruntime's CPU arena and
 * memory patterns are off: the arena grows to the largest run a session has
 * seen and keeps it (a copy per onnxruntime thread), which after the worst
 * request mix held the Node server at ~1 GiB resident (peak 1.5 GiB) for
 * ~15 MB of JS heap (SERVING.md, "Memory"). EDGEGEN_ORT_ARENA=1 turns both
 * back on.
 */
export function sessionOptions(env: Record<string, string | undefined> = process.env): ort.InferenceSession.SessionOptions {
  const arena = env.EDGEGEN_ORT_ARENA === '1';
  return {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: 1,
    enableCpuMemArena: arena,
    enableMemPattern: arena,
  };
}
export const SESSION_OPTIONS = sessionOptions();

/** A session run on the calling (main) thread: onnxruntime-node blocks it for the whole graph. */
export async function createNodeSession(bytes: Uint8Array): Promise<ModelSession> {
  const session = await ort.InferenceSession.create(bytes, SESSION_OPTIONS);
  return {
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    async run(feeds, _stats, wanted) {
      const inputs: Record<string, ort.Tensor> = {};
      for (const [name, t] of Object.entries(feeds)) inputs[name] = new ort.Tensor('float32', t.data, t.dims);
      const outputs = wanted ? await session.run(inputs, [...wanted]) : await session.run(inputs);
      const result: Record<string, Tensor> = {};
      for (const [name, t] of Object.entries(outputs)) {
        result[name] = { data: t.data as Float32Array, dims: [...t.dims] };
      }
      return result;
    },
    release: () => session.release(),
  };
}

/**
 * onnxruntime-node on a thread of its own (ort-thread.cjs): the same library,
 * options and inputs, so the same numbers, but the main thread is free while a
 * graph runs, to read, check and draw the noise of the next requests and write
 * the answers of the last. Runs still go one at a time, on one core, as on the
 * main thread; on two cores Node then does its JavaScript and its graphs side
 * by side.
 */
export class OrtThread {
  private readonly thread = new ThreadCalls(new URL('./ort-thread.cjs', import.meta.url));

  private call<T>(msg: Record<string, unknown>): Promise<T> {
    return this.thread.call<T>(msg);
  }

  async createSession(bytes: Uint8Array): Promise<ModelSession & { lastRunThreadId(): number }> {
    const info = await this.call<{ session: number; inputNames: string[]; outputNames: string[] }>({ op: 'create', bytes, options: SESSION_OPTIONS });
    let last = -1;
    return {
      inputNames: info.inputNames,
      outputNames: info.outputNames,
      run: async (feeds, _stats, outputs) => {
        // each feed goes over in a buffer of its own, handed over rather than cloned: the
        // structured clone of a batch's inputs cost the main thread ~1 ms a request, a copy
        // here a tenth of that; a spare feed (the caller is done with it) needs no copy, the
        // rest keep theirs (MADE reuses z for D passes)
        const plain: Record<string, Tensor> = {};
        const transfer: ArrayBuffer[] = [];
        for (const [name, t] of Object.entries(feeds)) {
          // a spare feed that owns its whole buffer goes over as it is (Tensor.spare)
          const whole = t.data.byteOffset === 0 && t.data.byteLength === t.data.buffer.byteLength && !(t.data.buffer instanceof SharedArrayBuffer);
          const data = t.spare && whole ? t.data : t.data.slice();
          plain[name] = { data, dims: t.dims };
          if (!transfer.includes(data.buffer as ArrayBuffer)) transfer.push(data.buffer as ArrayBuffer);
        }
        const out = await this.thread.call<{ outputs: Record<string, Tensor>; threadId: number }>({ op: 'run', session: info.session, feeds: plain, outputs }, transfer);
        last = out.threadId;
        return out.outputs;
      },
      release: () => this.call<void>({ op: 'release', session: info.session }),
      /** the thread that answered the last run (tests) */
      lastRunThreadId: () => last,
    };
  }

  /** Stop the thread (its sessions with it). */
  close(): Promise<void> {
    return this.thread.close();
  }
}

type ThreadSession = ModelSession & { lastRunThreadId(): number };

/**
 * Several onnxruntime threads. A session opens on one of them (the one holding
 * the fewest sessions); another thread gets a copy of it (same bytes, same
 * options, so the same numbers) only when runs of that session overlap: a run
 * that finds every thread holding the session busy while another thread is
 * idle starts a copy there, and runs after it may go to either. A hot model
 * thus ends with a copy on every thread, as many runs side by side as there
 * are threads, while the models asked one request at a time stay on one
 * thread: every copy costs its weights and onnxruntime's buffers again. A run
 * goes to the holding thread with the fewest runs in flight. One intra-op
 * thread per run still, like the peer; the process uses its cores by running
 * requests in parallel rather than splitting one product over them.
 */
export class OrtPool {
  readonly threads: OrtThread[];
  private readonly busy: number[];
  /** sessions each thread holds */
  private readonly held: number[];
  /** sessions being opened on a thread: close() waits for them, since stopping a thread inside onnxruntime's session creation can take the process down */
  private readonly opening = new Set<Promise<unknown>>();

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new Error(`onnxruntime threads must be a whole number >= 1, got ${size}`);
    this.threads = Array.from({ length: size }, () => new OrtThread());
    this.busy = new Array<number>(size).fill(0);
    this.held = new Array<number>(size).fill(0);
  }

  /** Copies of open sessions the threads hold, all sessions together. */
  copies(): number {
    return this.held.reduce((a, b) => a + b, 0);
  }

  async createSession(bytes: Uint8Array): Promise<ModelSession & { lastRunThreadId(): number; copies(): number }> {
    const copies: (ThreadSession | undefined)[] = new Array(this.size);
    const opening = new Set<number>();
    let released = false;
    const open = async (k: number) => {
      opening.add(k);
      this.held[k]++;
      let s: ThreadSession;
      const creating = this.threads[k].createSession(bytes);
      this.opening.add(creating);
      try {
        s = await creating;
      } catch (err) {
        this.held[k]--;
        throw err;
      } finally {
        opening.delete(k);
        this.opening.delete(creating);
      }
      if (released) {
        // released while this copy was opening
        this.held[k]--;
        await s.release?.();
      } else copies[k] = s;
      return s;
    };
    // the first idle thread, else the least busy: a server asked one thing at a time runs on one thread only
    let first = 0;
    for (let i = 1; i < this.size; i++) if (this.busy[i] < this.busy[first]) first = i;
    const s0 = await open(first);
    let last = -1;
    return {
      inputNames: s0.inputNames,
      outputNames: s0.outputNames,
      concurrency: this.size,
      run: async (feeds, stats, outputs) => {
        if (released) throw new Error('onnxruntime session was released');
        let k = -1;
        for (let i = 0; i < this.size; i++) if (copies[i] && (k < 0 || this.busy[i] < this.busy[k])) k = i;
        if (this.busy[k] > 0) {
          // every holder is busy: copy the session to an idle thread for the runs after this one
          const idle = this.busy.findIndex((b, i) => b === 0 && !copies[i] && !opening.has(i));
          if (idle >= 0) open(idle).catch((err) => console.error('copying an onnxruntime session to another thread:', err));
        }
        const copy = copies[k]!;
        this.busy[k]++;
        try {
          const out = await copy.run(feeds, stats, outputs);
          last = copy.lastRunThreadId();
          return out;
        } finally {
          this.busy[k]--;
        }
      },
      release: async () => {
        if (released) return;
        released = true;
        const open = copies.flatMap((c, k) => (c ? [[c, k] as const] : []));
        copies.fill(undefined);
        for (const [, k] of open) this.held[k]--;
        await Promise.all(open.map(([c]) => c.release?.()));
      },
      lastRunThreadId: () => last,
      copies: () => copies.filter(Boolean).length,
    };
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.opening]);
    await Promise.all(this.threads.map((t) => t.close()));
  }
}

/**
 * How many onnxruntime threads the Node server runs: EDGEGEN_ORT_THREADS, else
 * the machine's cores up to 4 (each holds a copy of every open session).
 */
export function ortThreadCount(env: Record<string, string | undefined> = process.env): number {
  const v = env.EDGEGEN_ORT_THREADS;
  if (v === undefined || v === '') return Math.max(1, Math.min(4, availableParallelism()));
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new Error(`EDGEGEN_ORT_THREADS must be a whole number from 1 to 64, got '${v}'`);
  return n;
}

let shared: OrtPool | undefined;
/** The process's onnxruntime threads (ortThreadCount() of them), started on first use. */
export function ortPool(): OrtPool {
  return (shared ??= new OrtPool(ortThreadCount()));
}
