/**
 * The serving engine: everything between a validated request and onnxruntime,
 * written once for both runtimes. The HTTP layer (app.ts, routes.ts) asks it
 * for a model's manifest and for one operation (sample, decode, interpolate,
 * density, encode); it answers float32 rows. Inside: the models (index,
 * manifests, sessions, loaded lazily and cached per isolate or process; each
 * model file checked against its manifest's sha256), the session LRU and the
 * admission bound, dynamic batching and runs in pieces, the seeded noise
 * (core/prng.ts, drawn before any batching) and the graph protocol
 * (core/protocol.ts). A runtime plugs in through `Runtime`: reading model
 * files, opening an onnxruntime session and running it, reporting memory.
 *
 * Sections: tensors and who owns them; the Runtime; errors; Server-Timing;
 * the work budget; batching; the Engine.
 */
import type { z } from 'zod';
import { API_LIMITS, type ApiError, type DensityResponse, type ModelLimits, type Operation } from '../core/api';
import { ERROR_CODES, type DecodeRequest, type DensityRequest, type EncodeRequest, type ErrorCode, type InterpolateRequest, type SampleRequest } from '../core/contract';
import type { Capability, DensityKind, Dtype, Manifest, ManifestFile, ModelIndex } from '../core/manifest';
import { Prng } from '../core/prng';
import { dataDim, densityClassFactor, densityInputs, dtypeOf, graphEntry, importanceSampled, runDensity, runEncode, runSample, sampleLabelsFor, sampleNoiseFor, samplePasses, sampleWork, slerp, takesObservationNoise, temperatureOf, type RunGraph } from '../core/protocol';
import { JsonBytes, float32Json } from './float32';

// ---------------------------------------------------------------------------
// Tensors and who owns them

/**
 * A dense float32 tensor, row-major, lent: whoever receives it reads it during
 * the call and keeps nothing; the giver goes on reading it (MADE feeds one z
 * to D runs).
 */
export interface Tensor {
  readonly data: Float32Array;
  readonly dims: number[];
}

/**
 * A tensor given away with its buffer. The receiver may keep the memory (Node
 * transfers it to an onnxruntime thread instead of copying it); the giver may
 * not read it again, and `data` throws once it has been taken. Make one where
 * the buffer is the caller's own and nothing reads it after the call: a
 * one-pass sample's noise, a batch's stacked inputs, an answer's rows.
 */
export class Owned implements Tensor {
  #data: Float32Array | undefined;

  constructor(
    data: Float32Array,
    readonly dims: number[],
  ) {
    this.#data = data;
  }

  /** The values, while this holder still has them. */
  get data(): Float32Array {
    if (!this.#data) throw new Error('this buffer was handed over; whoever gave it away may not read it again');
    return this.#data;
  }

  /** Take the buffer: from now on only the taker reads it. */
  take(): Float32Array {
    const data = this.data;
    this.#data = undefined;
    return data;
  }
}

/** A feed's values for a run: an Owned feed's buffer is taken, a lent one is read where it is. */
export const feedData = (t: Tensor): Float32Array => (t instanceof Owned ? t.take() : t.data);

/** The named inputs of one run; each is lent (Tensor) or handed over (Owned). */
export type Feeds = Record<string, Tensor>;

// ---------------------------------------------------------------------------
// What a runtime supplies

/** An onnxruntime session, as a runtime opens it. */
export interface Session {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Runs it takes at once (Node's onnxruntime threads); absent: 1, one after another. */
  readonly concurrency?: number;
  /**
   * One graph run. Owned feeds become the session's; the outputs are the
   * caller's. `outputs`: the outputs the caller reads (absent: all); a session
   * may return only those.
   */
  run(feeds: Feeds, outputs?: readonly string[]): Promise<Record<string, Tensor>>;
  /** Free the session's native or wasm memory; it must not run afterwards. */
  release(): Promise<void>;
}

/** What /healthz reports of the process or isolate's memory, in bytes. */
export interface MemoryReport {
  /** onnxruntime's wasm linear memory (the Worker; it grows and never shrinks) */
  wasmBytes?: number;
  /** the JS heap in use, where the runtime tells it */
  jsHeapBytes?: number;
  /** resident set of the whole process (Node) */
  rssBytes?: number;
  /** Node: the resident set's peak (VmHWM) */
  rssPeakBytes?: number;
  /** Node: what the resident set grew by outside V8's heap and array buffers: onnxruntime's share */
  nativeBytes?: number;
  /** Node: copies of open sessions on the onnxruntime threads */
  sessionCopies?: number;
}

/** What the engine tells a runtime about a graph file it opens. */
export interface GraphInfo {
  /** the precision of its weights: float32, or a quantised copy's (the manifest's variants) */
  precision: Dtype;
}

/** What the engine needs from a runtime, and all that differs between Node and workerd. */
export interface Runtime {
  /** 'node' or 'workerd', reported by /healthz */
  readonly name: 'node' | 'workerd';
  /**
   * Bytes of a file under the models root ('index.json', '<id>/manifest.json',
   * '<id>/sample.onnx'), or null when there is no such file.
   */
  loadBytes(path: string): Promise<Uint8Array | null>;
  /** Parse an ONNX model into a session ready to run; `graph` says what the file holds (the Worker opens int8 graphs differently). */
  createSession(bytes: Uint8Array, graph: GraphInfo): Promise<Session>;
  /** Memory figures for /healthz and the bench. */
  memory(): MemoryReport;
}

// ---------------------------------------------------------------------------
// Errors: every error the API answers has this shape, { error: { code, message, limit? } }

export class HttpError extends Error {
  readonly status: (typeof ERROR_CODES)[ErrorCode];

  constructor(
    status: number,
    readonly code: ErrorCode,
    message: string,
    readonly limit?: number,
    /** headers the answer carries besides the JSON (503: retry-after) */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    // the status goes with the code (core/contract.ts); a mismatch is a bug here, not in the request
    if (status !== ERROR_CODES[code]) throw new Error(`error code ${code} is ${ERROR_CODES[code]}, not ${status}`);
    this.status = ERROR_CODES[code];
  }

