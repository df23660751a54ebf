/**
 * The graph protocol: which feeds each capability's graph takes and how its
 * outputs are read, written once for every family from its descriptor
 * (core/families/). edge/ (the API), web/ (the page) and export/ (verification)
 * all run graphs through these functions, handing in a `run` that executes
 * one graph in their own runtime. Pure: no onnxruntime here.
 *
 * Randomness is drawn by the callers from core/prng.ts (`sampleNoise`,
 * `densityNoise`) and passed in, so a seed means the same thing everywhere.
 */
import { descriptorOf as describe } from './families';
import type { Capability, DensityKind, Dtype, Manifest, ManifestFile } from './manifest';
import { densityNoise, drawLabels, sampleNoise } from './prng';
import { dataDim, type Conditioning } from './spec';

export interface Tensor {
  data: Float32Array;
  dims: number[];
}
export type Feeds = Record<string, Tensor>;
/** Runs one graph (sample, density or encode) on named float32 inputs. */
/**
 * One run of a graph. `outputs`, when given, names the outputs the caller will
 * read: a runtime may return only those (the VAE's sample graph also computes
 * x_mean, which a sampling request does not read). Absent: every output.
 */
export type RunGraph = (feeds: Feeds, outputs?: readonly string[]) => Promise<Record<string, Tensor>>;

/** What the protocol needs to know of a model: its manifest, or the same fields of a spec. */
export type ModelInfo = Pick<Manifest, 'family' | 'shape' | 'latentDim'> & Partial<Pick<Manifest, 'discrete' | 'density' | 'classes' | 'sampleTemperature'>>;

export { dataDim };

/** Image models (samples of shape [H, W]) get image grids, PNGs and bits/dim. */
/** The cross-runtime contract: samples and densities of one seed agree within 1e-4 relative, |a - b| / max(1, |b|). */
export const CROSS_RUNTIME_TOL = 1e-4;

/**
 * The cross-runtime contract's measure: max |a - b| / max(1, |b|) over the
 * values (pixels run to 255, so an absolute 1e-4 would be 255x stricter on
 * images than on toys); NaN on either side counts as infinitely far.
 */
