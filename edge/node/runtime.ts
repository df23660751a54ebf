/**
 * The Node runtime: models read from a folder on disk, sessions from
 * onnxruntime-node (the one file of the Node adapter that imports it), run on
 * a pool of threads of their own (thread.mjs), and large JSON answers written
 * on another thread. What each buys, measured: SERVING.md, "Node".
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { Owned, feedData, type MemoryReport, type Runtime, type Session, type Tensor } from '../engine';
import { JsonBytes } from '../float32';

export interface NodeRuntimeOptions {
  /**
   * Run graphs on onnxruntime's own threads (OrtPool: EDGEGEN_ORT_THREADS of
   * them, default the cores up to 4), not the main one. Default: on.
   */
  ortThread?: boolean;
  /**
   * onnxruntime's CPU arena and memory patterns (sessionOptions). Default: off,
   * which measured ~300-400 MiB less resident memory after the worst mix at no
   * speed the bench could show (SERVING.md, "Node's resident memory").
   */
  arena?: boolean;
}

export function nodeRuntime(modelsDir: string, opts: NodeRuntimeOptions = {}): Runtime {
  const threaded = opts.ortThread ?? true;
  const options = sessionOptions({ arena: opts.arena });
  outsideJsAtStart ??= outsideJs();
  const root = resolve(modelsDir);
  return {
    name: 'node',
    async loadBytes(path) {
      const full = resolve(join(root, path));
      if (!full.startsWith(root + '/')) return null; // never read outside the models folder
      try {
        return new Uint8Array(await readFile(full));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw err;
      }
    },
    createSession: threaded ? (bytes) => ortPool().createSession(bytes, options) : (bytes) => createNodeSession(bytes, options),
    memory: () => nodeMemory(threaded ? ortPool().copies() : undefined),
  };
}

// ---------------------------------------------------------------------------
// Memory for /healthz

/** What the Node process holds outside V8's heap and the array buffers it knows of, bytes. */
function outsideJs(): number {
  const u = process.memoryUsage();
  return u.rss - u.heapTotal - u.external;
}
/** the same when the first runtime was made, before any session opened */
let outsideJsAtStart: number | undefined;

/** The process's peak resident set (VmHWM), where /proc tells it. */
function rssPeak(): number | undefined {
  try {
    const kb = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    return undefined;
  }
}

/**
 * /healthz's memory on Node. onnxruntime-node allocates with the C allocator,
 * out of V8's sight, so its sessions and run buffers show only in the resident
 * set: nativeBytes is that share, the growth of the resident memory outside
 * V8's heap and array buffers since the runtime was made.
 */
function nodeMemory(sessionCopies: number | undefined): MemoryReport {
  const u = process.memoryUsage();
  const peak = rssPeak();
  return {
    jsHeapBytes: u.heapUsed,
    rssBytes: u.rss,
    nativeBytes: Math.max(0, outsideJs() - (outsideJsAtStart ?? 0)),
    ...(peak === undefined ? {} : { rssPeakBytes: peak }),
    ...(sessionCopies === undefined ? {} : { sessionCopies }),
  };
}

// ---------------------------------------------------------------------------
// onnxruntime-node

/**
 * One intra-op thread per session (as the Python peer in bench/peer.py): the
 * process serves many requests at once and batching (engine.ts) gives the
 * kernels their size; all graph optimisations on. onnxruntime's CPU arena and
 * memory patterns are off unless `arena`: the arena grows to the largest run
 * a session has seen and keeps it (a copy per onnxruntime thread), which
 * after the worst request mix held the Node server at ~1 GiB resident (peak
 * 1.5 GiB) for ~15 MB of JS heap (SERVING.md, "Memory").
 */
export function sessionOptions({ arena = false }: { arena?: boolean } = {}): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: 1,
    enableCpuMemArena: arena,
    enableMemPattern: arena,
  };
}

