/**
 * What the views ask of a model, answered two ways with the same noise:
 * in the browser (onnxruntime-web) or by the API (/v1, through the typed client in api.ts).
 *
 * Noise conventions (shared with the API so a seed names the same result):
 * - sample: core/prng.ts `sampleNoise`: z [n, L] then, for a VAE, the
 *   observation noise [n, D], both scaled by the temperature.
 * - density: core/prng.ts `densityNoise`: first, for images, the dequantisation
 *   noise u [n, D] in [0, 1) added to the integer pixels; then, for a VAE, eps [n, K, L].
 */
import type { Capability, DensityKind, Manifest } from '../../core/manifest';
import { CROSS_RUNTIME_TOL, bitsPerDim, dataDim, densityInputs, runDensity, runEncode, runSample, sampleLabelsFor, sampleNoiseFor, samplePasses, sampleTolerance, slerp, takesObservationNoise, type Feeds, type RunGraph } from '../../core/protocol';
import { loadGraph, loadManifest, type Progress } from './models';
import { Session } from './runtime';

export type Mode = 'mean' | 'sample';

export interface SampleResult {
  /** flattened rows in data space */
  rows: Float32Array[];
  ms: number;
}

export interface DensityResult {
  logp: number[];
  kind: DensityKind;
  bitsPerDim?: number[];
  elbo?: number[];
  /** class-conditional models: p(y | x) per row, over manifest.classes.names */
  posterior?: number[][];
  ms: number;
}

export interface SampleRequest {
  n: number;
  seed: number;
  temperature: number;
  mode: Mode;
  /** class-conditional models: one class id for every row; absent: drawn from the prior with the seed, as the API does */
  label?: number;
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

function stack(rows: Float32Array[]): Float32Array {
  const d = rows[0]?.length ?? 0;
  const out = new Float32Array(rows.length * d);
  rows.forEach((r, i) => out.set(r, i * d));
  return out;
}

/** Latents for interpolation: the z the sample endpoint would draw for each seed (n = 1). */
export function latentFor(m: Manifest, seed: number, temperature: number): Float32Array {
  return sampleNoiseFor(m, seed, 1, temperature).z;
}

/** The path the API's interpolate endpoint takes: slerp (core/protocol.ts), one row per step. */
export function interpolateLatents(a: Float32Array, b: Float32Array, steps: number): Float32Array[] {
  return split(slerp(a, b, steps), steps);
}

export { bitsPerDim };

/**
 * The feeds of a one-row run of a capability's graph, as core/protocol.ts
 * builds them (seed 0; mid-range x), caught at the graph's first call: what
 * runtime.ts runs on WebGPU and on wasm to decide between them.
 */
export async function probeFeeds(m: Manifest, cap: Capability): Promise<Feeds> {
  let caught: Feeds | undefined;
  const stop = new Error('probe');
  const run: RunGraph = async (feeds) => {
    caught = feeds;
    throw stop;
  };
  const D = dataDim(m);
  const x = new Float32Array(D).map((_, i) => m.range[0] + ((m.range[1] - m.range[0]) * ((i * 37) % 101)) / 101);
  const { z, noise } = sampleNoiseFor(m, 0, 1, 1);
  try {
    if (cap === 'sample') await runSample(m, run, z, 1, { noise, mode: 'sample', label: sampleLabelsFor(m, 0, 1) });
    else if (cap === 'density') {
      const inputs = densityInputs(m, x, 1, 0, 1);
      await runDensity(m, run, inputs.x, 1, inputs.eps && { data: inputs.eps, k: 1 });
    } else await runEncode(m, run, x, 1);
  } catch (err) {
    if (err !== stop) throw err;
  }
  if (!caught) throw new Error(`no feeds for ${m.id}/${cap}`);
  return caught;
}

// ---------------------------------------------------------------- in the browser

export class BrowserEngine implements Engine {
  readonly name = 'browser' as const;
  private sessions = new Map<string, Promise<Session>>();
  private warmed = new Set<string>();

  constructor(private readonly onProgress: Progress) {}

  session(m: Manifest, cap: Capability): Promise<Session> {
    const key = `${m.id}/${cap}`;
    let s = this.sessions.get(key);
    if (!s) {
      s = loadGraph(m, cap, this.onProgress).then((bytes) => Session.create(bytes, { id: m.id, shape: m.shape, tolerance: cap === 'sample' ? sampleTolerance(m) : CROSS_RUNTIME_TOL, passes: cap === 'sample' ? samplePasses(m) : 1, probe: () => probeFeeds(m, cap) }));
      s.catch(() => this.sessions.delete(key));
      this.sessions.set(key, s);
    }
    return s;
  }

  private async runSample(m: Manifest, z: Float32Array, noise: Float32Array | undefined, n: number, mode: Mode, label?: Float32Array): Promise<Float32Array[]> {
    const s = await this.session(m, 'sample');
    const run: RunGraph = (feeds) => s.run(feeds);
    return split(await runSample(m, run, z, n, { noise, mode, label }), n);
  }

  /**
   * Downloads, compiles and runs the sample graph once on one zero row, so the
   * timings shown exclude one-off costs (WebGPU compiles its shaders on first run).
   */
  private async warmSample(m: Manifest): Promise<void> {
    await this.session(m, 'sample');
    if (this.warmed.has(m.id)) return;
    await this.runSample(m, new Float32Array(m.latentDim), undefined, 1, 'mean', sampleLabelsFor(m, 0, 1));
    this.warmed.add(m.id);
  }

  async sample(m: Manifest, req: SampleRequest): Promise<SampleResult> {
    await this.warmSample(m);
    const t0 = performance.now();
    const { z, noise } = sampleNoiseFor(m, req.seed, req.n, req.temperature);
    const label = sampleLabelsFor(m, req.seed, req.n, req.label === undefined ? undefined : new Array(req.n).fill(req.label));
    const rows = await this.runSample(m, z, noise, req.n, req.mode, label);
    return { rows, ms: performance.now() - t0 };
  }

  async decode(m: Manifest, zs: Float32Array[], label?: number): Promise<SampleResult> {
    await this.warmSample(m);
    const t0 = performance.now();
    const labels = sampleLabelsFor(m, 0, zs.length, label === undefined ? undefined : new Array(zs.length).fill(label));
    const rows = await this.runSample(m, stack(zs), undefined, zs.length, 'mean', labels);
    return { rows, ms: performance.now() - t0 };
  }

  async density(m: Manifest, xs: Float32Array[], opts: { seed: number; k: number }): Promise<DensityResult> {
    if (!m.capabilities.includes('density')) throw new Error(m.unavailable.density ?? `${m.id} has no density`);
    const s = await this.session(m, 'density');
    const t0 = performance.now();
    const n = xs.length;
    const { x, eps } = densityInputs(m, stack(xs), n, opts.seed, opts.k);
    const out = await runDensity(m, (feeds) => s.run(feeds), x, n, eps && { data: eps, k: opts.k });
    const result: Omit<DensityResult, 'ms'> = { logp: Array.from(out.logp), kind: out.kind };
    if (out.elbo) result.elbo = Array.from(out.elbo);
    if (out.posterior && m.classes) result.posterior = split(out.posterior, n).map((r) => Array.from(r));
    if (m.discrete) result.bitsPerDim = result.logp.map((l) => bitsPerDim(l, dataDim(m)));
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

export { loadManifest };