  body(): ApiError {
    const error: ApiError['error'] = { code: this.code, message: this.message };
    if (this.limit !== undefined) error.limit = this.limit;
    return { error };
  }
}

export const badRequest = (code: ErrorCode, message: string, limit?: number) => new HttpError(400, code, message, limit);

// ---------------------------------------------------------------------------
// Server-Timing

/**
 * Where a request's time goes, sent back as a Server-Timing header on every
 * answer: parse (routing, body read, validation), noise (seeded draws), run
 * (the graph, including the wait for a batch), encode (JSON, float32 or PNG),
 * plus how many requests shared the graph run (batch). Laps are wall time from
 * performance.now(); under workerd the clock only moves on I/O (a Spectre
 * mitigation), so there CPU phases can read 0 and only the run, which crosses
 * the batcher's timer, shows.
 */
export type Phase = 'parse' | 'noise' | 'run' | 'encode';

export class Phases {
  private readonly ms: Record<Phase, number> = { parse: 0, noise: 0, run: 0, encode: 0 };
  private last = performance.now();
  private readonly start = this.last;
  /** requests that shared the last graph run with this one (1: it ran alone) */
  batch = 0;
  /** graph runs the request took (pieces of ServeOptions.runMaxRows rows, a density's chunks of draws); shown when over 1 */
  pieces = 0;
  /** first use of a session in this isolate: its steps (load, sha256, session), ms, inside `run` */
  readonly open: Record<string, number> = {};

  /** Charge the time since the previous lap to `phase`. */
  lap(phase: Phase): void {
    const now = performance.now();
    this.ms[phase] += now - this.last;
    this.last = now;
  }

  get(phase: Phase): number {
    return this.ms[phase];
  }

