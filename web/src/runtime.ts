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
 */
import type * as OrtTypes from 'onnxruntime-web';

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

  static async create(bytes: Uint8Array): Promise<Session> {
    const info = await chooseBackend();
    const make = async (backend: Backend): Promise<Session> => {
      const ort = await ortFor(backend);
      const inner = await enqueue(() => ort.InferenceSession.create(bytes, { executionProviders: [backend] }));
      return new Session(ort, inner, backend);
    };
    if (info.backend === 'wasm') return make('wasm');
    try {
      return await make('webgpu');
    } catch (err) {
      console.warn('WebGPU session failed; falling back to wasm', err);
      const fallback: BackendInfo = { backend: 'wasm', reason: `WebGPU failed to start (${String(err)})` };
      chosen = Promise.resolve(fallback);
      listeners.forEach((fn) => fn(fallback));
      return make('wasm');
    }
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
