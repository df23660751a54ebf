/**
 * What each endpoint computes, per family, on top of the graph signatures in
 * core/manifest.ts. All randomness comes from core/prng.ts, drawn here before
 * any graph runs, so a seed means the same thing in Node, the Worker and the
 * browser.
 */
import type { DensityResponse, EncodeResponse } from '../core/api';
import type { DensityKind, Manifest } from '../core/manifest';
import { densityNoise, Prng, sampleNoise } from '../core/prng';
import { HttpError, badRequest } from './errors';
import type { ModelStore } from './store';
import type { Tensor } from './runtime';

export const dataDimOf = (m: Manifest) => m.shape.reduce((a, b) => a * b, 1);
/** Image models get PNG grids and bits/dim. */
export const isImage = (m: Manifest) => m.discrete && m.shape.length >= 2;

/** Output of a batch: n rows of `width` floats. */
export interface Batch {
  data: Float32Array;
  n: number;
  width: number;
}

/**
 * Float32 outputs as JSON rows. Nine significant digits identify a float32
 * uniquely, so Math.fround (or a Float32Array) recovers every value bit for bit,
 * while the JSON is about half as long as printing the widened doubles.
 */
export function toRows(b: Batch): number[][] {
  const rows: number[][] = [];
  for (let i = 0; i < b.n; i++) {
    const row = new Array<number>(b.width);
    for (let j = 0; j < b.width; j++) row[j] = float32Json(b.data[i * b.width + j]);
    rows.push(row);
  }
  return rows;
}