/** A session run on the calling (main) thread: onnxruntime-node blocks it for the whole graph. */
export async function createNodeSession(bytes: Uint8Array, options = sessionOptions()): Promise<Session> {
  const session = await ort.InferenceSession.create(bytes, options);
  return {
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    async run(feeds, wanted) {
      const inputs: Record<string, ort.Tensor> = {};
      for (const [name, t] of Object.entries(feeds)) inputs[name] = new ort.Tensor('float32', feedData(t), t.dims);
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

// ---------------------------------------------------------------------------
// Threads

type Reply = { id: number; ok: true; value: unknown } | { id: number; ok: false; message: string };

/** A typed array that is the whole of a buffer it may hand over (not a view, not shared). */
const wholeBuffer = (a: Float32Array) => a.byteOffset === 0 && a.byteLength === a.buffer.byteLength && !(a.buffer instanceof SharedArrayBuffer);

/**
 * Calls to a worker thread by message: { id, ...msg } out, { id, ok, value |
 * message } back. The thread starts on the first call, does not keep the
 * process alive while nothing is asked of it, and when it dies every call in
 * flight fails and the next call starts a new one.
 */
export class ThreadCalls {
  private worker: Worker | undefined;
  private pending = new Map<number, { ok: (v: unknown) => void; fail: (e: Error) => void }>();
  private next = 1;

  constructor(private readonly url: URL = new URL('./thread.mjs', import.meta.url)) {}

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

type ThreadSession = Session & { lastRunThreadId(): number };

/**
 * onnxruntime-node on a thread of its own (thread.mjs): the same library,
 * options and inputs, so the same numbers, but the main thread is free while a
 * graph runs, to read, check and draw the noise of the next requests and write
 * the answers of the last. Runs still go one at a time, on one core, as on the
 * main thread; on two cores Node then does its JavaScript and its graphs side
 * by side.
 */
export class OrtThread {
  private readonly thread = new ThreadCalls();

  async createSession(bytes: Uint8Array, options = sessionOptions()): Promise<ThreadSession> {
    const info = await this.thread.call<{ session: number; inputNames: string[]; outputNames: string[] }>({ op: 'create', bytes, options });
    let last = -1;
    return {
      inputNames: info.inputNames,
      outputNames: info.outputNames,
      run: async (feeds, outputs) => {
        // each feed goes over in a buffer of its own, handed over rather than cloned: the
        // structured clone of a batch's inputs cost the main thread ~1 ms a request, a copy
        // here a tenth of that. An Owned feed that is its whole buffer goes over as it is
        // (detached here); a lent one is copied, since its giver reads it again (MADE's z)
        const plain: Record<string, Tensor> = {};
        const transfer: ArrayBuffer[] = [];
        for (const [name, t] of Object.entries(feeds)) {
          const given = feedData(t);
          const data = t instanceof Owned && wholeBuffer(given) ? given : given.slice();
          plain[name] = { data, dims: t.dims };
          if (!transfer.includes(data.buffer as ArrayBuffer)) transfer.push(data.buffer as ArrayBuffer);
        }
        const out = await this.thread.call<{ outputs: Record<string, Tensor>; threadId: number }>({ op: 'run', session: info.session, feeds: plain, outputs }, transfer);
        last = out.threadId;
        return out.outputs;
      },
      release: () => this.thread.call<void>({ op: 'release', session: info.session }),
      /** the thread that answered the last run (tests) */
      lastRunThreadId: () => last,
    };
  }

  /** Stop the thread (its sessions with it). */
  close(): Promise<void> {
    return this.thread.close();
  }
}

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

  async createSession(bytes: Uint8Array, options = sessionOptions()): Promise<ThreadSession & { copies(): number }> {
    const copies: (ThreadSession | undefined)[] = new Array(this.size);
    const opening = new Set<number>();
    let released = false;
    const open = async (k: number) => {
      opening.add(k);
      this.held[k]++;
      let s: ThreadSession;
      const creating = this.threads[k].createSession(bytes, options);
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
        await s.release();
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
      run: async (feeds, outputs) => {
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
          const out = await copy.run(feeds, outputs);
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
        await Promise.all(open.map(([c]) => c.release()));
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

let sharedPool: OrtPool | undefined;
/** The process's onnxruntime threads (ortThreadCount() of them), started on first use. */
export function ortPool(): OrtPool {
  return (sharedPool ??= new OrtPool(ortThreadCount()));
}

// ---------------------------------------------------------------------------
// JSON answers

/**
 * Large JSON answers written on a thread of their own (thread.mjs): a
 * 64-image flow sample is 50k float32 values, ~3 ms of digit writing that
 * would otherwise hold the main thread (the largest part of its time per
 * request in that case). Same JsonBytes code, same bytes (json.test.ts).
 * Small answers stay on the main thread: the messages cost more than they do.
 */

/** Answers of fewer values than this are written on the calling thread. */
export const THREAD_FROM_VALUES = 8192;

const inLine = (data: Float32Array, n: number, width: number, before = '', after = '') =>
  new JsonBytes(n * width * 10 + before.length + after.length + 2).ascii(before).rows(data, n, width).ascii(after).bytes();

export class JsonThread {
  private readonly thread: ThreadCalls;
  /** answers written on the thread so far */
  threadWrites = 0;
  /** set once the thread has failed: every answer is written in line from then on */
  private broken = false;

  /** `script`: the thread's module (tests point it at one that cannot start) */
  constructor(script = new URL('./thread.mjs', import.meta.url)) {
    this.thread = new ThreadCalls(script);
  }

  /**
   * `before`, the rows as JSON (JsonBytes.rows), then `after`: on the thread
   * when the rows are large. The rows are handed over: once the thread has
   * answered, rows that are a whole buffer go over as they are; until then, and
   * for views, a copy, so they are still here to write in line if the thread
   * cannot start.
   */
  async rows(rows: Owned, before = '', after = ''): Promise<Uint8Array> {
    const [n, width] = rows.dims;
    const data = rows.take();
    if (n * width < THREAD_FROM_VALUES || this.broken) return inLine(data, n, width, before, after);
    this.threadWrites++;
    const own = wholeBuffer(data) && data.length === n * width && this.answered ? data : data.slice(0, n * width);
    try {
      const { buffer, length } = await this.thread.call<{ buffer: ArrayBuffer; length: number }>({ op: 'json', data: own, n, width, before, after }, [own.buffer as ArrayBuffer]);
      this.answered = true;
      return new Uint8Array(buffer, 0, length);
    } catch (err) {
      if (!this.broken) console.error('JSON thread unavailable, writing answers in line:', err);
      this.broken = true;
      // a thread that died with the rows' own buffer leaves nothing to write from: this request fails
      if (data.length !== n * width) throw err;
      return inLine(data, n, width, before, after);
    }
  }

  /** set once the thread has answered: from then on whole buffers go over without a copy */
  private answered = false;

  close(): Promise<void> {
    return this.thread.close();
  }
}

let sharedJson: JsonThread | undefined;
/** The process's one JSON thread, started on first use. */
export function jsonThread(): JsonThread {
  return (sharedJson ??= new JsonThread());
}

/** The app's `writeJson` on Node: large answers written on the process's JSON thread. */
export const writeJsonOnThread = (rows: Owned, before: string, after: string): Promise<Uint8Array> => jsonThread().rows(rows, before, after);
