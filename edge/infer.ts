/**
 * What each endpoint computes, on top of the graph protocol in core/protocol.ts
 * (which feeds each family's graphs take and how their outputs are read; the
 * page and the exporter run the same code). All randomness comes from
 * core/prng.ts, drawn here before any graph runs, so a seed means the same
 * thing in Node, the Worker and the browser.
 */
import type { DensityResponse } from '../core/api';
import type { Capability, DensityKind, Manifest } from '../core/manifest';
import { Prng } from '../core/prng';
import { dataDim, densityInputs, importanceSampled, runDensity, runEncode, runSample, sampleLabelsFor, sampleNoiseFor, samplePasses, sampleWork, slerp, takesObservationNoise, type RunGraph } from '../core/protocol';
import { limitsOf } from './budget';
import { HttpError, badRequest } from './errors';
import { JsonBytes, float32Json } from './float32';
import type { Tensor } from './runtime';
import type { ModelStore } from './store';
import type { Phases } from './timing';

export { isImage } from '../core/protocol';

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

/**
 * Admit `units` of work (503 overloaded beyond the store's bound), then run
 * `fn` with the capability's session as the protocol's `run`, held for the
 * whole call; the time from here to the end is the request's `run` phase.
 */
async function running<T>(
  store: ModelStore,
  m: Manifest,
  capability: Capability,
  units: number,
  ph: Phases | undefined,
  fn: (run: RunGraph) => Promise<T>,
  opts: { spareFeeds?: boolean } = {},
): Promise<T> {
  const done = store.admit(units);
  // spareFeeds: the caller's arrays are its own and go unread after the run (runtime.ts Tensor.spare)
  const mark = (feeds: Record<string, Tensor>) => (opts.spareFeeds ? Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, { ...t, spare: true }])) : feeds);
  try {
    return await store.use(m, capability, (session) => fn((feeds, outputs) => session.run(mark(feeds), ph, outputs)), ph?.open);
  } finally {
    done();
    ph?.lap('run');
  }
}