  header(): string {
    const parts = (Object.keys(this.ms) as Phase[]).map((p) => `${p};dur=${this.ms[p].toFixed(2)}`);
    parts.push(`total;dur=${(this.last - this.start).toFixed(2)}`);
    for (const [k, v] of Object.entries(this.open)) parts.push(`${k};dur=${v.toFixed(2)}`);
    if (this.batch) parts.push(`batch;desc="${this.batch}"`);
    if (this.pieces > 1) parts.push(`pieces;desc="${this.pieces}"`);
    return parts.join(', ');
  }
}

// ---------------------------------------------------------------------------
// The work budget

/**
 * The work budget of one request: every endpoint states what it would cost in
 * float "units" (rows x importance draws x values per row), and a request over
 * the budget is refused (400 over_budget, the bound in `limit`) once the model
 * is known and before anything runs, so no single request can ask for more
 * than a fixed amount of work whatever the model.
 */
/** Sums of rows * k the VAE density may compute in one request (eps is rows x k x latentDim floats). */
export const MAX_DENSITY_DRAWS = 65_536;

/**
 * Most units of work one request may ask for. A unit is one data-space value
 * the model produces or consumes: rows x dataDim, times k for the VAE density
 * (each importance draw decodes a whole row) and times the classes for a
 * conditional density that runs each row once per class, times D for sampling from an
 * autoregressive family (one pass of the graph per dimension). 2^20 (4 MiB of float32 per
 * data-sized tensor) lets every model take the full 1024 rows of a sample,
 * encode or flow density, and bounds the VAE density of an MNIST model to
 * rows x k <= 1337 draws (a toy VAE is bounded by MAX_DENSITY_DRAWS first).
 */
export const MAX_WORK_UNITS = 1_048_576;

export function checkBudget(units: number, budget: number, what: string): void {
  if (!(units <= budget)) {
    throw badRequest('over_budget', `this request asks for ${what} = ${units}; at most ${budget} per request`, budget);
  }
}

type Body<S extends z.ZodType> = z.output<S>;

/** Rows through the sample graph: rows x dataDim, times what an autoregressive family's sampling costs in passes (core/protocol.ts samplePasses). */
function sampleBudget(rows: number, what: string, m: Manifest): void {
  const passes = samplePasses(m);
  const how = passes > 1 ? `${what} x dataDim x passes (${rows} x ${dataDim(m)} x ${passes}, the cost of sampling one dimension at a time)` : `${what} x dataDim (${rows} x ${dataDim(m)})`;
  checkBudget(sampleWork(m, rows), MAX_WORK_UNITS, `units of work, ${how}`);
}

/** What each request costs, checked against MAX_WORK_UNITS (and, for the VAE density, MAX_DENSITY_DRAWS). */
export const budget = {
  sample: (b: Body<typeof SampleRequest>, m: Manifest) => sampleBudget(b.n, 'n', m),
  decode: (b: Body<typeof DecodeRequest>, m: Manifest) => sampleBudget(b.z.length, 'rows', m),
  interpolate: (b: Body<typeof InterpolateRequest>, m: Manifest) => sampleBudget(b.steps, 'steps', m),
  encode: (b: Body<typeof EncodeRequest>, m: Manifest) =>
    checkBudget(b.x.length * dataDim(m), MAX_WORK_UNITS, `units of work, rows x dataDim (${b.x.length} x ${dataDim(m)})`),
  density: (b: Body<typeof DensityRequest>, m: Manifest) => {
    const rows = b.x.length;
    // a conditional VAE or MADE evaluates every row once per class
    const c = densityClassFactor(m);
    const per = c > 1 ? ` x classes` : '';
    const perN = c > 1 ? ` x ${c}` : '';
    if (!importanceSampled(m)) return checkBudget(rows * dataDim(m) * c, MAX_WORK_UNITS, `units of work, rows x dataDim${per} (${rows} x ${dataDim(m)}${perN})`);
    checkBudget(rows * b.k * c, MAX_DENSITY_DRAWS, `importance draws, rows x k${per} (${rows} x ${b.k}${perN})`);
    checkBudget(rows * b.k * dataDim(m) * c, MAX_WORK_UNITS, `units of work, rows x k x dataDim${per} (${rows} x ${b.k} x ${dataDim(m)}${perN})`);
  },
};

type Listed = Pick<Manifest, 'family' | 'shape' | 'capabilities' | 'classes'>;

/**
 * The largest request of each kind one model takes, from the same bounds as
 * `budget`: what GET /v1/models states so a client never learns a limit by
 * failing. `interpolate` is absent where even its 2 steps are over budget.
 */
export function limitsOf(m: Listed): ModelLimits {
  const D = dataDim(m);
  const c = densityClassFactor(m);
  const samples = Math.floor(MAX_WORK_UNITS / (D * samplePasses(m)));
  const rows = Math.min(API_LIMITS.maxRows, Math.floor(MAX_WORK_UNITS / (D * c)), importanceSampled(m) ? Math.floor(MAX_DENSITY_DRAWS / c) : Infinity);
  const out: ModelLimits = { sample: m.capabilities.includes('sample') ? Math.min(API_LIMITS.maxSamples, samples) : 0, rows };
  if (importanceSampled(m)) out.k = Math.min(API_LIMITS.maxImportanceSamples, Math.floor(MAX_DENSITY_DRAWS / c), Math.floor(MAX_WORK_UNITS / (D * c)));
  const steps = Math.min(API_LIMITS.maxSteps, samples);
  if (m.capabilities.includes('sample') && steps >= 2) out.interpolate = steps;
  return out;
}

/** The POST operations a model answers (the rest answer 422 with the reason). */
export function operationsOf(m: Listed): Operation[] {
  const ops: Operation[] = [];
  const has = (c: Manifest['capabilities'][number]) => m.capabilities.includes(c);
  if (has('sample')) ops.push('sample');
  if (has('density')) ops.push('density', 'score');
  if (has('density') && m.classes) ops.push('classify');
  if (has('encode')) ops.push('encode');
  if (has('sample')) ops.push('decode');
  if (limitsOf(m).interpolate !== undefined) ops.push('interpolate');
  return ops;
}
// ---------------------------------------------------------------------------
// Dynamic batching

/**
 * Dynamic batching of one session (one model + capability) inside the isolate
 * or process. Every graph edgegen ships is row-wise: each input and output has
 * the rows as its first dimension and no row looks at another. So concurrent
 * runs whose inputs agree on everything but the row count are stacked along
 * dimension 0, run once, and each caller gets its own rows back. Each request
 * draws its noise from its own seed before it gets here (Engine.sample), so
 * its answer is the one it would get alone (SERVING.md: bit for bit).
 *
 * A run waits at most `waitMs` for company, and only when it is small (fewer
 * than `waitBelowRows` rows: a large one fills the kernels by itself, and the
 * wait would only add latency) and the batch is not full; what queues while
 * the session is busy goes out as the next batch, with no wait. A batch stays within `maxUnits` (the work budget's units, so no
 * run is larger than the largest single request) and `maxRows`. A job that
 * does not fit with others runs on its own.
 */
/** What a request learns of its run: how many requests shared it, and in how many pieces it ran. */
export interface RunStats {
  batch: number;
  /** graph runs the request took, added up over its runs (pieces of maxRunRows, a density's chunks of draws); unset: none yet */
  pieces?: number;
}

export interface BatchOptions {
  /** longest wait for other requests when the session is idle, ms (0: the next tick) */
  waitMs: number;
  /** a job of this many rows or more does not wait for company */
  waitBelowRows: number;
  /** a job of this many rows or more never joins a batch (Infinity: any may) */
  aloneFromRows: number;
  /** most rows one batched run may carry */
  maxRows: number;
  /**
   * most graph rows one run carries (a request row weighs `rowWeight`): a
   * larger request or batch runs in pieces, one after another, each of at
   * least one request row (Infinity: never split). Bounds the activations'
   * memory, which in wasm never shrinks once grown.
   */
  maxRunRows?: number;
  /** most work units (see `units`) one batched run may carry */
  maxUnits: number;
  /** units of work of one row of these feeds (the engine passes dataDim x rowWeight) */
  unitsPerRow: (feeds: Record<string, Tensor>) => number;
  /** graph rows one request row of these feeds makes (the VAE density's k draws times the classes it tiles); absent: 1 */
  rowWeight?: (feeds: Record<string, Tensor>) => number;
}

/**
 * Run `fn` after `ms`; 0 means "once the requests already read are handled":
 * setImmediate where there is one (Node clamps setTimeout to >= 1 ms, which a
 * lone request would wait for), else setTimeout(0) (workerd).
 */
function later(fn: () => void, ms: number): { cancel(): void } {
  const immediate = (globalThis as { setImmediate?: (f: () => void) => unknown; clearImmediate?: (h: unknown) => void }).setImmediate;
  if (ms === 0 && immediate) {
    const h = immediate(fn);
    return { cancel: () => (globalThis as { clearImmediate?: (h: unknown) => void }).clearImmediate?.(h) };
  }
  const t = setTimeout(fn, ms);
  return { cancel: () => clearTimeout(t) };
}

interface Job {
  feeds: Record<string, Tensor>;
  rows: number;
  units: number;
  key: string;
  stats?: RunStats;
  outputs?: readonly string[];
  resolve: (out: Record<string, Tensor>) => void;
  reject: (err: unknown) => void;
}

/** The inputs' names and every dimension but the rows: jobs with equal keys can share a run. */
function keyOf(feeds: Record<string, Tensor>): string | null {
  let rows = -1;
  const parts: string[] = [];
  for (const name of Object.keys(feeds).sort()) {
    const { dims, data } = feeds[name];
    if (dims.length === 0) return null;
    if (rows === -1) rows = dims[0];
    if (dims[0] !== rows || data.length !== dims.reduce((a, b) => a * b, 1)) return null;
    parts.push(`${name}:${dims.slice(1).join('x')}`);
  }
  return rows > 0 ? parts.join(';') : null;
}

/** One session (model + capability) with dynamic batching and runs in pieces in front of it. */
export class BatchingSession {
  private queue: Job[] = [];
  /** batches running now: at most the inner session's concurrency */
  private inFlight = 0;
  /** the inner session's: how many batches run at once */
  readonly concurrency: number;
  private timer: { cancel(): void } | undefined;
  /** requests holding this session (Engine.use): the LRU never releases one in use */
  users = 0;
  released = false;
  /** set when a graph's outputs turned out not to be row-wise: run alone from then on */
  private rowwise = true;

  constructor(
    private readonly inner: Session,
    private readonly opts: BatchOptions,
  ) {
    this.concurrency = Math.max(1, inner.concurrency ?? 1);
  }

