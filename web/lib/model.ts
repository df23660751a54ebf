/**
 * One model in the browser: `loadModel` reads its manifest, downloads and
 * opens its graphs, and the methods answer what the API's endpoints answer,
 * through the same graph protocol (core/protocol.ts) and the same seeded noise
 * (core/prng.ts), so a seed gives the API's numbers within the model's
 * cross-runtime tolerance.
 *
 * Noise conventions, as the API's:
 * - sample: `sampleNoiseFor`: z [n, L] then, for a VAE, the observation noise
 *   [n, D], both scaled by the temperature; a conditional model's classes,
 *   when none is named, drawn from the prior on a stream of the seed's own;
 * - decode: for a VAE, observation noise [n, D] from Prng(seed);
 * - density, score, classify: `densityInputs`: for images the dequantisation
 *   noise added to the integer pixels, then for a VAE eps [n, k, L].
 */
import type { Capability, Dtype, Manifest } from '../../core/manifest';
import { drawLabels, Prng } from '../../core/prng';
import {
  CROSS_RUNTIME_TOL,
  bitsPerDim,
  dataDim,
  densityInputs,
  dtypeOf,
  runDensity,
  runEncode,
  runSample,
  sampleLabelsFor,
  sampleNoiseFor,
  samplePasses,
  sampleTolerance,
  slerp,
  takesObservationNoise,
  temperatureOf,
  type Feeds,
  type RunGraph,
} from '../../core/protocol';
import { CLASSIFY_FPR, DEFAULT_FPR } from '../../core/score';
import { fetchGraph, fetchManifest, manifestUrl, type Progress } from './files';
import { Session, type Device, type DeviceInfo } from './runtime';
import { classifyDensity, scoreDensity, scoreK, type Classification, type Density, type Score } from './score';

/** Rows in data space: number[][] or Float32Array[], one flattened sample each (image models: pixels in [0, 256)). */
export type Rows = ReadonlyArray<ArrayLike<number>>;
/** A class of a conditional model: its id (0-based, the order of `classes`) or its name. */
export type ClassRef = number | string;

/** Where one graph of a model runs, and why (device 'auto' decides per graph). */
export interface DeviceChoice extends DeviceInfo {
  model: string;
  capability: Capability;
}

export interface LoadOptions {
  /** the models folder an id resolves against (it holds `<id>/manifest.json`); default `models/` beside the page */
  baseUrl?: string | URL;
  /** 'auto' (default): WebGPU where it runs this model and agrees with wasm, else wasm; or a provider, no fallback */
  device?: Device;
  /** download progress of each file; `done` once per file, `cached` when it came from the cache */
  onProgress?: Progress;
  /** keep downloaded graphs in the Cache API, keyed by their sha256 (default true) */
  cache?: boolean;
  /** graphs to download and open before loadModel resolves (default: all the model has); the rest open on first use */
  load?: Capability[];
  /** device 'auto': the agreement the WebGPU probe must reach; default the model's cross-runtime tolerance */
  webgpuTolerance?: number;
  /** told where each graph runs, as it opens */
  onDevice?: (choice: DeviceChoice) => void;
}

export interface SampleOptions {
  /** how many samples (default 16, as the API) */
  n?: number;
  /** the noise's seed (default: a random one, returned) */
  seed?: number;
  /** scales the latent noise, and the VAE's observation noise (default 1) */
  temperature?: number;
  /** conditional models: one class for every row, or one per row; absent: drawn from the prior with the seed */
  label?: ClassRef | ClassRef[];
  /** VAE: 'sample' draws x from p(x | z) (default), 'mean' gives the decoder mean */
  mode?: 'sample' | 'mean';
  /** the sampler's precision: 'float32', or 'int8' where the model lists it in `dtypes` (default: the model's sampleDtype, else float32) */
  dtype?: Dtype;
}

export interface Samples {
  /** one flattened row per sample, in data space */
  samples: Float32Array[];
  /** one sample's shape: [2], or [28, 28] for images */
  shape: number[];
  seed: number;
  /** conditional models: the class id of each row */
  labels?: number[];
}

export interface DecodeOptions {
  label?: ClassRef | ClassRef[];
  /** VAE: seed of the observation noise; conditional models: of the classes drawn when `label` is absent (default 0) */
  seed?: number;
  mode?: 'sample' | 'mean';
  /** as in SampleOptions */
  dtype?: Dtype;
}