/** z [n, L] -> x [n, D] through the sample graph (VAE: with observation noise or its mean; conditional models: of the one-hot classes `label`). */
async function decodeLatents(store: ModelStore, m: Manifest, z: Float32Array, n: number, mode: 'mean' | 'sample', noise?: Float32Array, ph?: Phases, label?: Float32Array): Promise<Batch> {
  ph?.lap('noise');
  // z and noise are this request's own; a one-pass graph reads them once (an autoregressive one D times)
  const spareFeeds = samplePasses(m) === 1;
  const x = await running(store, m, 'sample', sampleWork(m, n), ph, (run) => runSample(m, run, z, n, { noise, mode, label }), { spareFeeds });
  return { data: finite(x, 'x'), n, width: dataDim(m) };
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
export function labelIds(m: Manifest, label: number | string | Array<number | string> | undefined, n: number, at = 'body.label'): Int32Array | undefined {
  if (label === undefined) return undefined;
  if (!m.classes) throw new HttpError(422, 'capability_unavailable', `${m.id} is not class-conditional: it models p(x) alone, so it takes no label (GET /v1/models lists each model's classes)`);
  if (!Array.isArray(label)) return new Int32Array(n).fill(classId(m, label, at));
  if (label.length !== n) throw badRequest('bad_shape', `${at} has ${label.length} labels for n = ${n} rows: give one label, or one per row`);
  return Int32Array.from(label, (ref, i) => classId(m, ref, `${at}[${i}]`));
}

export async function sample(
  store: ModelStore,
  m: Manifest,
  req: { n: number; seed: number; temperature: number; mode: 'mean' | 'sample'; label?: number | string | Array<number | string> },
  ph?: Phases,
): Promise<Batch> {
  store.require(m, 'sample');
  const ids = labelIds(m, req.label, req.n);
  ph?.lap('parse');
  const { z, noise } = sampleNoiseFor(m, req.seed, req.n, req.temperature);
  return decodeLatents(store, m, z, req.n, req.mode, noise, ph, sampleLabelsFor(m, req.seed, req.n, ids));
}

export async function decode(
  store: ModelStore,
  m: Manifest,
  req: { z: number[][]; mode: 'mean' | 'sample'; seed: number; label?: number | string | Array<number | string> },
  ph?: Phases,
): Promise<Batch> {
  store.require(m, 'sample', 'decode');
  const z = flatten(req.z, m.latentDim, 'z');
  const n = req.z.length;
  const ids = labelIds(m, req.label, n);
  ph?.lap('parse');
  const noise = takesObservationNoise(m) ? new Prng(req.seed).normals(n * dataDim(m)) : undefined;
  // conditional, no label: each row's class drawn from the prior with the seed, as a sample request draws it
  return decodeLatents(store, m, z, n, req.mode, noise, ph, sampleLabelsFor(m, req.seed, n, ids));
}

/** 422 unless the model can interpolate: it samples, and 2 steps fit the work budget (checked, not assumed: an autoregressive model's sampling cost counts). */
export function requireInterpolate(m: Manifest, store?: ModelStore): void {
  store?.require(m, 'sample', 'interpolate');
  if (limitsOf(m).interpolate === undefined) {
    throw new HttpError(422, 'capability_unavailable', `${m.id} cannot interpolate: it samples one dimension per graph run, and even 2 steps are over the work budget of a request`);
  }
}

/** Spherical interpolation (core/protocol.ts `slerp`) between the latents two seeds draw. */
export async function interpolate(
  store: ModelStore,
  m: Manifest,
  req: { seedA: number; seedB: number; steps: number; temperature: number; label?: number | string },
  ph?: Phases,
): Promise<Batch> {
  requireInterpolate(m);
  ph?.lap('parse');
  const a = sampleNoiseFor(m, req.seedA, 1, req.temperature).z;
  const b = sampleNoiseFor(m, req.seedB, 1, req.temperature).z;
  // conditional: the whole path in one class (named, or the one seedA draws), so only the style moves
  const ids = labelIds(m, req.label, 1);
  const label = m.classes ? sampleLabelsFor(m, req.seedA, 1, ids) : undefined;
  const labels = label && new Float32Array(req.steps * label.length).map((_, i) => label[i % label.length]);
  // the VAE path shows decoder means: observation noise would hide the smooth path
  return decodeLatents(store, m, slerp(a, b, req.steps), req.steps, 'mean', undefined, ph, labels);
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

export async function density(
  store: ModelStore,
  m: Manifest,
  req: { x: number[][]; k: number; seed: number },
  ph?: Phases,
): Promise<DensityResult> {
  store.require(m, 'density', 'compute a density');
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
  const units = n * D * (importanceSampled(m) ? req.k : 1);
  const out = await running(store, m, 'density', units, ph, (run) => runDensity(m, run, x, n, eps && { data: eps, k: req.k }));
  const elbo = out.elbo && finite(out.elbo, 'elbo');
  return { logp: finite(out.logp, out.kind === 'exact' ? 'logp' : out.kind), kind: out.kind, ...(elbo ? { elbo } : {}), ...(out.posterior ? { posterior: out.posterior } : {}), D };
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

export async function encode(store: ModelStore, m: Manifest, req: { x: number[][] }, ph?: Phases): Promise<EncodeResult> {
  store.require(m, 'encode', 'encode x -> z');
  const n = req.x.length;
  const x = flatten(req.x, dataDim(m), 'x');
  ph?.lap('parse');
  const out = await running(store, m, 'encode', n * dataDim(m), ph, (run) => runEncode(m, run, x, n));
  const z = finite(out.z, 'z');
  const width = z.length / n;
  return out.logvar ? { z: { data: z, n, width }, logvar: { data: finite(out.logvar, 'logvar'), n, width } } : { z: { data: z, n, width } };
}

/** The JSON answer of encode, {z[, logvar]}, as bytes written from the float32 rows (float32.ts JsonBytes). */
export function encodeJson(r: EncodeResult): Uint8Array<ArrayBuffer> {
  const out = new JsonBytes(r.z.data.length * (r.logvar ? 24 : 12) + 32).ascii('{"z":').rows(r.z.data, r.z.n, r.z.width);
  if (r.logvar) out.ascii(',"logvar":').rows(r.logvar.data, r.logvar.n, r.logvar.width);
  return out.ascii('}').bytes();
}