  async run(feeds: Record<string, Tensor>, stats?: RunStats, outputs?: readonly string[]): Promise<Record<string, Tensor>> {
    const inputs = this.rowwise ? keyOf(feeds) : null;
    // jobs share a run only when they read the same outputs
    const key = inputs === null ? null : `${inputs}|${outputs?.join(',') ?? '*'}`;
    const rows = feeds[Object.keys(feeds)[0]]?.dims[0] ?? 0;
    if (this.released) throw new Error('session was released');
    if (key === null || rows >= this.opts.aloneFromRows) return this.alone(feeds, stats, outputs);
    // workerd cancels a request as hung when nothing of its own is pending, even
    // though another request's run will answer it: hold a timer of our own meanwhile
    const hold = setTimeout(() => {}, 600_000);
    try {
      return await new Promise<Record<string, Tensor>>((resolve, reject) => {
        this.queue.push({ feeds, rows, units: rows * this.opts.unitsPerRow(feeds), key, stats, outputs, resolve, reject });
        this.schedule();
      });
    } finally {
      clearTimeout(hold);
    }
  }

  release(): Promise<void> {
    this.released = true;
    return this.inner.release();
  }

  private async alone(feeds: Record<string, Tensor>, stats?: RunStats, outputs?: readonly string[]) {
    if (stats) stats.batch = 1;
    return this.inPieces(feeds, stats ? [stats] : [], outputs);
  }

  /**
   * One run of the inner session, or, over maxRunRows graph rows (request
   * rows times `rowWeight`), consecutive runs of row slices with their outputs
   * stacked back: for a row-wise graph the
   * same rows (every shipped graph gives the same bits in pieces of 256 on
   * onnxruntime-web wasm, serving.cases.ts checks it through the API).
   */
  private async inPieces(feeds: Record<string, Tensor>, stats: RunStats[], outputs?: readonly string[]): Promise<Record<string, Tensor>> {
    const max = Math.max(1, Math.floor((this.opts.maxRunRows ?? Infinity) / (this.opts.rowWeight?.(feeds) ?? 1)));
    const rows = feeds[Object.keys(feeds)[0]]?.dims[0] ?? 0;
    if (!(rows > max) || !this.rowwise || keyOf(feeds) === null) {
      for (const st of stats) st.pieces = (st.pieces ?? 0) + 1;
      return this.inner.run(feeds, outputs);
    }
    const parts: Record<string, Tensor>[] = [];
    for (let start = 0; start < rows; start += max) {
      const end = Math.min(rows, start + max);
      const slice: Record<string, Tensor> = {};
      for (const [name, t] of Object.entries(feeds)) {
        const width = t.data.length / rows;
        slice[name] = { data: t.data.subarray(start * width, end * width), dims: [end - start, ...t.dims.slice(1)] };
      }
      const out = await this.inner.run(slice, outputs);
      if (!Object.values(out).every((t) => t.dims[0] === end - start && t.data.length % (end - start) === 0)) {
        // not row-wise after all: never split or batch it again, and run it whole
        this.rowwise = false;
        return this.inner.run(feeds, outputs);
      }
      parts.push(out);
    }
    for (const st of stats) st.pieces = (st.pieces ?? 0) + parts.length;
    const result: Record<string, Tensor> = {};
    for (const name of Object.keys(parts[0])) {
      const width = parts[0][name].data.length / parts[0][name].dims[0];
      const data = new Float32Array(rows * width);
      let offset = 0;
      for (const part of parts) {
        data.set(part[name].data, offset);
        offset += part[name].data.length;
      }
      result[name] = { data, dims: [rows, ...parts[0][name].dims.slice(1)] };
    }
    return result;
  }

  private schedule(): void {
    if (this.inFlight >= this.concurrency || !this.queue.length) return;
    const head = this.queue[0];
    let rows = 0;
    let units = 0;
    for (const j of this.queue) {
      if (j.key !== head.key) continue;
      rows += j.rows;
      units += j.units;
    }
    if (rows >= this.opts.maxRows || units >= this.opts.maxUnits || rows >= this.opts.waitBelowRows) {
      this.timer?.cancel();
      this.timer = undefined;
      void this.flush();
    } else {
      this.timer ??= later(() => {
        this.timer = undefined;
        void this.flush();
      }, this.opts.waitMs);
    }
  }

  /** Take the head job and every later one that fits beside it, run them as one, hand out the rows. */
  private async flush(): Promise<void> {
    if (this.inFlight >= this.concurrency || !this.queue.length) return;
    this.inFlight++;
    const head = this.queue[0];
    const batch: Job[] = [];
    const rest: Job[] = [];
    let rows = 0;
    let units = 0;
    // with room for several runs, a batch takes its share of the queue, not all of it: the
    // next free run then finds work instead of idling beside one large batch. Small runs
    // (under waitBelowRows rows, the ones that wait for company) still fill up first.
    let queued = 0;
    for (const j of this.queue) if (j.key === head.key) queued += j.rows;
    const share = Math.max(Math.ceil(queued / this.concurrency), this.opts.waitBelowRows);
    for (const j of this.queue) {
      const fits = j.key === head.key && (batch.length === 0 || (rows < share && rows + j.rows <= this.opts.maxRows && units + j.units <= this.opts.maxUnits));
      if (fits) {
        batch.push(j);
        rows += j.rows;
        units += j.units;
      } else rest.push(j);
    }
    this.queue = rest;
    // what did not fit goes out beside this batch while the inner session has room
    if (rest.length) void this.flush();
    try {
      if (batch.length === 1) {
        const j = batch[0];
        await this.alone(j.feeds, j.stats, j.outputs).then(j.resolve, j.reject);
      } else {
        await this.together(batch, rows);
      }
    } finally {
      this.inFlight--;
      // what queued while we ran has waited already: out it goes, no timer
      if (this.queue.length) void this.flush();
    }
  }

