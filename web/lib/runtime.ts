/**
 * The only file in web/ that imports onnxruntime-web.
 *
 * Two builds of onnxruntime-web, loaded on demand so a page downloads one:
 * - `onnxruntime-web/jspi` (WebGPU + wasm EPs, 16.7 MB of wasm) when
 *   `navigator.gpu` hands out an adapter and the engine has JSPI
 *   (`WebAssembly.Suspending`, Chromium 137+). We do not ship the asyncify
 *   WebGPU build: its 25.5 MiB binary is over Cloudflare's 25 MiB per-asset
 *   cap, so a Worker could never serve it;
 * - `onnxruntime-web/wasm` (14 MB) otherwise. If the WebGPU build fails to
 *   start, the page falls back to wasm and says so.
 * Each build's .wasm is referenced with `new URL(..., import.meta.url)`, which
 * Vite emits beside the script, so all paths stay relative.
 *
 * Where WebGPU is available, each model still gets its own provider
 * (`ModelBackend`, shown on the page):
 * - 2-D models (shape [2]) run on wasm: their graphs are a few matmuls on
 *   rows of 2..256 values, microseconds of compute, while a WebGPU run pays a
 *   dispatch and a GPU->CPU readback (a millisecond or more) every time;
 * - so do autoregressive sample graphs (MADE): they run once per pixel, 784
 *   round trips for one MNIST image, each a small matmul;
 * - image models open on WebGPU and run one probe row there and on the same
 *   build's wasm provider; if the graph cannot run on WebGPU (onnxruntime
 *   lacks some kernels there, ConvTranspose among them) or the two disagree
 *   beyond the model's cross-runtime tolerance (1e-4 relative, or the looser
 *   figure its export measured and stated: manifest.parity), the model runs on wasm
 *   and the page says why. The probe's timings are shown beside the choice.
 */
import type * as OrtTypes from 'onnxruntime-web';
import { maxRelDiff } from '../../core/protocol';

type Ort = typeof OrtTypes;
export type Backend = 'webgpu' | 'wasm';

export interface BackendInfo {
  backend: Backend;
  /** why this backend was chosen, for the header */
  reason: string;
}

/** A tensor as the rest of web/ sees it: plain data, no ort types leak out. */
export interface Tensor {
  data: Float32Array;
  dims: number[];
}

let chosen: Promise<BackendInfo> | null = null;
const listeners: Array<(b: BackendInfo) => void> = [];

/** The provider one model's graph runs on, and why. */
export interface ModelBackend extends BackendInfo {
  model: string;
}
const modelListeners: Array<(b: ModelBackend) => void> = [];
/** Called each time a model's session opens, with the provider chosen for it. */
export function onModelBackend(fn: (b: ModelBackend) => void): void {
  modelListeners.push(fn);
}

/**
 * Agreement the WebGPU probe must reach with wasm: |a - b| <= TOL * max(1, |b|);
 * the model's cross-runtime tolerance (`ModelInfo.tolerance`), unless
 * `?webgpu-tolerance=` says otherwise (a stricter one shows the fallback at work).
 */
const QUERY_TOLERANCE = Number(new URLSearchParams(globalThis.location?.search ?? '').get('webgpu-tolerance')) || undefined;
export const webgpuTolerance = (modelTolerance: number): number => QUERY_TOLERANCE ?? modelTolerance;

/** What Session.create needs to know of the model: its id, its row shape, and one probe row of feeds. */
export interface ModelInfo {
  id: string;
  shape: number[];
  /** the cross-runtime tolerance of its samples (core/protocol.ts sampleTolerance) */
  tolerance: number;
  /** graph runs per request (autoregressive sampling: one per dimension); more than 1 runs on wasm by rule */
  passes?: number;
  /** the feeds of a one-row run of this graph (engine.ts builds them through core/protocol.ts) */
  probe: () => Promise<Record<string, Tensor>>;
}

/** Called with the backend now in use, including after a fallback. */
export function onBackend(fn: (b: BackendInfo) => void): void {
  listeners.push(fn);
  void chooseBackend().then(fn);
}