export interface InterpolateOptions {
  seedA?: number;
  seedB?: number;
  /** points on the path, ends included (default 8) */
  steps?: number;
  temperature?: number;
  /** conditional models: the class of the whole path; absent: the class seedA draws */
  label?: ClassRef;
  /** as in SampleOptions */
  dtype?: Dtype;
}

export interface DensityOptions {
  /** seed of the dequantisation noise and the VAE's eps (default 0) */
  seed?: number;
  /** VAE: importance samples; 1 gives the ELBO, more the tighter IWAE bound (default 1) */
  k?: number;
}

export interface ScoreOptions {
  /** the false-positive rate the outlier threshold is calibrated for (default 0.05) */
  fpr?: number;
  /** seed of the dequantisation noise and the VAE's eps (default 0, as the calibration) */
  seed?: number;
}

export interface Encoding {
  z: Float32Array[];
  /** VAE: the posterior's log-variance */
  logvar?: Float32Array[];
}

const split = (data: Float32Array, n: number): Float32Array[] => {
  const d = data.length / n;
  return Array.from({ length: n }, (_, i) => data.slice(i * d, (i + 1) * d));
};

/** Rows -> one float32 block, each row checked for the width the graph takes. */
function stack(rows: Rows, width: number, what: string): Float32Array {
  if (rows.length === 0) throw new RangeError(`${what}: no rows`);
  const out = new Float32Array(rows.length * width);
  rows.forEach((r, i) => {
    if (r.length !== width) throw new RangeError(`${what}: row ${i} has ${r.length} values; this model takes ${width}`);
    out.set(r, i * width);
  });
  return out;
}

const randomSeed = (): number => crypto.getRandomValues(new Uint32Array(1))[0];

/** A model ready to run in this browser. Create one with `loadModel`. */
export class Model {
  readonly id: string;
  /** conditional models: the class names in id order; absent for unconditional ones */
  readonly classes?: readonly string[];
  /** where each opened graph runs, and why */
  readonly devices: Partial<Record<Capability, DeviceInfo>> = {};
  /** keyed by capability, and the sampler's dtype */
  private readonly sessions = new Map<string, Promise<Session>>();

  /** @internal use loadModel */
  constructor(
    readonly manifest: Manifest,
    private readonly base: URL,
    private readonly opts: LoadOptions = {},
  ) {
    this.id = manifest.id;
    this.classes = manifest.classes?.names;
  }

  /** one sample's shape: [2], or [28, 28] for images */
  get shape(): number[] {
    return this.manifest.shape;
  }

  /** what this model can do: 'sample', 'density', 'encode' (manifest.unavailable says why one is missing) */
  get capabilities(): Capability[] {
    return this.manifest.capabilities;
  }

  /** Downloads, checks and opens one graph (the sampler in `dtype`) once; later calls share it. */
  private session(cap: Capability, dtype: Dtype = 'float32'): Promise<Session> {
    const key = `${cap}/${dtype}`;
    let s = this.sessions.get(key);
    if (!s) {
      const m = this.manifest;
      if (!m.capabilities.includes(cap)) return Promise.reject(new Error(`${m.id} cannot ${cap}: ${m.unavailable[cap] ?? 'no such graph'}`));
      const graph = { id: m.id, shape: m.shape, tolerance: cap === 'sample' ? sampleTolerance(m) : CROSS_RUNTIME_TOL, passes: cap === 'sample' ? samplePasses(m) : 1, probe: () => probeFeeds(m, cap) };
      s = fetchGraph(m, this.base, cap, { cache: this.opts.cache, onProgress: this.opts.onProgress, dtype }).then((bytes) =>
        Session.create(bytes, graph, {
          device: this.opts.device,
          webgpuTolerance: this.opts.webgpuTolerance,
          onDevice: (d) => {
            this.devices[cap] = d;
            this.opts.onDevice?.({ ...d, model: m.id, capability: cap });
          },
        }),
      );
      s.catch(() => this.sessions.delete(key));
      this.sessions.set(key, s);
    }
    return s;
  }