  private async together(batch: Job[], rows: number): Promise<void> {
    const feeds: Record<string, Tensor> = {};
    for (const name of Object.keys(batch[0].feeds)) {
      const dims = [rows, ...batch[0].feeds[name].dims.slice(1)];
      const data = new Float32Array(dims.reduce((a, b) => a * b, 1));
      let offset = 0;
      for (const j of batch) {
        data.set(j.feeds[name].data, offset);
        offset += j.feeds[name].data.length;
      }
      // the stacked copy is the batch's own: handed over to the run
      feeds[name] = new Owned(data, dims);
    }
    let out: Record<string, Tensor>;
    try {
      out = await this.inPieces(feeds, batch.flatMap((j) => (j.stats ? [j.stats] : [])), batch[0].outputs);
    } catch (err) {
      for (const j of batch) j.reject(err);
      return;
    }
    if (!Object.values(out).every((t) => t.dims[0] === rows && t.data.length % rows === 0)) {
      // not a row-wise graph after all: never batch it again, and answer each job from its own run
      this.rowwise = false;
      for (const j of batch) await this.alone(j.feeds, j.stats, j.outputs).then(j.resolve, j.reject);
      return;
    }
    let start = 0;
    for (const j of batch) {
      const result: Record<string, Tensor> = {};
      for (const [name, t] of Object.entries(out)) {
        const width = t.data.length / rows;
        result[name] = { data: t.data.subarray(start * width, (start + j.rows) * width), dims: [j.rows, ...t.dims.slice(1)] };
      }
      start += j.rows;
      if (j.stats) j.stats.batch = batch.length;
      j.resolve(result);
    }
  }
}
// ---------------------------------------------------------------------------
// The Engine

/**
 * How much one isolate or process holds and runs at once: constructor options
 * (createApp's `serve`), never environment settings. The defaults keep a
 * Worker isolate well under Cloudflare's 128 MB (SERVING.md, "Memory"); the
 * Worker sets batchAloneFromRows and maxSessionBytes (worker/index.ts), tests and
 * benchmarks the rest.
 */
export interface ServeOptions {
  /** batching: longest wait for company when the session is idle and the request small (under WAIT_BELOW_ROWS rows), ms */
  batchWaitMs: number;
  /** batching: most rows in one run */
  batchMaxRows: number;
  /**
   * batching: requests with this many rows or more always run alone. The
   * Worker sets 16: one wasm thread gains nothing from stacking large requests
   * (bench:peer measured 0.7-0.8x at 32-64 clients of n=64), while Node's
   * concurrent runs do (SERVING.md: 1.2-1.9x at 8-32 clients of an MNIST GAN,
   * n=64, with graphs on the main thread; 0.67-1.63x with them on their own
   * thread).
   */
  batchAloneFromRows: number;
  /**
   * most rows in one graph run: larger requests and batches run in pieces of
   * this many rows (same bits for row-wise graphs). 256 on both runtimes: in
   * the Worker a 1024-row conv VAE sample grew wasm memory by 27 MiB in one
   * run; on Node, 64 clients of the multi-scale flow's 64-image sample were
   * batched into runs of up to 4096 rows, whose cost per row is several times
   * a small run's: 1 848 samples/s, 10 071 in pieces of 256 (SERVING.md,
   * "Dynamic batching").
   */
  runMaxRows: number;
  /** open sessions kept at most; the least recently used idle one is released beyond it */
  maxSessions: number;
  /** model file bytes of the open sessions kept at most (weights live in wasm memory once each) */
  maxSessionBytes: number;
  /** work units (the work budget's) admitted at once, queued or running; beyond it: 503 overloaded with Retry-After */
  maxInFlightUnits: number;
}

/**
 * The Worker's bounds over the defaults (worker/index.ts says why each), here so
 * that bench/cpu.ts runs the Worker's code path in process with the same ones.
 */
export const WORKER_SERVE: Partial<ServeOptions> = { batchAloneFromRows: 16, maxSessionBytes: 12 * 1024 * 1024 };

/** Requests under this many rows wait batchWaitMs for company when the session is idle; larger ones fill the kernels alone. */
const WAIT_BELOW_ROWS = 16;

export const SERVE_DEFAULTS: ServeOptions = {
  batchWaitMs: 0,
  batchMaxRows: 4096,
  batchAloneFromRows: Infinity,
  runMaxRows: 256,
  maxSessions: 12,
  maxSessionBytes: 24 * 1024 * 1024,
  maxInFlightUnits: 4 * MAX_WORK_UNITS,
};

interface Open {
  session: BatchingSession;
  bytes: number;
}

const ID = /^[a-z0-9][a-z0-9._-]*$/i;

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
  let hex = '';
  for (const b of digest) hex += b.toString(16).padStart(2, '0');
  return hex;
}

/**
 * The serving engine of one isolate or process. The HTTP layer calls list(),
 * manifest(), require() and one operation per request (sample, decode,
 * interpolate, density, encode), each with the request's Phases; stats() is
 * /healthz's memory.
 */
export class Engine {
  private index?: Promise<ModelIndex>;
  private manifests = new Map<string, Promise<Manifest>>();
  private sessions = new Map<string, Promise<BatchingSession>>();
  /** sessions that opened, least recently used first */
  private open = new Map<string, Open>();
  private inFlight = 0;
  readonly options: ServeOptions;
  /** sessions released to stay within maxSessions / maxSessionBytes */
  evictions = 0;

  constructor(
    private readonly runtime: Runtime,
    options: Partial<ServeOptions> = {},
  ) {
    this.options = { ...SERVE_DEFAULTS, ...options };
  }

  /**
   * Admit `units` of work (the work budget's) or refuse with 503 overloaded and
   * Retry-After: what is queued and running stays bounded, so memory does too.
   * A lone request is always admitted (the budget already bounds it).
   * Call the returned function when the work is done.
   */
  admit(units: number): () => void {
    if (this.inFlight > 0 && this.inFlight + units > this.options.maxInFlightUnits) {
      throw new HttpError(
        503,
        'overloaded',
        `this ${this.runtime.name} instance has ${this.inFlight} units of work in flight (at most ${this.options.maxInFlightUnits}); retry in a second`,
        this.options.maxInFlightUnits,
        { 'retry-after': '1' },
      );
    }
    this.inFlight += units;
    let done = false;
    return () => {
      if (!done) this.inFlight -= units;
      done = true;
    };
  }

  /** What /healthz reports: the runtime's memory and what this engine holds. */
  stats() {
    let bytes = 0;
    for (const o of this.open.values()) bytes += o.bytes;
    return { ...this.runtime.memory(), sessions: this.open.size, sessionFileBytes: bytes, evictions: this.evictions, inFlightUnits: this.inFlight };
  }

  list(): Promise<ModelIndex> {
    // a failed load is not cached: the next request tries again
    this.index ??= this.readJson<ModelIndex>('index.json').then(
      (index) => {
        if (!index || !Array.isArray(index.models)) throw new HttpError(500, 'index_missing', 'models/index.json is missing or malformed');
        return index;
      },
    );
    this.index.catch(() => (this.index = undefined));
    return this.index;
  }

