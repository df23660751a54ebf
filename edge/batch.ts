/**
 * Dynamic batching of one session (one model + capability) inside the isolate
 * or process. Every graph edgegen ships is row-wise: each input and output has
 * the rows as its first dimension and no row looks at another. So concurrent
 * runs whose inputs agree on everything but the row count are stacked along
 * dimension 0, run once, and each caller gets its own rows back. Each request
 * draws its noise from its own seed before it gets here (edge/infer.ts), so
 * its answer is the one it would get alone; see edge/README.md for how exact
 * that is.
 *
 * A run waits at most `waitMs` for company, and only when it is small (fewer
 * than `waitBelowRows` rows: a large one fills the kernels by itself, and the
 * wait would only add latency) and the batch is not full; what queues while
 * the session is busy goes out as the next batch, with no wait. A batch stays within `maxUnits` (the work budget's units, so no
 * run is larger than the largest single request) and `maxRows`. A job that
 * does not fit with others runs on its own.
 */
import type { ModelSession, RunStats, Tensor } from './runtime';

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
   * most rows one graph run carries: a larger request or batch runs in pieces
   * of this many rows, one after another (Infinity: never split). Bounds the
   * activations' memory, which in wasm never shrinks once grown.
   */
  maxRunRows?: number;
  /** most work units (see `units`) one batched run may carry */
  maxUnits: number;
  /** units of work of one row of these feeds (the store passes dataDim x middle dims) */
  unitsPerRow: (feeds: Record<string, Tensor>) => number;
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

export class BatchingSession implements ModelSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  private queue: Job[] = [];
  /** batches running now: at most the inner session's concurrency */
  private inFlight = 0;
  /** the inner session's: how many batches run at once */
  readonly concurrency: number;
  private timer: { cancel(): void } | undefined;
  /** requests holding this session (ModelStore.use): the LRU never releases one in use */
  users = 0;
  released = false;
  /** set when a graph's outputs turned out not to be row-wise: run alone from then on */
  private rowwise = true;

  constructor(
    private readonly inner: ModelSession,
    private readonly opts: BatchOptions,
  ) {
    this.inputNames = inner.inputNames;
    this.outputNames = inner.outputNames;
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
    return this.inner.release?.() ?? Promise.resolve();
  }

  private async alone(feeds: Record<string, Tensor>, stats?: RunStats, outputs?: readonly string[]) {
    if (stats) stats.batch = 1;
    return this.inPieces(feeds, stats ? [stats] : [], outputs);
  }

  /**
   * One run of the inner session, or, over maxRunRows rows, consecutive runs
   * of row slices with their outputs stacked back: for a row-wise graph the
   * same rows (every shipped graph gives the same bits in pieces of 256 on
   * onnxruntime-web wasm, serving.cases.ts checks it through the API).
   */
  private async inPieces(feeds: Record<string, Tensor>, stats: RunStats[], outputs?: readonly string[]): Promise<Record<string, Tensor>> {
    const max = this.opts.maxRunRows ?? Infinity;
    const rows = feeds[Object.keys(feeds)[0]]?.dims[0] ?? 0;
    if (!(rows > max) || !this.rowwise || keyOf(feeds) === null) return this.inner.run(feeds, undefined, outputs);
    const parts: Record<string, Tensor>[] = [];
    for (let start = 0; start < rows; start += max) {
      const end = Math.min(rows, start + max);
      const slice: Record<string, Tensor> = {};
      for (const [name, t] of Object.entries(feeds)) {
        const width = t.data.length / rows;
        slice[name] = { data: t.data.subarray(start * width, end * width), dims: [end - start, ...t.dims.slice(1)] };
      }
      const out = await this.inner.run(slice, undefined, outputs);
      if (!Object.values(out).every((t) => t.dims[0] === end - start && t.data.length % (end - start) === 0)) {
        // not row-wise after all: never split or batch it again, and run it whole
        this.rowwise = false;
        return this.inner.run(feeds, undefined, outputs);
      }
      parts.push(out);
    }
    for (const st of stats) st.pieces = parts.length;
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
      // the stacked copy is the batch's own: nobody reads it after the run
      feeds[name] = { data, dims, spare: true };
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