  private async runner(cap: Capability, dtype?: Dtype): Promise<RunGraph> {
    const s = await this.session(cap, dtype);
    return (feeds) => s.run(feeds);
  }

  /** @internal opens graphs ahead of use (loadModel's `load`) */
  async open(caps: Capability[]): Promise<void> {
    await Promise.all(caps.map((c) => this.session(c, c === 'sample' ? dtypeOf(this.manifest) : 'float32')));
  }

  /** The class ids of `n` rows named by id or name (exactly, else ignoring case), as the API reads `label`. */
  classIds(label: ClassRef | ClassRef[], n: number): number[] {
    const names = this.classes;
    if (!names) throw new Error(`${this.id} is not class-conditional: it models p(x) alone, so it takes no label`);
    const one = (ref: ClassRef): number => {
      let id = typeof ref === 'number' ? ref : names.indexOf(ref);
      if (typeof ref === 'string' && id < 0) id = names.findIndex((c) => c.toLowerCase() === ref.toLowerCase());
      if (!Number.isInteger(id) || id < 0 || id >= names.length) {
        throw new RangeError(`${JSON.stringify(ref)} is not a class of ${this.id}; its classes are ${names.map((c, i) => (c === String(i) ? c : `${i} (${c})`)).join(', ')}`);
      }
      return id;
    };
    if (!Array.isArray(label)) return new Array(n).fill(one(label));
    if (label.length !== n) throw new RangeError(`${label.length} labels for ${n} rows: give one label, or one per row`);
    return label.map(one);
  }

  /** Each row's class: the ones named, else drawn from the prior with the seed (the API's rule); undefined for unconditional models. */
  private labelsFor(label: ClassRef | ClassRef[] | undefined, seed: number, n: number): number[] | undefined {
    if (label !== undefined) return this.classIds(label, n);
    const c = this.manifest.classes;
    return c ? Array.from(drawLabels(seed, n, c.prior)) : undefined;
  }

  private async decodeRows(z: Float32Array, n: number, mode: 'sample' | 'mean', noise: Float32Array | undefined, labels: number[] | undefined, dtype: Dtype | undefined): Promise<Float32Array[]> {
    const run = await this.runner('sample', dtypeOf(this.manifest, dtype));
    const label = labels && sampleLabelsFor(this.manifest, 0, n, labels);
    return split(await runSample(this.manifest, run, z, n, { noise, mode, label }), n);
  }