function float32Json(v: number): number {
  return Number.isFinite(v) ? Number(v.toPrecision(9)) : v;
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
function output(outputs: Record<string, Tensor>, name: string): Float32Array {
  const t = outputs[name];
  if (!t) throw new Error(`graph has no output '${name}'`);
  for (let i = 0; i < t.data.length; i++) {
    if (!Number.isFinite(t.data[i])) {
      throw new HttpError(
        422,
        'non_finite_output',
        `the model's ${name} overflowed float32 (got ${t.data[i]}) for these inputs; inputs far outside the model's data range can do this`,
      );
    }
  }
  return t.data;
}

/** z [n, L] -> x [n, D] through the sample graph (VAE: with observation noise or its mean). */
async function decodeLatents(
  store: ModelStore,
  m: Manifest,
  z: Float32Array,
  n: number,
  mode: 'mean' | 'sample',
  noise: () => Float32Array,
): Promise<Batch> {
  const session = await store.session(m, 'sample');
  const D = dataDimOf(m);
  const feeds: Record<string, Tensor> = { z: { data: z, dims: [n, m.latentDim] } };
  if (m.family === 'vae') feeds.noise = { data: noise(), dims: [n, D] };
  const out = await session.run(feeds);
  const name = m.family === 'vae' && mode === 'mean' ? 'x_mean' : 'x';
  return { data: output(out, name), n, width: D };
}

export async function sample(
  store: ModelStore,
  m: Manifest,
  req: { n: number; seed: number; temperature: number; mode: 'mean' | 'sample' },
): Promise<Batch> {
  store.require(m, 'sample');
  const D = dataDimOf(m);
  const { z, noise } = sampleNoise(req.seed, req.n, m.latentDim, {
    temperature: req.temperature,
    observationDim: m.family === 'vae' ? D : undefined,
  });
  return decodeLatents(store, m, z, req.n, req.mode, () => noise!);
}

export async function decode(
  store: ModelStore,
  m: Manifest,
  req: { z: number[][]; mode: 'mean' | 'sample'; seed: number },
): Promise<Batch> {
  store.require(m, 'sample', 'decode');
  const z = flatten(req.z, m.latentDim, 'z');
  const n = req.z.length;
  return decodeLatents(store, m, z, n, req.mode, () => new Prng(req.seed).normals(n * dataDimOf(m)));
}

/**
 * Spherical interpolation: latents drawn from N(0, I) concentrate on a shell of
 * radius sqrt(L), and a straight line between two of them passes through the
 * improbable region near the origin; the great circle stays on the shell.
 */
export async function interpolate(
  store: ModelStore,
  m: Manifest,
  req: { seedA: number; seedB: number; steps: number; temperature: number },
): Promise<Batch> {
  store.require(m, 'sample', 'interpolate');
  const L = m.latentDim;
  const a = sampleNoise(req.seedA, 1, L, { temperature: req.temperature }).z;
  const b = sampleNoise(req.seedB, 1, L, { temperature: req.temperature }).z;
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < L; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  const omega = Math.acos(Math.min(1, Math.max(-1, dot / Math.sqrt(na * nb || 1))));
  const z = new Float32Array(req.steps * L);
  for (let s = 0; s < req.steps; s++) {
    const t = s / (req.steps - 1);
    // nearly parallel latents: slerp degenerates to lerp
    const wa = omega < 1e-6 ? 1 - t : Math.sin((1 - t) * omega) / Math.sin(omega);
    const wb = omega < 1e-6 ? t : Math.sin(t * omega) / Math.sin(omega);
    for (let i = 0; i < L; i++) z[s * L + i] = wa * a[i] + wb * b[i];
  }
  // the VAE path shows decoder means: observation noise would hide the smooth path
  return decodeLatents(store, m, z, req.steps, 'mean', () => new Float32Array(req.steps * dataDimOf(m)));
}

/** Raw float32 outputs of density: logp per row (VAE: the IWAE bound for k > 1, else the ELBO). */
export interface DensityResult {
  logp: Float32Array;
  kind: DensityKind;
  elbo?: Float32Array;
  /** data dimension, for bits/dim */
  D: number;
}

export async function density(
  store: ModelStore,
  m: Manifest,
  req: { x: number[][]; k: number; seed: number },
): Promise<DensityResult> {
  store.require(m, 'density', 'compute a density');
  const D = dataDimOf(m);
  const n = req.x.length;
  const x = flatten(req.x, D, 'x');
  const isVae = m.family === 'vae';
  if (m.discrete) {
    for (let i = 0; i < x.length; i++) {
      if (x[i] < 0 || x[i] >= 256) throw badRequest('out_of_range', `x must be pixels in [0, 256); found ${x[i]}`);
    }
  }
  const { u, eps } = densityNoise(req.seed, n, D, {
    dequantise: m.discrete,
    k: isVae ? req.k : undefined,
    latentDim: isVae ? m.latentDim : undefined,
  });
  // integer pixel + U[0,1): a continuous density on [0,256)^D whose bits/dim compare with papers
  if (u) for (let i = 0; i < x.length; i++) x[i] = Math.floor(x[i]) + u[i];
  const session = await store.session(m, 'density');
  const feeds: Record<string, Tensor> = { x: { data: x, dims: [n, D] } };
  if (eps) feeds.eps = { data: eps, dims: [n, req.k, m.latentDim] };
  const out = await session.run(feeds);
  if (isVae) {
    const elbo = output(out, 'elbo');
    return req.k > 1 ? { logp: output(out, 'iwae'), kind: 'iwae', elbo, D } : { logp: elbo, kind: 'elbo', elbo, D };
  }
  return { logp: output(out, 'logp'), kind: m.density ?? 'exact', D };
}

/** The JSON answer of density: float32 values at 9 digits, plus bits/dim for image models. */
export function densityJson(r: DensityResult, m: Manifest): DensityResponse {
  const res: DensityResponse = { logp: listOf(r.logp), kind: r.kind };
  if (r.elbo) res.elbo = listOf(r.elbo);
  if (m.discrete) res.bitsPerDim = res.logp.map((lp) => -lp / (r.D * Math.LN2));
  return res;
}



/** Raw float32 outputs of encode: z rows (flow: the exact inverse; VAE: the posterior mean) and, for VAEs, logvar. */
export interface EncodeResult {
  z: Batch;
  logvar?: Batch;
}

export async function encode(store: ModelStore, m: Manifest, req: { x: number[][] }): Promise<EncodeResult> {
  store.require(m, 'encode', 'encode x -> z');
  const D = dataDimOf(m);
  const n = req.x.length;
  const x = flatten(req.x, D, 'x');
  const session = await store.session(m, 'encode');
  const out = await session.run({ x: { data: x, dims: [n, D] } });
  if (m.family === 'vae') {
    const L = m.latentDim;
    return { z: { data: output(out, 'mu'), n, width: L }, logvar: { data: output(out, 'logvar'), n, width: L } };
  }
  return { z: { data: output(out, 'z'), n, width: D } };
}

export function encodeJson(r: EncodeResult): EncodeResponse {
  return r.logvar ? { z: toRows(r.z), logvar: toRows(r.logvar) } : { z: toRows(r.z) };
}