  async manifest(id: string): Promise<Manifest> {
    const index = await this.list();
    if (!ID.test(id) || !index.models.some((m) => m.id === id)) {
      throw new HttpError(404, 'model_not_found', `no model named '${id}'; GET /v1/models lists them`);
    }
    let pending = this.manifests.get(id);
    if (!pending) {
      pending = this.readJson<Manifest>(`${id}/manifest.json`).then((m) => {
        if (!m || m.id !== id) throw new HttpError(500, 'model_corrupt', `manifest of '${id}' is missing or names another model`);
        return m;
      });
      pending.catch(() => this.manifests.delete(id));
      this.manifests.set(id, pending);
    }
    return pending;
  }

  /** 422 with the manifest's reason when the family lacks the capability. */
  require(m: Manifest, capability: Capability, what: string = capability): void {
    if (!m.capabilities.includes(capability)) {
      const why = m.unavailable?.[capability] ?? `${m.family} models do not offer ${capability}`;
      throw new HttpError(422, 'capability_unavailable', `${m.id} cannot ${what}: ${why}`);
    }
  }

  /**
   * Run `fn` with the capability's session held: the LRU does not release a
   * session while a request uses it (an autoregressive sample runs it D times).
   */
  async use<T>(m: Manifest, capability: Capability, fn: (session: BatchingSession) => Promise<T>, steps?: Record<string, number>, dtype: Dtype = 'float32'): Promise<T> {
    let session = await this.session(m, capability, steps, dtype);
    // released between opening and now by another request's eviction: open it again
    if (session.released) session = await this.session(m, capability, steps, dtype);
    session.users++;
    try {
      return await fn(session);
    } finally {
      session.users--;
    }
  }

  /** The session of the capability's graph in `dtype`, opened on first use; `steps` gets the ms of each opening step when this call opens it. */
  session(m: Manifest, capability: Capability, steps?: Record<string, number>, dtype: Dtype = 'float32'): Promise<BatchingSession> {
    this.require(m, capability);
    const entry = graphFile(m, capability, dtype);
    const key = `${m.id}/${entry.file}`;
    let pending = this.sessions.get(key);
    if (!pending) {
      pending = this.openSession(m, entry, { precision: dtype }, steps).then((inner) => {
        const D = dataDim(m);
        // a row's graph rows: the middle dims of a rank-3 feed (the VAE's k importance draws),
        // times the classes a conditional density graph runs it in; its work, dataDim of each
        const perClass = capability === 'density' ? densityClassFactor(m) : 1;
        const rowWeight = (feeds: Record<string, Tensor>) =>
          perClass * Math.max(1, ...Object.values(feeds).map((t) => t.dims.slice(1, -1).reduce((a, b) => a * b, 1)));
        const unitsPerRow = (feeds: Record<string, Tensor>) => D * rowWeight(feeds);
        // an autoregressive sampler's steps are small products whose float32 sums
        // onnxruntime orders by batch size (measured: 1 ulp apart between a row alone
        // and the same row among 8): such runs go alone, so a seed's bits never depend
        // on who else asked at the same moment
        const alone = capability === 'sample' && samplePasses(m) > 1;
        const session = new BatchingSession(inner, {
          waitMs: this.options.batchWaitMs,
          waitBelowRows: WAIT_BELOW_ROWS,
          aloneFromRows: alone ? 1 : this.options.batchAloneFromRows,
          maxRows: this.options.batchMaxRows,
          maxRunRows: this.options.runMaxRows,
          maxUnits: MAX_WORK_UNITS,
          unitsPerRow,
          rowWeight,
        });
        // an int8 copy's stored weights are cast back to float32 (export/onnx/graph.ts quantizeInt8) when
        // the session opens (Node) or during each run (the Worker, worker/session.ts optimisationFor), so at
        // its peak it holds about what the float32 graph would: the bounds count that
        const resident = Math.max(entry.bytes, graphEntry(m, capability, 'float32')?.bytes ?? 0);
        this.open.set(key, { session, bytes: resident });
        this.evict(key);
        return session;
      });
      // corrupt files are not cached either: a redeploy that fixes them is picked up
      pending.catch(() => this.sessions.delete(key));
      this.sessions.set(key, pending);
    } else {
      // most recently used goes last
      const o = this.open.get(key);
      if (o) {
        this.open.delete(key);
        this.open.set(key, o);
      }
    }
    return pending;
  }

  /** Release least recently used idle sessions (never `keep`) until the open ones fit the bounds. */
  private evict(keep: string): void {
    const over = () => {
      let bytes = 0;
      for (const o of this.open.values()) bytes += o.bytes;
      return this.open.size > this.options.maxSessions || bytes > this.options.maxSessionBytes;
    };
    for (const [key, o] of [...this.open]) {
      if (!over()) break;
      if (key === keep || o.session.users > 0) continue;
      this.open.delete(key);
      this.sessions.delete(key);
      this.evictions++;
      o.session.release().catch((err) => console.error(`releasing ${key}:`, err));
    }
  }

  private async openSession(m: Manifest, entry: ManifestFile, graph: GraphInfo, steps: Record<string, number> = {}): Promise<Session> {
    let t = performance.now();
    const lap = (step: string) => {
      const now = performance.now();
      steps[step] = now - t;
      t = now;
    };
    const bytes = await this.runtime.loadBytes(`${m.id}/${entry.file}`);
    lap('load');
    if (!bytes) throw new HttpError(500, 'model_corrupt', `${m.id}/${entry.file} is missing`);
    const actual = await sha256Hex(bytes);
    lap('sha256');
    if (bytes.length !== entry.bytes || actual !== entry.sha256) {
      throw new HttpError(
        500,
        'model_corrupt',
        `${m.id}/${entry.file} does not match its manifest (sha256 ${actual.slice(0, 12)}..., ${bytes.length} bytes; expected ${entry.sha256.slice(0, 12)}..., ${entry.bytes} bytes)`,
      );
    }
    try {
      return await this.runtime.createSession(bytes, graph);
    } catch (err) {
      throw new HttpError(500, 'model_corrupt', `${m.id}/${entry.file} could not be loaded: ${(err as Error).message}`);
    } finally {
      lap('session');
    }
  }