export function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`${a.length} values against ${b.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const e = Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(b[i]));
    worst = Number.isNaN(e) ? Infinity : Math.max(worst, e);
  }
  return worst;
}

/** What a model's samples are held to across runtimes: the contract, or the looser figure its export measured and stated (export/parity.ts). */
export const sampleTolerance = (m: Partial<Pick<Manifest, 'parity'>>): number => Math.max(CROSS_RUNTIME_TOL, m.parity?.samples ?? 0);

export const isImage = (m: Pick<Manifest, 'shape'>): boolean => m.shape.length === 2;

/** Whether the sample graph takes observation noise (the VAE's draw from p(x|z)). */
export const takesObservationNoise = (m: Pick<Manifest, 'family'>): boolean => !!describe(m).protocol.observationNoise;
/** Whether the density graph takes importance samples eps [N, K, L] (the VAE). */
export const importanceSampled = (m: Pick<Manifest, 'family'>): boolean => !!describe(m).protocol.importanceSampled;

/**
 * What one sample of an autoregressive family costs, in forward passes of its
 * net. Its sample graph runs the D sequential steps in one run, each doing
 * only the work its dimension adds (export/graphs/made.ts): about one pass of
 * arithmetic, but D small steps, whose fixed cost weighs most on narrow nets.
 * Measured at 64 rows, one thread, against one plain pass of the same net
 * (2026-12-07, a loaded 2-core machine, best of 12): the conditional MNIST
 * MADE (784-1024) 5.6 passes in onnxruntime-node, 2.6 in onnxruntime-web's
 * wasm; the 784-160 one 12.7 and 11.2 (the D runs of a one-pass graph that
 * it replaced: 800 to 1400). 2-D MADE: 2.4, as much as its 2 runs were.
 */
export const AUTOREGRESSIVE_SAMPLE_PASSES = 16;

/** What one sample costs in passes of the sample graph's net: 1, or for an autoregressive family AUTOREGRESSIVE_SAMPLE_PASSES (at most D). */
export function samplePasses(m: Pick<Manifest, 'family' | 'shape'>): number {
  return describe(m).protocol.autoregressive ? Math.min(dataDim(m), AUTOREGRESSIVE_SAMPLE_PASSES) : 1;
}

/** The work of sampling n rows, in data-sized rows: n x D x passes (what the API's budget counts). */
export function sampleWork(m: Pick<Manifest, 'family' | 'shape'>, n: number): number {
  return n * dataDim(m) * samplePasses(m);
}

/** What one density row costs in data-sized rows: C for a conditional model whose graph runs once per class (GraphProtocol.classTiled), else 1. */
export function densityClassFactor(m: Pick<ModelInfo, 'family' | 'classes'>): number {
  return m.classes && describe(m).protocol.classTiled ? m.classes.names.length : 1;
}

/** The temperature of a sample request: the one it names, else the model's `sampleTemperature`, else 1. */
export function temperatureOf(m: Pick<ModelInfo, 'sampleTemperature'>, requested?: number): number {
  return requested ?? m.sampleTemperature ?? 1;
}

/** The precision a sample, decode or interpolate runs the sampler at: the one asked for, else the model's `sampleDtype`, else float32. */
export function dtypeOf(m: Pick<Manifest, 'sampleDtype'>, requested?: Dtype): Dtype {
  return requested ?? m.sampleDtype ?? 'float32';
}

/**
 * The file of a capability's graph in `dtype`: the manifest's float32 file, or
 * its variant of that precision; undefined when the model ships none.
 */
export function graphEntry(m: Pick<Manifest, 'files' | 'variants'>, capability: Capability, dtype: Dtype): ManifestFile | undefined {
  return dtype === 'float32' ? m.files.find((f) => f.capability === capability) : m.variants?.find((v) => v.capability === capability && v.precision === dtype);
}

/** The noise of a sample request: z [n, L] then, where the family takes it, observation noise [n, D]. */
export function sampleNoiseFor(m: ModelInfo, seed: number, n: number, temperature: number): { z: Float32Array; noise?: Float32Array } {
  return sampleNoise(seed, n, m.latentDim, { temperature, observationDim: takesObservationNoise(m) ? dataDim(m) : undefined });
}

/**
 * z [n, L] -> x [n, D] through the sample graph. `mode` 'mean' reads the
 * decoder mean where the family has one (the VAE); observation noise absent
 * means zeros. Autoregressive families: `runAutoregressive`.
 */
export async function runSample(m: ModelInfo, run: RunGraph, z: Float32Array, n: number, opts: { noise?: Float32Array; mode?: 'mean' | 'sample'; label?: Float32Array } = {}): Promise<Float32Array> {
  const p = describe(m).protocol;
  const D = dataDim(m);
  const feeds: Feeds = { z: { data: z, dims: [n, m.latentDim] }, ...labelFeed(m, n, opts.label) };
  if (p.observationNoise) feeds.noise = { data: opts.noise ?? new Float32Array(n * D), dims: [n, D] };
  const name = p.observationNoise && opts.mode === 'mean' ? p.observationNoise.meanOutput : 'x';
  if (!p.autoregressive) return read(await run(feeds, [name]), name);
  return (await runAutoregressive(m, run, z, n, opts.label)).x;
}

/**
 * The `label` feed of a conditional model's sample graph: one-hot rows [n, C]
 * (`oneHot`). Conditional models need it (callers without a label draw one
 * from the prior: core/prng.ts `drawLabels`); unconditional ones refuse it.
 */
function labelFeed(m: ModelInfo, n: number, label: Float32Array | undefined): Feeds {
  const C = m.classes?.names.length ?? 0;
  if (!C) {
    if (label) throw new Error(`${m.family}: this model is not class-conditional; it takes no label`);
    return {};
  }
  if (!label) throw new Error(`${m.family}: a class-conditional model needs one-hot labels [${n}, ${C}]`);
  if (label.length !== n * C) throw new Error(`labels: ${label.length} values for [${n}, ${C}]`);
  return { label: { data: label, dims: [n, C] } };
}

/**
 * The `label` feed of a sample request: the given class ids (one per row), or
 * for a request that names none, ids drawn from the prior with the seed
 * (core/prng.ts `drawLabels`). Undefined for an unconditional model, which
 * refuses ids.
 */
export function sampleLabelsFor(m: ModelInfo, seed: number, n: number, ids?: ArrayLike<number>): Float32Array | undefined {
  const c = m.classes;
  if (!c) {
    if (ids) throw new Error(`${m.family}: this model is not class-conditional; it takes no label`);
    return undefined;
  }
  if (ids && ids.length !== n) throw new Error(`${ids.length} labels for ${n} rows`);
  return oneHot(ids ?? drawLabels(seed, n, c.prior), c.names.length);
}

/** Class ids -> one-hot rows [n, C] (the `label` input of conditional graphs). */
export function oneHot(ids: ArrayLike<number>, C: number): Float32Array {
  const out = new Float32Array(ids.length * C);
  for (let i = 0; i < ids.length; i++) {
    const y = ids[i];
    if (!Number.isInteger(y) || y < 0 || y >= C) throw new RangeError(`label ${y} is not a class id in [0, ${C})`);
    out[i * C + y] = 1;
  }
  return out;
}

/**
 * Per-class log-densities [n, C] (log p(x | y), or a bound on it) -> the
 * marginal log p(x) = logsumexp_y (log p(y) + log p(x | y)) per row, and the
 * posterior p(y | x) [n, C] by Bayes' rule. Float64 inside; a row whose every
 * class is -inf gives -inf and a uniform posterior.
 */
export function classMarginal(perClass: Float32Array, n: number, c: Pick<Conditioning, 'prior'>): { logp: Float32Array; posterior: Float32Array } {
  const C = c.prior.length;
  if (perClass.length !== n * C) throw new Error(`per-class log-densities: ${perClass.length} values for [${n}, ${C}]`);
  const logPrior = c.prior.map((p) => Math.log(p));
  const logp = new Float32Array(n);
  const posterior = new Float32Array(n * C);
  const a = new Float64Array(C);
  for (let r = 0; r < n; r++) {
    let max = -Infinity;
    for (let y = 0; y < C; y++) {
      a[y] = perClass[r * C + y] + logPrior[y];
      if (a[y] > max) max = a[y];
    }
    if (max === -Infinity || Number.isNaN(max)) {
      logp[r] = max;
      posterior.fill(1 / C, r * C, (r + 1) * C);
      continue;
    }
    let sum = 0;
    for (let y = 0; y < C; y++) sum += Math.exp(a[y] - max);
    const lse = max + Math.log(sum);
    logp[r] = lse;
    for (let y = 0; y < C; y++) posterior[r * C + y] = Math.exp(a[y] - lse);
  }
  return { logp, posterior };
}

/**
 * An autoregressive family's sample: x, and the final state y (what
 * runSamplePass takes). The sample graph fixes the D dimensions in order in
 * one run, sampling each dimension whose `y` feed is NaN and keeping the
 * number where there is one, so one run from all-NaN is the whole sample.
 * Graphs exported before that took one pass of the net per run; fed NaN they
 * answer NaN (NaN times a masked-out zero weight is still NaN) where the
 * sampler never can in dimension 0, which sees only biases: such a graph is
 * run the old way, D times (`perDimension`).
 */
export async function runAutoregressive(m: ModelInfo, run: RunGraph, z: Float32Array, n: number, label?: Float32Array): Promise<{ x: Float32Array; y: Float32Array }> {
  const D = dataDim(m);
  const lf = labelFeed(m, n, label);
  const free = new Float32Array(n * D).fill(NaN);
  const out = await run({ z: { data: z, dims: [n, m.latentDim] }, y: { data: free, dims: [n, D] }, ...lf });
  const y = read(out, 'y_next');
  if (n > 0 && Number.isNaN(y[0])) return perDimension(m, run, z, n, lf);
  return { x: read(out, 'x'), y };
}

/**
 * D runs of a one-pass sample graph (y_next_d depends on y_<d): starting from
 * y = 0, run d fixes dimension d. Only fixed dimensions are fed back (the rest
 * stay 0), since not-yet-fixed outputs can overflow.
 */
async function perDimension(m: ModelInfo, run: RunGraph, z: Float32Array, n: number, lf: Feeds): Promise<{ x: Float32Array; y: Float32Array }> {
  const D = dataDim(m);
  const y = new Float32Array(n * D);
  let x: Float32Array = y;
  for (let d = 0; d < D; d++) {
    const out = await run({ z: { data: z, dims: [n, m.latentDim] }, y: { data: y, dims: [n, D] }, ...lf });
    const next = read(out, 'y_next');
    for (let r = 0; r < n; r++) y[r * D + d] = next[r * D + d];
    x = read(out, 'x');
  }
  return { x, y };
}

/**
 * One run of an autoregressive sample graph from a given state y [n, D] with no
 * NaN (every dimension given): y_next and x. Fed the final y of a reference's
 * own sampling (teacher forcing), every y_next_d is computed from the
 * reference's y_<d, so the graph is checked without the D steps' rounding
 * compounding (export/verify.ts).
 */
export async function runSamplePass(m: ModelInfo, run: RunGraph, z: Float32Array, y: Float32Array, n: number, label?: Float32Array): Promise<{ yNext: Float32Array; x: Float32Array }> {
  if (!describe(m).protocol.autoregressive) throw new Error(`${m.family}: the sample graph is not autoregressive`);
  const D = dataDim(m);
  const out = await run({ z: { data: z, dims: [n, m.latentDim] }, y: { data: y, dims: [n, D] }, ...labelFeed(m, n, label) });
  return { yNext: read(out, 'y_next'), x: read(out, 'x') };
}

/**
 * The noise of a density request: dequantisation u for discrete models, eps
 * for importance-sampled families, and the dequantised x (integer pixel + u).
 */
export function densityInputs(m: ModelInfo, x: Float32Array, n: number, seed: number, k: number): { x: Float32Array; eps?: Float32Array } {
  const D = dataDim(m);
  const is = importanceSampled(m);
  const { u, eps } = densityNoise(seed, n, D, { dequantise: !!m.discrete, k: is ? k : undefined, latentDim: is ? m.latentDim : undefined });
  if (!u) return { x, eps };
  // integer pixel + U[0,1): a continuous density on [0,256)^D whose bits/dim compare with papers
  const xd = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) xd[i] = Math.floor(x[i]) + u[i];
  return { x: xd, eps };
}

export interface DensityOutputs {
  logp: Float32Array;
  kind: DensityKind;
  /** importance-sampled families: the ELBO beside the IWAE estimate */
  elbo?: Float32Array;
  /** conditional models: log p(x | y) per class [n, C] (of the same kind as logp), and p(y | x) [n, C] */
  perClass?: Float32Array;
  posterior?: Float32Array;
}

/**
 * x [n, D] (already dequantised) -> log p(x) per row: exact, or the ELBO (k = 1) / IWAE bound (k > 1).
 * A conditional model's graph answers per class (`logpy`, or `elboy` / `iwaey`
 * [n, C]); the marginal over the prior and the posterior come from `classMarginal`.
 */
export async function runDensity(m: ModelInfo, run: RunGraph, x: Float32Array, n: number, eps?: { data: Float32Array; k: number }): Promise<DensityOutputs> {
  const D = dataDim(m);
  const feeds: Feeds = { x: { data: x, dims: [n, D] } };
  const c = m.classes;
  if (!importanceSampled(m)) {
    const kind = m.density ?? describe(m).density ?? 'exact';
    if (!c) return { logp: read(await run(feeds), 'logp'), kind };
    const perClass = read(await run(feeds), 'logpy');
    return { ...classMarginal(perClass, n, c), kind, perClass };
  }
  if (!eps) throw new Error(`${m.family} density needs importance samples eps [n, k, ${m.latentDim}]`);
  const out = await importanceRuns(m, run, feeds, n, eps);
  if (!c) {
    const elbo = read(out, 'elbo');
    return eps.k > 1 ? { logp: read(out, 'iwae'), kind: 'iwae', elbo } : { logp: elbo, kind: 'elbo', elbo };
  }
  // log sum_y p(y) exp(bound_y) <= log p(x): each per-class bound stays a bound on the marginal
  const elboY = read(out, 'elboy');
  const elbo = classMarginal(elboY, n, c);
  if (eps.k === 1) return { logp: elbo.logp, kind: 'elbo', elbo: elbo.logp, perClass: elboY, posterior: elbo.posterior };
  const iwaeY = read(out, 'iwaey');
  return { ...classMarginal(iwaeY, n, c), kind: 'iwae', elbo: elbo.logp, perClass: iwaeY };
}

/**
 * Most decoder passes (k draws x the classes a conditional graph tiles) one
 * density run makes for a row; a larger k runs in chunks (`importanceRuns`).
 * A run's activations grow with k and wasm memory never shrinks (one 1-row conv
 * VAE density at its largest k grew it by 27 MiB). In core, so a seed's bits
 * are the same in the API, the page and the export's checks.
 */
export const DENSITY_DRAWS_PER_RUN = 256;

/**
 * The importance-sampled density graph over eps [n, k, L], in chunks of at
 * most DENSITY_DRAWS_PER_RUN / classes draws, as nearly equal as they come.
 * Each chunk j of k_j draws answers the mean (elbo) and log-mean-exp (iwae) of
 * its log weights; the whole k's are sum_j k_j elbo_j / k and
 * logsumexp_j (iwae_j + log k_j) - log k, per row (and per class).
 */
async function importanceRuns(m: ModelInfo, run: RunGraph, feeds: Feeds, n: number, eps: { data: Float32Array; k: number }): Promise<Record<string, Tensor>> {
  const L = m.latentDim;
  const { k } = eps;
  const most = Math.max(1, Math.floor(DENSITY_DRAWS_PER_RUN / densityClassFactor(m)));
  const chunks = Math.ceil(k / most);
  if (chunks === 1) return run({ ...feeds, eps: { data: eps.data, dims: [n, k, L] } });
  const outs: { k: number; out: Record<string, Tensor> }[] = [];
  for (let j = 0, start = 0; j < chunks; j++) {
    const end = Math.round(((j + 1) * k) / chunks);
    const kj = end - start;
    const data = new Float32Array(n * kj * L);
    for (let r = 0; r < n; r++) data.set(eps.data.subarray((r * k + start) * L, (r * k + end) * L), r * kj * L);
    outs.push({ k: kj, out: await run({ ...feeds, eps: { data, dims: [n, kj, L] } }) });
    start = end;
  }
  const combined: Record<string, Tensor> = {};
  for (const [name, first] of Object.entries(outs[0].out)) {
    const mean = name.startsWith('elbo');
    if (!mean && !name.startsWith('iwae')) throw new Error(`density graph output '${name}': cannot combine it over chunks of draws`);
    const data = first.data.map((_, i) => {
      if (mean) return outs.reduce((sum, o) => sum + o.k * o.out[name].data[i], 0) / k;
      const a = outs.map((o) => o.out[name].data[i] + Math.log(o.k));
      const max = Math.max(...a);
      return Number.isFinite(max) ? max + Math.log(a.reduce((sum, v) => sum + Math.exp(v - max), 0) / k) : max;
    });
    combined[name] = { data, dims: first.dims };
  }
  return combined;
}

/** x [n, D] -> z [n, L] (and the posterior log-variance where the family has one). */
export async function runEncode(m: ModelInfo, run: RunGraph, x: Float32Array, n: number): Promise<{ z: Float32Array; logvar?: Float32Array }> {
  const e = describe(m).protocol.encode;
  if (!e) throw new Error(`${m.family} models have no encoder`);
  const out = await run({ x: { data: x, dims: [n, dataDim(m)] } });
  return e.logvar ? { z: read(out, e.z), logvar: read(out, e.logvar) } : { z: read(out, e.z) };
}

/** bits per dimension of a log-density in nats */
export const bitsPerDim = (logp: number, D: number): number => -logp / (D * Math.LN2);

/**
 * Spherical interpolation between latents a and b, `steps` rows [steps, L].
 * Latents drawn from N(0, I) concentrate on a shell of radius sqrt(L); a
 * straight line between two of them passes through the improbable region
 * near the origin, while the great circle stays on the shell.
 */
export function slerp(a: Float32Array, b: Float32Array, steps: number): Float32Array {
  const L = a.length;
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < L; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  const omega = Math.acos(Math.min(1, Math.max(-1, dot / Math.sqrt(na * nb || 1))));
  const z = new Float32Array(steps * L);
  for (let s = 0; s < steps; s++) {
    const t = steps === 1 ? 0 : s / (steps - 1);
    // nearly parallel latents: slerp degenerates to lerp
    const wa = omega < 1e-6 ? 1 - t : Math.sin((1 - t) * omega) / Math.sin(omega);
    const wb = omega < 1e-6 ? t : Math.sin(t * omega) / Math.sin(omega);
    for (let i = 0; i < L; i++) z[s * L + i] = wa * a[i] + wb * b[i];
  }
  return z;
}

function read(out: Record<string, Tensor>, name: string): Float32Array {
  const t = out[name];
  if (!t) throw new Error(`graph has no output '${name}'`);
  return t.data;
}