/** WebGPU when the browser hands out an adapter, wasm otherwise; `?ep=wasm` forces wasm. */
export function chooseBackend(): Promise<BackendInfo> {
  chosen ??= (async (): Promise<BackendInfo> => {
    const forced = new URLSearchParams(location.search).get('ep');
    if (forced === 'wasm') return { backend: 'wasm', reason: 'forced by ?ep=wasm' };
    const gpu = (navigator as Navigator & { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
    if (!gpu) return { backend: 'wasm', reason: 'navigator.gpu is absent' };
    if (typeof (WebAssembly as unknown as { Suspending?: unknown }).Suspending !== 'function') {
      return { backend: 'wasm', reason: 'WebGPU build needs JSPI (WebAssembly.Suspending), absent here' };
    }
    try {
      const adapter = await gpu.requestAdapter();
      if (!adapter) return { backend: 'wasm', reason: 'navigator.gpu gave no adapter' };
      return { backend: 'webgpu', reason: 'navigator.gpu gave an adapter' };
    } catch (err) {
      return { backend: 'wasm', reason: `requestAdapter failed: ${String(err)}` };
    }
  })();
  return chosen;
}

const builds = new Map<Backend, Promise<Ort>>();
function ortFor(backend: Backend): Promise<Ort> {
  let p = builds.get(backend);
  if (!p) {
    p = (backend === 'webgpu' ? import('onnxruntime-web/jspi') : import('onnxruntime-web/wasm')).then((ort) => {
      // no cross-origin isolation on a static host: threads are unavailable
      ort.env.wasm.numThreads = 1;
      return ort;
    });
    builds.set(backend, p);
  }
  return p;
}

/** Sessions and runs are serialised: onnxruntime-web cannot overlap them. */
let queue: Promise<unknown> = Promise.resolve();
function enqueue<T>(job: () => Promise<T>): Promise<T> {
  const next = queue.then(job, job);
  queue = next.catch(() => undefined);
  return next;
}

export class Session {
  private constructor(
    private readonly ort: Ort,
    private readonly inner: OrtTypes.InferenceSession,
    readonly backend: Backend,
  ) {}

  static async create(bytes: Uint8Array, model?: ModelInfo): Promise<Session> {
    const info = await chooseBackend();
    const make = async (backend: Backend, build: Backend = backend): Promise<Session> => {
      const ort = await ortFor(build);
      const inner = await enqueue(() => ort.InferenceSession.create(bytes, { executionProviders: [backend] }));
      return new Session(ort, inner, backend);
    };
    const tell = (b: BackendInfo) => model && modelListeners.forEach((fn) => fn({ ...b, model: model.id }));
    if (info.backend === 'wasm') {
      tell(info);
      return make('wasm');
    }
    const failed = (err: unknown) => {
      console.warn('WebGPU build failed; falling back to wasm', err);
      const fallback: BackendInfo = { backend: 'wasm', reason: `WebGPU failed to start (${String(err)})` };
      chosen = Promise.resolve(fallback);
      listeners.forEach((fn) => fn(fallback));
      tell(fallback);
      return make('wasm');
    };
    const byRule = !model
      ? undefined
      : model.shape.length === 1
        ? 'a 2-D model: a GPU round trip costs more than its few small matmuls'
        : (model.passes ?? 1) > 1
          ? `sampling runs the graph once per pixel (${model.passes} passes): a GPU round trip each costs more than the pass`
          : undefined;
    if (byRule) {
      tell({ backend: 'wasm', reason: byRule });
      // the WebGPU build carries the wasm provider too: no second download, unless that build fails
      try {
        return await make('wasm', 'webgpu');
      } catch (err) {
        return failed(err);
      }
    }
    let gpu: Session;
    try {
      gpu = await make('webgpu');
    } catch (err) {
      return failed(err);
    }
    if (!model) return gpu;
    const cpu = await make('wasm', 'webgpu');
    const verdict = await compare(gpu, cpu, await model.probe(), webgpuTolerance(model.tolerance));
    tell(verdict);
    if (verdict.backend === 'webgpu') {
      await cpu.release();
      return gpu;
    }
    await gpu.release();
    return cpu;
  }

  async release(): Promise<void> {
    await enqueue(() => this.inner.release());
  }

  /** run(), timed. */
  async timedRun(feeds: Record<string, Tensor>): Promise<{ out: Record<string, Tensor>; ms: number }> {
    const t0 = performance.now();
    const out = await this.run(feeds);
    return { out, ms: performance.now() - t0 };
  }

  /** Runs the graph; returns every output as plain float32 data. */
  async run(feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    const ortFeeds: Record<string, OrtTypes.Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = new this.ort.Tensor('float32', t.data, t.dims);
    const results = await enqueue(() => this.inner.run(ortFeeds));
    const out: Record<string, Tensor> = {};
    for (const [name, t] of Object.entries(results)) {
      // getData() downloads from the GPU when the output lives there
      const data = (await t.getData()) as Float32Array;
      out[name] = { data: new Float32Array(data), dims: [...t.dims] };
      t.dispose();
    }
    return out;
  }
}

/**
 * One probe row on WebGPU and on wasm: WebGPU keeps the model when it runs
 * and agrees within `tol`; the second run of each is timed (the
 * first compiles WebGPU's shaders) and the times go into the reason.
 */
async function compare(gpu: Session, cpu: Session, feeds: Record<string, Tensor>, tol: number): Promise<BackendInfo> {
  let g: { out: Record<string, Tensor>; ms: number };
  const c = await cpu.timedRun(feeds);
  try {
    await gpu.run(feeds);
    g = await gpu.timedRun(feeds);
  } catch (err) {
    return { backend: 'wasm', reason: `this graph cannot run on WebGPU here (${String(err).slice(0, 160)})` };
  }
  let worst = 0;
  for (const [name, ref] of Object.entries(c.out)) {
    const got = g.out[name]?.data;
    if (!got || got.length !== ref.data.length) return { backend: 'wasm', reason: `WebGPU gave no matching output '${name}'` };
    worst = Math.max(worst, maxRelDiff(got, ref.data));
  }
  const times = `probe row: WebGPU ${g.ms.toFixed(1)} ms, wasm ${c.ms.toFixed(1)} ms`;
  if (worst > tol) {
    return { backend: 'wasm', reason: `WebGPU disagreed with wasm by ${worst.toExponential(1)} (> ${tol} relative); ${times}` };
  }
  return { backend: 'webgpu', reason: `agrees with wasm within ${tol} (${worst.toExponential(1)}); ${times}` };
}
