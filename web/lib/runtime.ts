/**
 * The only file of the library (and of the page) that imports onnxruntime-web.
 *
 * Two builds of onnxruntime-web, loaded on demand so a page downloads one:
 * - `onnxruntime-web/jspi` (WebGPU + wasm EPs, 16.7 MB of wasm) when
 *   `navigator.gpu` hands out an adapter and the engine has JSPI
 *   (`WebAssembly.Suspending`, Chromium 137+). The asyncify WebGPU build is
 *   not used: its 25.5 MiB binary is over Cloudflare's 25 MiB per-asset cap,
 *   so a Worker could never serve it;
 * - `onnxruntime-web/wasm` (14 MB) otherwise. If the WebGPU build fails to
 *   start, 'auto' falls back to wasm and says so (`onDeviceChange`).
 * Each build's .wasm is referenced with `new URL(..., import.meta.url)`, which
 * Vite emits beside the script, so all paths stay relative.
 *
 * Device 'auto' gives each model's graph its own provider, and a reason:
 * - 2-D models (shape [2]) run on wasm: their graphs are a few matmuls on
 *   rows of 2..256 values, microseconds of compute, while a WebGPU run pays a
 *   dispatch and a GPU->CPU readback (a millisecond or more) every time;
 * - so do autoregressive sample graphs (MADE): one run samples pixel by
 *   pixel inside the graph (an ONNX Loop over blocks of pixels, each step a
 *   small product), verified on wasm; WebGPU would run that loop's many tiny
 *   steps as dispatches, each costlier than its arithmetic;
 * - image models open on WebGPU and run one probe row there and on the same
 *   build's wasm provider; if the graph cannot run on WebGPU (onnxruntime
 *   lacks some kernels there, ConvTranspose among them) or the two disagree
 *   beyond the model's cross-runtime tolerance (1e-4 relative, or the looser
 *   figure its export measured and stated: manifest.parity), the model runs on
 *   wasm. The probe's timings are part of the reason.
 * 'webgpu' and 'wasm' skip the rule and the probe: the caller has chosen.
 */
import type * as OrtTypes from 'onnxruntime-web';
import { maxRelDiff, type Feeds } from '../../core/protocol';

type Ort = typeof OrtTypes;

/** Where a graph runs: the WebGPU or the WebAssembly (CPU) execution provider. */
export type Backend = 'webgpu' | 'wasm';
/** What a caller may ask for: a provider, or 'auto' (the per-model rule above). */
export type Device = 'auto' | Backend;

export interface DeviceInfo {
  device: Backend;
  /** why, in words a page can show */
  reason: string;
}

/** What Session.create needs to know of the model: its id, its row shape, and one probe row of feeds. */
export interface GraphInfo {
  id: string;
  shape: number[];
  /** the cross-runtime tolerance of this graph's outputs (core/protocol.ts sampleTolerance for samples) */
  tolerance: number;
  /** graph runs per request (autoregressive sampling: one per dimension); more than 1 runs on wasm by rule */
  passes?: number;
  /** the feeds of a one-row run of this graph, for the WebGPU probe */
  probe: () => Promise<Feeds>;
}

export interface SessionOptions {
  device?: Device;
  /** the bound the WebGPU probe must meet; default: the graph's own tolerance */
  webgpuTolerance?: number;
  /** told the provider chosen for this graph, and why */
  onDevice?: (info: DeviceInfo) => void;
}

let detected: Promise<DeviceInfo> | null = null;
const changeListeners: Array<(d: DeviceInfo) => void> = [];

/** Called when the device 'auto' can use changes: the WebGPU build failed to start, so wasm from now on. */
export function onDeviceChange(fn: (d: DeviceInfo) => void): void {
  changeListeners.push(fn);
}

/** The device 'auto' can use in this browser: WebGPU when it hands out an adapter and the engine has JSPI, else wasm. Computed once. */
export function detectDevice(): Promise<DeviceInfo> {
  detected ??= (async (): Promise<DeviceInfo> => {
    const gpu = (globalThis.navigator as (Navigator & { gpu?: { requestAdapter(): Promise<unknown> } }) | undefined)?.gpu;
    if (!gpu) return { device: 'wasm', reason: 'navigator.gpu is absent' };
    if (typeof (WebAssembly as unknown as { Suspending?: unknown }).Suspending !== 'function') {
      return { device: 'wasm', reason: 'WebGPU build needs JSPI (WebAssembly.Suspending), absent here' };
    }
    try {
      const adapter = await gpu.requestAdapter();
      if (!adapter) return { device: 'wasm', reason: 'navigator.gpu gave no adapter' };
      return { device: 'webgpu', reason: 'navigator.gpu gave an adapter' };
    } catch (err) {
      return { device: 'wasm', reason: `requestAdapter failed: ${String(err)}` };
    }
  })();
  return detected;
}