  private async readJson<T>(path: string): Promise<T | null> {
    const bytes = await this.runtime.loadBytes(path);
    if (!bytes) return null;
    try {
      return JSON.parse(new TextDecoder().decode(bytes)) as T;
    } catch {
      throw new HttpError(500, 'model_corrupt', `${path} is not valid JSON`);
    }
  }

  // The operations: noise drawn from the request's seed, then the graph protocol over a held session

  /**
   * Admit `units` of work (503 overloaded beyond the bound), then run `fn`
   * with the capability's session as the protocol's `run`, held for the whole
   * call; the time from here to the end is the request's `run` phase. `owned`:
   * the feeds are the caller's own arrays and nothing reads them after the
   * run, so they are handed over (Owned) rather than lent.
   */
  private async running<T>(m: Manifest, capability: Capability, units: number, ph: Phases | undefined, fn: (run: RunGraph) => Promise<T>, owned = false, dtype: Dtype = 'float32'): Promise<T> {
    const done = this.admit(units);
    const give = (feeds: Feeds): Feeds => (owned ? Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, new Owned(t.data, t.dims)])) : feeds);
    try {
      return await this.use(m, capability, (session) => fn((feeds, outputs) => session.run(give(feeds), ph, outputs)), ph?.open, dtype);
    } finally {
      done();
      ph?.lap('run');
    }
  }

  /** z [n, L] -> x [n, D] through the sample graph (VAE: with observation noise or its mean; conditional models: of the one-hot classes `label`). */
  private async decodeLatents(m: Manifest, z: Float32Array, n: number, mode: 'mean' | 'sample', noise?: Float32Array, ph?: Phases, label?: Float32Array, dtype?: Dtype): Promise<Batch> {
    ph?.lap('noise');
    // z, noise and label are this request's own: a one-pass graph reads them once and they
    // are handed over; an autoregressive one reads z in each of its D runs, so it is lent
    const owned = samplePasses(m) === 1;
    const x = await this.running(m, 'sample', sampleWork(m, n), ph, (run) => runSample(m, run, z, n, { noise, mode, label }), owned, dtypeOf(m, dtype));
    return { data: finite(x, 'x'), n, width: dataDim(m) };
  }

  async sample(m: Manifest, req: { n: number; seed: number; temperature?: number; mode: 'mean' | 'sample'; label?: Label; dtype?: Dtype }, ph?: Phases): Promise<Batch> {
    this.require(m, 'sample');
    const ids = labelIds(m, req.label, req.n);
    ph?.lap('parse');
    const { z, noise } = sampleNoiseFor(m, req.seed, req.n, temperatureOf(m, req.temperature));
    return this.decodeLatents(m, z, req.n, req.mode, noise, ph, sampleLabelsFor(m, req.seed, req.n, ids), req.dtype);
  }

  async decode(m: Manifest, req: { z: number[][]; mode: 'mean' | 'sample'; seed: number; label?: Label; dtype?: Dtype }, ph?: Phases): Promise<Batch> {
    this.require(m, 'sample', 'decode');
    const z = flatten(req.z, m.latentDim, 'z');
    const n = req.z.length;
    const ids = labelIds(m, req.label, n);
    ph?.lap('parse');
    const noise = takesObservationNoise(m) ? new Prng(req.seed).normals(n * dataDim(m)) : undefined;
    // conditional, no label: each row's class drawn from the prior with the seed, as a sample request draws it
    return this.decodeLatents(m, z, n, req.mode, noise, ph, sampleLabelsFor(m, req.seed, n, ids), req.dtype);
  }

  /** Spherical interpolation (core/protocol.ts `slerp`) between the latents two seeds draw. */
  async interpolate(m: Manifest, req: { seedA: number; seedB: number; steps: number; temperature?: number; label?: number | string; dtype?: Dtype }, ph?: Phases): Promise<Batch> {
    this.require(m, 'sample', 'interpolate');
    requireInterpolate(m);
    ph?.lap('parse');
    const t = temperatureOf(m, req.temperature);
    const a = sampleNoiseFor(m, req.seedA, 1, t).z;
    const b = sampleNoiseFor(m, req.seedB, 1, t).z;
    // conditional: the whole path in one class (named, or the one seedA draws), so only the style moves
    const ids = labelIds(m, req.label, 1);
    const label = m.classes ? sampleLabelsFor(m, req.seedA, 1, ids) : undefined;
    const labels = label && new Float32Array(req.steps * label.length).map((_, i) => label[i % label.length]);
    // the VAE path shows decoder means: observation noise would hide the smooth path
    return this.decodeLatents(m, slerp(a, b, req.steps), req.steps, 'mean', undefined, ph, labels, req.dtype);
  }

  async density(m: Manifest, req: { x: number[][]; k: number; seed: number }, ph?: Phases): Promise<DensityResult> {
    this.require(m, 'density', 'compute a density');
    const D = dataDim(m);
    const n = req.x.length;
    const raw = flatten(req.x, D, 'x');
    if (m.discrete) {
      for (let i = 0; i < raw.length; i++) {
        if (raw[i] < 0 || raw[i] >= 256) throw badRequest('out_of_range', `x must be pixels in [0, 256); found ${raw[i]}`);
      }
    }
    ph?.lap('parse');
    const { x, eps } = densityInputs(m, raw, n, req.seed, req.k);
    ph?.lap('noise');
    // what the budget counts: rows x dataDim, times k importance draws, times the classes a conditional graph runs each row in
    const units = n * D * (importanceSampled(m) ? req.k : 1) * densityClassFactor(m);
    const out = await this.running(m, 'density', units, ph, (run) => runDensity(m, run, x, n, eps && { data: eps, k: req.k }));
    const elbo = out.elbo && finite(out.elbo, 'elbo');
    return { logp: finite(out.logp, out.kind === 'exact' ? 'logp' : out.kind), kind: out.kind, ...(elbo ? { elbo } : {}), ...(out.posterior ? { posterior: out.posterior } : {}), D };
  }

  async encode(m: Manifest, req: { x: number[][] }, ph?: Phases): Promise<EncodeResult> {
    this.require(m, 'encode', 'encode x -> z');
    const n = req.x.length;
    const x = flatten(req.x, dataDim(m), 'x');
    ph?.lap('parse');
    const out = await this.running(m, 'encode', n * dataDim(m), ph, (run) => runEncode(m, run, x, n));
    const z = finite(out.z, 'z');
    const width = z.length / n;
    return out.logvar ? { z: { data: z, n, width }, logvar: { data: finite(out.logvar, 'logvar'), n, width } } : { z: { data: z, n, width } };
  }
}


