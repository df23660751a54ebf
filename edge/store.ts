/**
 * The models one isolate (Worker) or process (Node) knows: the index, each
 * manifest, and each ONNX session, all loaded lazily on first use and cached.
 * A model file is hashed and compared with its manifest's sha256 before a
 * session is built from it, so a truncated or tampered file is refused with
 * model_corrupt instead of producing wrong numbers; other models keep serving.
 */
import type { Capability, Manifest, ModelIndex } from '../core/manifest';
import { dataDim, samplePasses } from '../core/protocol';
import { BatchingSession } from './batch';
import { MAX_WORK_UNITS } from './budget';
import { HttpError } from './errors';
import type { ModelSession, Runtime, Tensor } from './runtime';

/**
 * How much one isolate or process holds and runs at once. The defaults keep a
 * Worker isolate well under Cloudflare's 128 MB (edge/README.md, "Memory").
 */
export interface ServeOptions {
  /** batching: longest wait for company when the session is idle, ms */
  batchWaitMs: number;
  /** batching: most rows in one run */
  batchMaxRows: number;
  /** batching: requests with fewer rows than this wait batchWaitMs for company when the session is idle */
  batchWaitBelowRows: number;
  /**
   * batching: requests with this many rows or more always run alone. The
   * Worker sets 16: one wasm thread gains nothing from stacking large requests
   * (bench:peer measured 0.7-0.8x at 32-64 clients of n=64), while Node's
   * concurrent runs do (SERVING.md: 1.2-1.9x at 8-32 clients of gan-mnist n=64
   * with graphs on the main thread; 0.67-1.63x with them on their own thread).
   */
  batchAloneFromRows: number;
  /**
   * most rows in one graph run: larger requests and batches run in pieces of
   * this many rows (same bits for row-wise graphs). The Worker sets 256: a
   * 1024-row conv VAE sample grew wasm memory by 27 MiB in one run.
   */
  runMaxRows: number;
  /** open sessions kept at most; the least recently used idle one is released beyond it */
  maxSessions: number;
  /** model file bytes of the open sessions kept at most (weights live in wasm memory once each) */
  maxSessionBytes: number;
  /** work units (edge/budget.ts) admitted at once, queued or running; beyond it: 503 overloaded with Retry-After */
  maxInFlightUnits: number;
}

export const SERVE_DEFAULTS: ServeOptions = {
  batchWaitMs: 0,
  batchMaxRows: 4096,
  batchWaitBelowRows: 16,
  batchAloneFromRows: Infinity,
  runMaxRows: Infinity,
  maxSessions: 12,
  maxSessionBytes: 24 * 1024 * 1024,
  maxInFlightUnits: 4 * MAX_WORK_UNITS,
};

/** Bounds named in the environment (wrangler vars, process.env): EDGEGEN_BATCH_WAIT_MS, EDGEGEN_BATCH_MAX_ROWS, EDGEGEN_BATCH_WAIT_BELOW_ROWS, EDGEGEN_BATCH_ALONE_FROM_ROWS, EDGEGEN_RUN_MAX_ROWS, EDGEGEN_MAX_SESSIONS, EDGEGEN_MAX_SESSION_BYTES, EDGEGEN_MAX_INFLIGHT_UNITS. */
export function serveOptionsFrom(vars: Record<string, unknown>): Partial<ServeOptions> {
  const names: Record<keyof ServeOptions, string> = {
    batchWaitMs: 'EDGEGEN_BATCH_WAIT_MS',
    batchMaxRows: 'EDGEGEN_BATCH_MAX_ROWS',
    batchWaitBelowRows: 'EDGEGEN_BATCH_WAIT_BELOW_ROWS',
    batchAloneFromRows: 'EDGEGEN_BATCH_ALONE_FROM_ROWS',
    runMaxRows: 'EDGEGEN_RUN_MAX_ROWS',
    maxSessions: 'EDGEGEN_MAX_SESSIONS',
    maxSessionBytes: 'EDGEGEN_MAX_SESSION_BYTES',
    maxInFlightUnits: 'EDGEGEN_MAX_INFLIGHT_UNITS',
  };
  const out: Partial<ServeOptions> = {};
  for (const [key, name] of Object.entries(names) as [keyof ServeOptions, string][]) {
    const v = vars[name];
    if (v === undefined || v === '') continue;
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a number >= 0, got '${String(v)}'`);
    out[key] = n;
  }
  return out;
}

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

export class ModelStore {
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
   * Admit `units` of work (edge/budget.ts) or refuse with 503 overloaded and
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


  /** What /healthz reports: the runtime's memory and what this store holds. */
  stats() {
    let bytes = 0;
    for (const o of this.open.values()) bytes += o.bytes;
    return { ...this.runtime.memory?.(), sessions: this.open.size, sessionFileBytes: bytes, evictions: this.evictions, inFlightUnits: this.inFlight };
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
  async use<T>(m: Manifest, capability: Capability, fn: (session: ModelSession) => Promise<T>, steps?: Record<string, number>): Promise<T> {
    let session = await this.session(m, capability, steps);
    // released between opening and now by another request's eviction: open it again
    if (session.released) session = await this.session(m, capability, steps);
    session.users++;
    try {
      return await fn(session);
    } finally {
      session.users--;
    }
  }

  /** The capability's session, opened on first use; `steps` gets the ms of each opening step when this call opens it. */
  session(m: Manifest, capability: Capability, steps?: Record<string, number>): Promise<BatchingSession> {
    this.require(m, capability);
    const key = `${m.id}/${capability}`;
    let pending = this.sessions.get(key);
    if (!pending) {
      pending = this.openSession(m, capability, steps).then((inner) => {
        const D = dataDim(m);
        // a row's work: dataDim, times the middle dims of a rank-3 feed (the VAE's k importance draws)
        const unitsPerRow = (feeds: Record<string, Tensor>) =>
          D * Math.max(1, ...Object.values(feeds).map((t) => t.dims.slice(1, -1).reduce((a, b) => a * b, 1)));
        // an autoregressive sampler's steps are small products whose float32 sums
        // onnxruntime orders by batch size (measured: 1 ulp apart between a row alone
        // and the same row among 8): such runs go alone, so a seed's bits never depend
        // on who else asked at the same moment
        const alone = capability === 'sample' && samplePasses(m) > 1;
        const session = new BatchingSession(inner, {
          waitMs: this.options.batchWaitMs,
          waitBelowRows: this.options.batchWaitBelowRows,
          aloneFromRows: alone ? 1 : this.options.batchAloneFromRows,
          maxRows: this.options.batchMaxRows,
          maxRunRows: this.options.runMaxRows,
          maxUnits: MAX_WORK_UNITS,
          unitsPerRow,
        });
        this.open.set(key, { session, bytes: m.files.find((f) => f.capability === capability)?.bytes ?? 0 });
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

  private async openSession(m: Manifest, capability: Capability, steps: Record<string, number> = {}): Promise<ModelSession> {
    const entry = m.files.find((f) => f.capability === capability);
    if (!entry) throw new HttpError(500, 'model_corrupt', `manifest of '${m.id}' lists ${capability} but names no file for it`);
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
      return await this.runtime.createSession(bytes);
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
}