const builds = new Map<Backend, Promise<Ort>>();
function ortFor(build: Backend): Promise<Ort> {
  let p = builds.get(build);
  if (!p) {
    p = (build === 'webgpu' ? import('onnxruntime-web/jspi') : import('onnxruntime-web/wasm')).then((ort) => {
      // no cross-origin isolation on a static host: threads are unavailable
      ort.env.wasm.numThreads = 1;
      return ort;
    });
    p.catch(() => builds.delete(build));
    builds.set(build, p);
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
    readonly device: Backend,
  ) {}

  /** Opens a graph on the device asked for ('auto': the per-model rule and probe above). */
  static async create(bytes: Uint8Array, graph: GraphInfo, opts: SessionOptions = {}): Promise<Session> {
    const make = async (device: Backend, build: Backend = device): Promise<Session> => {
      const ort = await ortFor(build);
      const inner = await enqueue(() => ort.InferenceSession.create(bytes, { executionProviders: [device] }));
      return new Session(ort, inner, device);
    };
    const tell = (d: DeviceInfo) => opts.onDevice?.(d);
    const device = opts.device ?? 'auto';
    if (device === 'wasm') {
      // the WebGPU build carries the wasm provider too: use it when it is already here, rather than download the other
      const jspi = builds.has('webgpu') && (await builds.get('webgpu')!.then(() => true, () => false));
      tell({ device: 'wasm', reason: 'asked for' });
      return make('wasm', jspi ? 'webgpu' : 'wasm');
    }
    const env = await detectDevice();
    if (device === 'webgpu') {
      if (env.device !== 'webgpu') throw new Error(`WebGPU is unavailable here: ${env.reason}`);
      const s = await make('webgpu');
      tell({ device: 'webgpu', reason: 'asked for' });
      return s;
    }
    if (env.device === 'wasm') {
      tell(env);
      return make('wasm');
    }
    const failed = (err: unknown) => {
      console.warn('WebGPU build failed; falling back to wasm', err);
      const fallback: DeviceInfo = { device: 'wasm', reason: `WebGPU failed to start (${String(err)})` };
      detected = Promise.resolve(fallback);
      changeListeners.forEach((fn) => fn(fallback));
      tell(fallback);
      return make('wasm');
    };
    const byRule =
      graph.shape.length === 1
        ? 'a 2-D model: a GPU round trip costs more than its few small matmuls'
        : (graph.passes ?? 1) > 1
          ? 'an autoregressive sampler: its graph loops pixel by pixel in tiny steps, each costlier on a GPU than its arithmetic'
          : undefined;
    if (byRule) {
      tell({ device: 'wasm', reason: byRule });
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
    const cpu = await make('wasm', 'webgpu');
    const verdict = await compare(gpu, cpu, await graph.probe(), opts.webgpuTolerance ?? graph.tolerance);
    tell(verdict);
    if (verdict.device === 'webgpu') {
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
  async timedRun(feeds: Feeds): Promise<{ out: Feeds; ms: number }> {
    const t0 = performance.now();
    const out = await this.run(feeds);
    return { out, ms: performance.now() - t0 };
  }

  /** Runs the graph; returns every output as plain float32 data (no ort types leak out). */
  async run(feeds: Feeds): Promise<Feeds> {
    const ortFeeds: Record<string, OrtTypes.Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = new this.ort.Tensor('float32', t.data, t.dims);
    const results = await enqueue(() => this.inner.run(ortFeeds));
    const out: Feeds = {};
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
async function compare(gpu: Session, cpu: Session, feeds: Feeds, tol: number): Promise<DeviceInfo> {
  let g: { out: Feeds; ms: number };
  const c = await cpu.timedRun(feeds);
  try {
    await gpu.run(feeds);
    g = await gpu.timedRun(feeds);
  } catch (err) {
    return { device: 'wasm', reason: `this graph cannot run on WebGPU here (${String(err).slice(0, 160)})` };
  }
  let worst = 0;
  for (const [name, ref] of Object.entries(c.out)) {
    const got = g.out[name]?.data;
    if (!got || got.length !== ref.data.length) return { device: 'wasm', reason: `WebGPU gave no matching output '${name}'` };
    worst = Math.max(worst, maxRelDiff(got, ref.data));
  }
  const times = `probe row: WebGPU ${g.ms.toFixed(1)} ms, wasm ${c.ms.toFixed(1)} ms`;
  if (worst > tol) {
    return { device: 'wasm', reason: `WebGPU disagreed with wasm by ${worst.toExponential(1)} (> ${tol} relative); ${times}` };
  }
  return { device: 'webgpu', reason: `agrees with wasm within ${tol} (${worst.toExponential(1)}); ${times}` };
}
