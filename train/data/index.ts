/**
 * One interface over every data set: fixed train/test splits in data space,
 * plus seeded epoch shuffling, batching and (for images) uniform
 * dequantisation x = pixel + u, u ~ U[0, 1), so the model sees a continuous
 * density on [0, 256)^D and bits/dim follow the published convention.
 */
import { Prng, type Conditioning } from '../../core';
import { CLASS_NAMES, DataError, loadFashion, loadMnist } from './images';
import { sampleToy, toyLogDensity, TOY_ALIASES, TOYS, type ToyName } from './toys';

export { CLASS_NAMES, DataError, loadFashion, loadMnist, loadMnistAll, parseIdx } from './images';
export { sampleToy, toyLogDensity, toyLogDensityFn, TOYS, type ToyName } from './toys';

export const DATASETS = [...TOYS, 'mnist', 'fashion-mnist'] as const;

export interface Dataset {
  name: string;
  shape: number[];
  /** images: integer pixels 0..255, dequantised per batch */
  discrete: boolean;
  /** row-major [n, D]: Float32 data for toys, Uint8 pixels for images */
  train: Float32Array | Uint8Array;
  test: Float32Array | Uint8Array;
  nTrain: number;
  nTest: number;
  /** data-space range: toys the training bounding box, images [0, 256] */
  range: [number, number];
  /** labelled image sets: class ids per row of each split, and the class names in id order */
  trainLabels?: Uint8Array;
  testLabels?: Uint8Array;
  classes?: string[];
  /** true log-density for toys that have one (rows of a [n, 2] array) */
  logDensity?: (x: Float32Array) => Float64Array;
}

/** toy splits are drawn from fixed seeds: every run sees the same data */
const TOY_SEED = 7;
const TOY_TRAIN = 50_000;
const TOY_TEST = 5_000;

export function resolveDatasetName(name: string): string {
  const n = TOY_ALIASES[name] ?? name;
  if (!(DATASETS as readonly string[]).includes(n)) {
    throw new DataError(`unknown data set "${name}"; choose one of ${DATASETS.join(', ')}`);
  }
  return n;
}

export function loadDataset(name: string, opts: { fashionDir?: string; mnistDir?: string } = {}): Dataset {
  const n = resolveDatasetName(name);
  if (n === 'mnist' || n === 'fashion-mnist') {
    const { train, test } = n === 'mnist' ? loadMnist(opts.mnistDir) : { train: loadFashion('train', opts.fashionDir), test: loadFashion('test', opts.fashionDir) };
    return {
      name: n, shape: [28, 28], discrete: true, train: train.pixels, test: test.pixels, nTrain: train.n, nTest: test.n, range: [0, 256],
      trainLabels: train.labels, testLabels: test.labels, classes: CLASS_NAMES[n],
    };
  }
  const toy = n as ToyName;
  const train = sampleToy(toy, TOY_TRAIN, new Prng(TOY_SEED));
  const test = sampleToy(toy, TOY_TEST, new Prng(TOY_SEED + 1));
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of train) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  const ds: Dataset = { name: n, shape: [2], discrete: false, train, test, nTrain: TOY_TRAIN, nTest: TOY_TEST, range: [lo, hi] };
  if (toyLogDensity(toy, new Float32Array(2))) ds.logDensity = (x) => toyLogDensity(toy, x)!;
  return ds;
}

/** Per-dimension mean and std of the training split (used to standardise toys). */
export function stats(ds: Dataset): { mean: number[]; std: number[] } {
  const D = ds.shape.reduce((a, b) => a * b, 1);
  const mean = new Array(D).fill(0);
  const sq = new Array(D).fill(0);
  for (let i = 0; i < ds.nTrain; i++) {
    for (let d = 0; d < D; d++) {
      const v = ds.train[i * D + d];
      mean[d] += v;
      sq[d] += v * v;
    }
  }
  for (let d = 0; d < D; d++) {
    mean[d] /= ds.nTrain;
    sq[d] = Math.sqrt(Math.max(sq[d] / ds.nTrain - mean[d] * mean[d], 1e-12));
  }
  return { mean, std: sq };
}

/** The class-conditioning of a labelled data set: its class names and the training split's class frequencies. */
export function conditioning(ds: Dataset): Conditioning {
  if (!ds.trainLabels || !ds.classes) throw new DataError(`${ds.name} has no labels: --conditional needs mnist or fashion-mnist`);
  const counts = new Array(ds.classes.length).fill(0);
  for (const y of ds.trainLabels) counts[y] += 1;
  return { names: ds.classes, prior: counts.map((c) => c / ds.nTrain) };
}