/** The file of a capability's graph in `dtype` (core/protocol.ts `graphEntry`): 422 when the model ships none. */
export function graphFile(m: Manifest, capability: Capability, dtype: Dtype): ManifestFile {
  const entry = graphEntry(m, capability, dtype);
  if (entry) return entry;
  if (dtype === 'float32') throw new HttpError(500, 'model_corrupt', `manifest of '${m.id}' lists ${capability} but names no file for it`);
  throw new HttpError(422, 'capability_unavailable', `${m.id} ships no ${dtype} ${capability} graph: ask for dtype ${(m.dtypes ?? ['float32']).join(' or ')} (GET /v1/models lists each model's dtypes)`);
}

/** A class named in a request: an id or a name, one for every row or one per row. */
export type Label = number | string | Array<number | string>;

/** Output of a batch: n rows of `width` floats. */
export interface Batch {
  data: Float32Array;
  n: number;
  width: number;
}

const listOf = (a: Float32Array) => Array.from(a, float32Json);

function flatten(rows: number[][], width: number, what: string): Float32Array {
  if (rows[0].length !== width) {
    throw badRequest('bad_shape', `${what} rows must have ${width} values for this model, got ${rows[0].length}`);
  }
  const out = new Float32Array(rows.length * width);
  rows.forEach((r, i) => out.set(r, i * width));
  return out;
}

/**
 * A graph output, refused when any value is not finite: JSON cannot carry
 * Infinity or NaN (they would turn into null), and an overflowed float32 is no
 * answer. Inputs far outside the data (|x| ~ 1e30) can do this to a valid model.
 */
function finite(data: Float32Array, name: string): Float32Array {
  // v * 0 is 0 for a finite v and NaN for an infinite or NaN one: one sum, no branch per value
  let probe = 0;
  for (let i = 0; i < data.length; i++) probe += data[i] * 0;
  if (probe === 0) return data;
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) {
      throw new HttpError(
        422,
        'non_finite_output',
        `the model's ${name} overflowed float32 (got ${data[i]}) for these inputs; inputs far outside the model's data range can do this`,
      );
    }
  }
  return data;
}

/** A class named in a request: an id of the model's classes, or one of their names (exactly, else ignoring case). */
function classId(m: Manifest, ref: number | string, at: string): number {
  const names = m.classes!.names;
  const valid = () => names.map((name, i) => (name === String(i) ? String(i) : `${i} (${name})`)).join(', ');
  if (typeof ref === 'number') {
    if (ref < names.length) return ref;
    throw badRequest('invalid_value', `${at} = ${ref} is not a class of ${m.id}; its classes are ${valid()}`);
  }
  let id = names.indexOf(ref);
  if (id < 0) id = names.findIndex((name) => name.toLowerCase() === ref.toLowerCase());
  if (id < 0) throw badRequest('invalid_value', `${at} = ${JSON.stringify(ref)} is not a class of ${m.id}; its classes are ${valid()}`);
  return id;
}

/**
 * The class ids of a sample request's rows: one label for all, or one per row;
 * absent: undefined (the protocol draws them from the prior with the seed).
 * A label on an unconditional model is 422: the model has no classes to draw from.
 */
export function labelIds(m: Manifest, label: Label | undefined, n: number, at = 'body.label'): Int32Array | undefined {
  if (label === undefined) return undefined;
  if (!m.classes) throw new HttpError(422, 'capability_unavailable', `${m.id} is not class-conditional: it models p(x) alone, so it takes no label (GET /v1/models lists each model's classes)`);
  if (!Array.isArray(label)) return new Int32Array(n).fill(classId(m, label, at));
  if (label.length !== n) throw badRequest('bad_shape', `${at} has ${label.length} labels for n = ${n} rows: give one label, or one per row`);
  return Int32Array.from(label, (ref, i) => classId(m, ref, `${at}[${i}]`));
}

/** 422 unless the model can interpolate: it samples, and 2 steps fit the work budget (checked, not assumed: an autoregressive model's sampling cost counts). */
export function requireInterpolate(m: Manifest): void {
  if (limitsOf(m).interpolate === undefined) {
    throw new HttpError(422, 'capability_unavailable', `${m.id} cannot interpolate: it samples one dimension per graph run, and even 2 steps are over the work budget of a request`);
  }
}

/** Raw float32 outputs of density: logp per row (VAE: the IWAE bound for k > 1, else the ELBO). */
export interface DensityResult {
  logp: Float32Array;
  kind: DensityKind;
  elbo?: Float32Array;
  /** conditional models: p(y | x) per row [n, C] */
  posterior?: Float32Array;
  /** data dimension, for bits/dim */
  D: number;
}

/** The JSON answer of density: float32 values by the shortest round trip, plus bits/dim for image models. */
export function densityJson(r: DensityResult, m: Manifest): DensityResponse {
  const res: DensityResponse = { logp: listOf(r.logp), kind: r.kind };
  if (r.elbo) res.elbo = listOf(r.elbo);
  if (r.posterior) {
    const C = r.posterior.length / r.logp.length;
    res.posterior = Array.from({ length: r.logp.length }, (_, i) => listOf(r.posterior!.subarray(i * C, (i + 1) * C)));
  }
  if (m.discrete) res.bitsPerDim = res.logp.map((lp) => -lp / (r.D * Math.LN2));
  return res;
}

/** Raw float32 outputs of encode: z rows (flow: the exact inverse; VAE: the posterior mean) and, for VAEs, logvar. */
export interface EncodeResult {
  z: Batch;
  logvar?: Batch;
}

/** The JSON answer of encode, {z[, logvar]}, as bytes written from the float32 rows (float32.ts JsonBytes). */
export function encodeJson(r: EncodeResult): Uint8Array<ArrayBuffer> {
  const out = new JsonBytes(r.z.data.length * (r.logvar ? 24 : 12) + 32).ascii('{"z":').rows(r.z.data, r.z.n, r.z.width);
  if (r.logvar) out.ascii(',"logvar":').rows(r.logvar.data, r.logvar.n, r.logvar.width);
  return out.ascii('}').bytes();
}