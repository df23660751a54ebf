/**
 * What the views ask of a model, answered two ways with the same noise: in
 * the browser by the library (web/lib, onnxruntime-web) or by the API (/v1,
 * through the typed client in api.ts). web/lib/model.ts states the noise
 * conventions; the API draws the same.
 */
import type { Dtype, Manifest } from '../../core/manifest';
import { dtypeOf, sampleNoiseFor, slerp } from '../../core/protocol';
import { loadModel, type Density, type LoadOptions, type Model } from '../lib';

export type Mode = 'mean' | 'sample';

export interface SampleResult {
  /** flattened rows in data space */
  rows: Float32Array[];
  ms: number;
}

/** log p(x) per row and what goes with it (the library's `Density`: conditional models add p(y | x)), timed. */
export type DensityResult = Density & { ms: number };

export interface SampleRequest {
  n: number;
  seed: number;
  /** absent: the model's sampleTemperature, else 1 (as the API) */
  temperature?: number;
  mode: Mode;
  /** class-conditional models: one class id for every row; absent: drawn from the prior with the seed, as the API does */
  label?: number;
  /** the sampler's precision, one of the model's `dtypes`; absent: its sampleDtype, else float32, as the API does */
  dtype?: Dtype;
}

export interface Engine {
  readonly name: 'browser' | 'api';
  sample(m: Manifest, req: SampleRequest): Promise<SampleResult>;
  /** decode latents (VAE: decoder mean); conditional models: of class `label` (absent: drawn as the API's decode does, seed 0) */
  decode(m: Manifest, z: Float32Array[], label?: number): Promise<SampleResult>;
  density(m: Manifest, x: Float32Array[], opts: { seed: number; k: number }): Promise<DensityResult>;
}

function split(data: Float32Array, n: number): Float32Array[] {
  const d = data.length / n;
  return Array.from({ length: n }, (_, i) => data.slice(i * d, (i + 1) * d));
}

/** Latents for interpolation: the z the sample endpoint would draw for each seed (n = 1). */
export function latentFor(m: Manifest, seed: number, temperature: number): Float32Array {
  return sampleNoiseFor(m, seed, 1, temperature).z;
}

/** The path the API's interpolate endpoint takes: slerp (core/protocol.ts), one row per step. */
export function interpolateLatents(a: Float32Array, b: Float32Array, steps: number): Float32Array[] {
  return split(slerp(a, b, steps), steps);
}

// ---------------------------------------------------------------- in the browser

/** The page's browser mode: the library (web/lib), one loaded model per id. */
export class BrowserEngine implements Engine {
  readonly name = 'browser' as const;
  private models = new Map<string, Promise<Model>>();
  private warmed = new Set<string>();

  constructor(private readonly opts: Pick<LoadOptions, 'device' | 'webgpuTolerance' | 'onProgress' | 'onDevice'>) {}

  /** The library's model for an id; its graphs open on first use (`load: []`), so listing models downloads none. */
  model(id: string): Promise<Model> {
    let p = this.models.get(id);
    if (!p) {
      p = loadModel(id, { ...this.opts, load: [] });
      p.catch(() => this.models.delete(id));
      this.models.set(id, p);
    }
    return p;
  }

  /**
   * Downloads, compiles and runs the sample graph once on one zero row, so the
   * timings shown exclude one-off costs (WebGPU compiles its shaders on first run).
   */
  private async warmSample(m: Manifest, dtype?: Dtype): Promise<Model> {
    const model = await this.model(m.id);
    const key = `${m.id}/${dtypeOf(m, dtype)}`;
    if (!this.warmed.has(key)) {
      await model.decode([new Float32Array(m.latentDim)], { mode: 'mean', dtype });
      this.warmed.add(key);
    }
    return model;
  }

  async sample(m: Manifest, req: SampleRequest): Promise<SampleResult> {
    const model = await this.warmSample(m, req.dtype);
    const t0 = performance.now();
    const { samples } = await model.sample({ n: req.n, seed: req.seed, temperature: req.temperature, mode: req.mode, label: req.label, dtype: req.dtype });
    return { rows: samples, ms: performance.now() - t0 };
  }

  async decode(m: Manifest, zs: Float32Array[], label?: number): Promise<SampleResult> {
    const model = await this.warmSample(m);
    const t0 = performance.now();
    const rows = await model.decode(zs, { mode: 'mean', label });
    return { rows, ms: performance.now() - t0 };
  }

  async density(m: Manifest, xs: Float32Array[], opts: { seed: number; k: number }): Promise<DensityResult> {
    if (!m.capabilities.includes('density')) throw new Error(m.unavailable.density ?? `${m.id} has no density`);
    const model = await this.model(m.id);
    const t0 = performance.now();
    const result = await model.density(xs, opts);
    return { ...result, ms: performance.now() - t0 };
  }
}

// ---------------------------------------------------------------- through the API

// ApiEngine lives in api.ts (the typed client).

/** Whether an API answers beside the page (GET healthz); a static host gives 404 or HTML. */
export async function probeApi(): Promise<boolean> {
  try {
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), 3000);
    const res = await fetch('healthz', { signal: ctl.signal, cache: 'no-store' });
    clearTimeout(timer);
    return res.ok && (res.headers.get('content-type') ?? '').includes('json');
  } catch {
    return false;
  }
}