/** The labels of rows `idx` of a split, one-hot [idx.length, C] (the `label` input of conditional models). */
export function labelRows(ds: Dataset, split: 'train' | 'test', idx: ArrayLike<number>): Float32Array {
  const labels = split === 'train' ? ds.trainLabels : ds.testLabels;
  if (!labels || !ds.classes) throw new DataError(`${ds.name} has no labels`);
  const C = ds.classes.length;
  const out = new Float32Array(idx.length * C);
  for (let i = 0; i < idx.length; i++) out[i * C + labels[idx[i]]] = 1;
  return out;
}

/** Rows [start, start + n) of a split as float32, dequantised with `rng` if discrete. */
export function rows(ds: Dataset, split: 'train' | 'test', idx: ArrayLike<number>, rng?: Prng): Float32Array {
  const D = ds.shape.reduce((a, b) => a * b, 1);
  const src = split === 'train' ? ds.train : ds.test;
  const out = new Float32Array(idx.length * D);
  for (let i = 0; i < idx.length; i++) out.set(src.subarray(idx[i] * D, (idx[i] + 1) * D), i * D);
  if (ds.discrete) {
    if (!rng) throw new Error('discrete data needs a PRNG for dequantisation');
    rng.addUniforms(out); // the same numbers as out[i] += rng.uniform() in order
  }
  return out;
}

/** Refuses a shift that is not a whole number >= 0, or any shift of a set that is not images. */
function checkShift(ds: Dataset, shift: number): void {
  if (!Number.isInteger(shift) || shift < 0) throw new Error(`shift must be a non-negative integer, got ${shift}`);
  if (shift && (ds.shape.length !== 2 || !ds.discrete)) throw new Error(`shifts translate images; ${ds.name} [${ds.shape}] is not an image set`);
}

/**
 * Training rows `idx` of an image set, each translated by (dx, dy) drawn
 * uniformly from the integers in [-shift, shift] (pixels moved in from outside
 * the frame are 0, the background of both image sets), then dequantised: the
 * augmentation that lets 9 000 digits stand for more. Every number comes from
 * `rng`, two draws a row and then the dequantisation, so a seed repeats it.
 */
export function shiftedRows(ds: Dataset, idx: ArrayLike<number>, shift: number, rng: Prng): Float32Array {
  checkShift(ds, shift);
  const [H, W] = ds.shape;
  const D = H * W;
  const out = new Float32Array(idx.length * D);
  for (let i = 0; i < idx.length; i++) {
    const dy = Math.floor(rng.uniform() * (2 * shift + 1)) - shift;
    const dx = Math.floor(rng.uniform() * (2 * shift + 1)) - shift;
    const src = ds.train.subarray(idx[i] * D, (idx[i] + 1) * D);
    for (let r = Math.max(0, dy); r < Math.min(H, H + dy); r++) {
      for (let c = Math.max(0, dx); c < Math.min(W, W + dx); c++) out[i * D + r * W + c] = src[(r - dy) * W + (c - dx)];
    }
  }
  rng.addUniforms(out);
  return out;
}

/**
 * Endless seeded batches over the training split: a fresh Fisher-Yates
 * permutation each epoch; the last partial batch of an epoch is dropped so
 * every step sees `batch` rows. `position` makes resuming exact. With `shift`
 * > 0 each image is translated at random first (`shiftedRows`).
 */
export class Batches {
  private perm: Int32Array;
  private epoch = 0;
  private i = 0;
  /** the training-split rows of the last batch `next` gave (for its labels) */
  last: Int32Array = new Int32Array(0);

  constructor(private readonly ds: Dataset, readonly batch: number, private readonly seed: number, private readonly shift = 0) {
    if (!Number.isInteger(batch) || batch < 1) throw new Error(`batch size must be a positive integer, got ${batch}`);
    checkShift(ds, shift);
    if (batch > ds.nTrain) throw new Error(`batch size ${batch} exceeds the ${ds.nTrain} training rows of ${ds.name}`);
    this.perm = this.permutation(0);
  }

  private permutation(epoch: number): Int32Array {
    const p = Int32Array.from({ length: this.ds.nTrain }, (_, k) => k);
    new Prng((this.seed + 0x9e3779b9 * (epoch + 1)) >>> 0).shuffle(p);
    return p;
  }

  /** Row-major float32 [batch, D]; `rng` draws the dequantisation noise. */
  next(rng: Prng): Float32Array {
    if (this.i + this.batch > this.perm.length) {
      this.epoch += 1;
      this.perm = this.permutation(this.epoch);
      this.i = 0;
    }
    const idx = this.perm.subarray(this.i, this.i + this.batch);
    this.last = idx;
    this.i += this.batch;
    return this.shift ? shiftedRows(this.ds, idx, this.shift, rng) : rows(this.ds, 'train', idx, rng);
  }

  get position(): { epoch: number; index: number } {
    return { epoch: this.epoch, index: this.i };
  }

  seek(pos: { epoch: number; index: number }): void {
    this.epoch = pos.epoch;
    this.perm = this.permutation(pos.epoch);
    this.i = pos.index;
  }
}