  /** n samples x = G(z), z ~ N(0, temperature^2 I), from the seed's noise: the API's /sample. */
  async sample(opts: SampleOptions = {}): Promise<Samples> {
    const m = this.manifest;
    const n = opts.n ?? 16;
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`n must be a positive integer, got ${n}`);
    const seed = opts.seed ?? randomSeed();
    const { z, noise } = sampleNoiseFor(m, seed, n, temperatureOf(m, opts.temperature));
    const labels = this.labelsFor(opts.label, seed, n);
    const samples = await this.decodeRows(z, n, opts.mode ?? 'sample', noise, labels, opts.dtype);
    return { samples, shape: m.shape, seed, ...(labels ? { labels } : {}) };
  }

  /** Latent rows z -> x through the generator, decoder or inverse flow: the API's /decode. */
  async decode(z: Rows, opts: DecodeOptions = {}): Promise<Float32Array[]> {
    const m = this.manifest;
    const n = z.length;
    const seed = opts.seed ?? 0;
    const noise = takesObservationNoise(m) ? new Prng(seed).normals(n * dataDim(m)) : undefined;
    return this.decodeRows(stack(z, m.latentDim, 'z'), n, opts.mode ?? 'sample', noise, this.labelsFor(opts.label, seed, n), opts.dtype);
  }

  /** The great-circle path between the latents of two seeds, decoded (VAE: decoder means): the API's /interpolate. */
  async interpolate(opts: InterpolateOptions = {}): Promise<Float32Array[]> {
    const m = this.manifest;
    const steps = opts.steps ?? 8;
    const t = temperatureOf(m, opts.temperature);
    const a = sampleNoiseFor(m, opts.seedA ?? 0, 1, t).z;
    const b = sampleNoiseFor(m, opts.seedB ?? 1, 1, t).z;
    // the whole path in one class, so only the style moves
    const label = this.labelsFor(opts.label, opts.seedA ?? 0, 1);
    return this.decodeRows(slerp(a, b, steps), steps, 'mean', undefined, label && new Array(steps).fill(label[0]), opts.dtype);
  }

  /** log p(x) per row, in nats (exact for flows and MADE, a bound for VAEs); conditional models add p(y | x): the API's /density. */
  async density(x: Rows, opts: DensityOptions = {}): Promise<Density> {
    const m = this.manifest;
    const D = dataDim(m);
    const raw = stack(x, D, 'x');
    if (m.discrete) {
      for (const v of raw) if (!(v >= 0 && v < 256)) throw new RangeError(`x must be pixels in [0, 256); found ${v}`);
    }
    const n = x.length;
    const k = opts.k ?? 1;
    const run = await this.runner('density');
    const inputs = densityInputs(m, raw, n, opts.seed ?? 0, k);
    const out = await runDensity(m, run, inputs.x, n, inputs.eps && { data: inputs.eps, k });
    const logp = Array.from(out.logp);
    return {
      logp,
      kind: out.kind,
      ...(m.discrete ? { bitsPerDim: logp.map((l) => bitsPerDim(l, D)) } : {}),
      ...(out.elbo ? { elbo: Array.from(out.elbo) } : {}),
      ...(out.posterior && m.classes ? { posterior: split(out.posterior, n).map((r) => Array.from(r)) } : {}),
    };
  }

  /** x -> z: the exact inverse for flows, the posterior mean and log-variance for VAEs: the API's /encode. */
  async encode(x: Rows): Promise<Encoding> {
    const m = this.manifest;
    const n = x.length;
    const run = await this.runner('encode');
    const out = await runEncode(m, run, stack(x, dataDim(m), 'x'), n);
    return out.logvar ? { z: split(out.z, n), logvar: split(out.logvar, n) } : { z: split(out.z, n) };
  }

  /** Anomaly score per row, calibrated on held-out data at export (core/score.ts): the API's /score. */
  async score(x: Rows, opts: ScoreOptions = {}): Promise<Score> {
    const d = await this.density(x, { seed: opts.seed ?? 0, k: scoreK(this.manifest) });
    return scoreDensity(this.manifest, x, d, opts.fpr ?? DEFAULT_FPR);
  }

  /** Bayes' rule over the class-conditional densities, abstaining on outliers and on uncertain rows: the API's /classify. */
  async classify(x: Rows, opts: ScoreOptions = {}): Promise<Classification> {
    const m = this.manifest;
    if (!m.classes) throw new Error(`${m.id} cannot classify: it is not class-conditional (it models p(x) without labels, so it has no p(x | y) to apply Bayes' rule to)`);
    const d = await this.density(x, { seed: opts.seed ?? 0, k: scoreK(m) });
    return classifyDensity(m, x, d, opts.fpr ?? CLASSIFY_FPR);
  }

  /** Releases the model's onnxruntime sessions; the model cannot run afterwards. */
  async dispose(): Promise<void> {
    const open = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(open.map((s) => s.then((x) => x.release(), () => undefined)));
  }
}

/**
 * A model by id (resolved against `baseUrl`, default `models/` beside the
 * page) or by the URL of its manifest.json (its graphs are read from beside
 * it). Resolves once the graphs in `load` (default: all) are downloaded,
 * checked against their sha256 and opened on the device.
 */
export async function loadModel(ref: string | URL, opts: LoadOptions = {}): Promise<Model> {
  // ids are plain names; anything with a slash, a scheme or a .json ending is a manifest's URL
  const byUrl = ref instanceof URL || /[/:]|\.json$/.test(ref);
  const url = byUrl ? new URL(ref, globalThis.document?.baseURI ?? globalThis.location?.href) : manifestUrl(ref, opts.baseUrl);
  const manifest = await fetchManifest(url);
  const model = new Model(manifest, url, opts);
  await model.open(opts.load ?? manifest.capabilities);
  return model;
}

/**
 * The feeds of a one-row run of a capability's graph, as core/protocol.ts
 * builds them (seed 0; mid-range x), caught at the graph's first call: what
 * device 'auto' runs on WebGPU and on wasm to decide between them.
 */
async function probeFeeds(m: Manifest, cap: Capability): Promise<Feeds> {
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
