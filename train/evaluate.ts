/**
 * Held-out evaluation, the same for every run of a data set (fixed test rows,
 * fixed dequantisation and posterior noise), so numbers compare across steps
 * and runs:
 * by the family's density kind (core/families/):
 * - exact (flow, MADE): testNll = mean -log p(x) in nats; images bitsPerDim = testNll / (D ln 2)
 * - elbo (VAE): elbo and iwae (mean over test rows, nats, K importance samples);
 *          testNll / bitsPerDim from the IWAE bound (the tighter one)
 * - none (GAN): mmd, the unbiased squared MMD between generated and test samples
 *          with a Gaussian kernel whose bandwidth is the median test distance
 * - conditional density models also get accuracy: the share of test rows
 *          whose Bayes posterior argmax_y log p(y) + log p(x | y) is their label
 * - toys with a closed-form density also get trueNll, the test entropy
 *   estimate: the best testNll any model can reach.
 */
import * as tf from '@tensorflow/tfjs';
import { classCount, dataDim, drawLabels, familyOf, latentDimOf, oneHot, Prng } from '../core';
import { rows, type Dataset } from './data';
import type { TrainableModel } from './models';
import { gridPoints, imageGrid, scatterOverHeat } from './png';

export const EVAL_SEED = 424242;

export interface EvalOptions {
  /** test rows used (default: toys 2000, images 1000) */
  n?: number;
  /** VAE importance samples */
  k?: number;
}

function testRows(ds: Dataset, n: number): Float32Array {
  const idx = Array.from({ length: Math.min(n, ds.nTest) }, (_, i) => i);
  return rows(ds, 'test', idx, new Prng(EVAL_SEED));
}

/** Mean over rows of a per-row tensor computed in chunks (bounded memory). */
function chunkedMean(x: Float32Array, D: number, chunk: number, f: (xb: tf.Tensor2D, offset: number) => tf.Tensor1D[]): number[] {
  const n = x.length / D;
  let sums: number[] = [];
  for (let o = 0; o < n; o += chunk) {
    const m = Math.min(chunk, n - o);
    const xb = tf.tensor2d(x.subarray(o * D, (o + m) * D), [m, D]);
    const outs = f(xb, o);
    const vals = outs.map((t) => (t.dataSync() as Float32Array).reduce((a, b) => a + b, 0));
    sums = sums.length ? sums.map((s, i) => s + vals[i]) : vals;
    tf.dispose([xb, ...outs]);
  }
  return sums.map((s) => s / n);
}

/** Unbiased MMD^2 with k(a, b) = exp(-|a - b|^2 / (2 h^2)). */
export function mmd2(a: Float32Array, b: Float32Array, D: number, h: number): number {
  return tf.tidy(() => {
    const A = tf.tensor2d(a, [a.length / D, D]);
    const B = tf.tensor2d(b, [b.length / D, D]);
    const sq = (u: tf.Tensor2D, v: tf.Tensor2D) =>
      tf.relu(tf.add(tf.sub(tf.sum(tf.square(u), 1, true), tf.mul(2, tf.matMul(u, v, false, true))), tf.transpose(tf.sum(tf.square(v), 1, true))));
    const k = (u: tf.Tensor2D, v: tf.Tensor2D) => tf.exp(tf.div(sq(u, v), -2 * h * h));
    const n = A.shape[0];
    const m = B.shape[0];
    // drop the diagonal (k(a, a) = 1) for the unbiased within-sample terms
    const kaa = tf.div(tf.sub(tf.sum(k(A, A)), n), n * (n - 1));
    const kbb = tf.div(tf.sub(tf.sum(k(B, B)), m), m * (m - 1));
    const kab = tf.div(tf.sum(k(A, B)), n * m);
    return tf.sub(tf.add(kaa, kbb), tf.mul(2, kab)).dataSync()[0];
  });
}

/** Median pairwise distance of up to 500 rows: the kernel bandwidth heuristic. */
export function medianDistance(x: Float32Array, D: number): number {
  const n = Math.min(500, x.length / D);
  const d: number[] = [];
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      let s = 0;
      for (let k = 0; k < D; k++) s += (x[i * D + k] - x[j * D + k]) ** 2;
      d.push(Math.sqrt(s));
    }
  }
  d.sort((p, q) => p - q);
  return d[Math.floor(d.length / 2)];
}

/**
 * Draws n samples in data space (VAE: the decoder mean, which is what one looks at).
 * Conditional models: class ids `labels` (default: drawn from the prior with the seed).
 */
export function drawSamples(model: TrainableModel, n: number, seed: number, labels?: ArrayLike<number>): Float32Array {
  const L = latentDimOf(model.spec);
  const C = classCount(model.spec);
  const z = tf.tensor2d(new Prng(seed).normals(n * L), [n, L]);
  const y = C ? tf.tensor2d(oneHot(labels ?? drawLabels(seed, n, model.spec.conditional!.prior), C), [n, C]) : undefined;
  const out = model.sample(z, undefined, y);
  const x = (out.xMean ?? out.x).dataSync() as Float32Array;
  tf.dispose([z, out.x, out.xMean ?? [], y ?? []]);
  return x;
}

/** Bayes accuracy of a conditional density model on test rows x: argmax_y of log p(y) + log p(x | y) against the labels. */
function bayesAccuracy(perClass: Float32Array, labels: Uint8Array, prior: number[]): number {
  const C = prior.length;
  const n = perClass.length / C;
  let right = 0;
  for (let r = 0; r < n; r++) {
    let best = 0;
    for (let y = 1; y < C; y++) if (perClass[r * C + y] + Math.log(prior[y]) > perClass[r * C + best] + Math.log(prior[best])) best = y;
    if (best === labels[r]) right += 1;
  }
  return right / n;
}

/** Per-class values [n, C] of a density output, chunked like chunkedMean. */
function chunkedRows(x: Float32Array, D: number, C: number, chunk: number, f: (xb: tf.Tensor2D) => tf.Tensor2D): Float32Array {
  const n = x.length / D;
  const out = new Float32Array(n * C);
  for (let o = 0; o < n; o += chunk) {
    const m = Math.min(chunk, n - o);
    tf.tidy(() => out.set(f(tf.tensor2d(x.subarray(o * D, (o + m) * D), [m, D])).dataSync() as Float32Array, o * C));
  }
  return out;
}

export function evaluate(model: TrainableModel, ds: Dataset, opts: EvalOptions = {}): Record<string, number> {
  const spec = model.spec;
  const D = dataDim(spec);
  const image = ds.discrete;
  const x = testRows(ds, opts.n ?? (image ? 1000 : 2000));
  const n = x.length / D;
  const out: Record<string, number> = {};
  const bpd = (nll: number) => nll / (D * Math.LN2);
  const kind = familyOf(spec.family).density;
  const C = classCount(spec);
  const labels = C && ds.testLabels ? ds.testLabels.subarray(0, n) : undefined;
  if (kind === 'exact') {
    const [lp] = chunkedMean(x, D, 500, (xb) => [model.density!(xb).logp!]);
    out.testNll = -lp;
    if (labels) out.accuracy = bayesAccuracy(chunkedRows(x, D, C, 500, (xb) => model.density!(xb).logpy!), labels, spec.conditional!.prior);
  } else if (kind === 'elbo') {
    const K = opts.k ?? (image ? 16 : 32);
    const L = latentDimOf(spec);
    const rng = new Prng(EVAL_SEED + 1);
    // a conditional VAE runs every row once per class
    const chunk = Math.max(1, Math.floor(4096 / (K * Math.max(1, C))));
    const per: Float32Array[] = [];
    const [elbo, iwae] = chunkedMean(x, D, chunk, (xb) => {
      const m = xb.shape[0];
      const eps = tf.tensor3d(rng.normals(m * K * L), [m, K, L]);
      const r = model.density!(xb, eps);
      eps.dispose();
      if (labels) {
        per.push(r.iwaey!.dataSync() as Float32Array);
        r.iwaey!.dispose();
        r.elboy?.dispose();
      }
      return [r.elbo!, r.iwae!];
    });
    Object.assign(out, { elbo, iwae, iwaeK: K, testNll: -iwae });
    if (labels) {
      const all = new Float32Array(n * C);
      per.reduce((o, p) => (all.set(p, o), o + p.length), 0);
      out.accuracy = bayesAccuracy(all, labels, spec.conditional!.prior);
    }
  } else {
    const fake = drawSamples(model, n, EVAL_SEED + 2);
    out.mmd = mmd2(fake, x, D, medianDistance(x, D));
  }
  if (out.testNll !== undefined && image) out.bitsPerDim = bpd(out.testNll);
  if (ds.logDensity) {
    const t = ds.logDensity(x);
    out.trueNll = -t.reduce((a, b) => a + b, 0) / t.length;
  }
  return out;
}

/** The picture for a person: image sample grid, or 2-D samples over the model's (or true) density. */
export function picture(model: TrainableModel, ds: Dataset, seed = EVAL_SEED + 3): Uint8Array {
  if (ds.discrete) {
    const [h, w] = ds.shape;
    const C = classCount(model.spec);
    // conditional: one row of 8 per class
    if (C) return imageGrid(drawSamples(model, 8 * C, seed, Array.from({ length: 8 * C }, (_, i) => Math.floor(i / 8))), 8 * C, h, w, 8);
    return imageGrid(drawSamples(model, 64, seed), 64, h, w, 8);
  }
  const size = 128;
  const lo = Math.min(ds.range[0], -ds.range[1]) - 0.25;
  const hi = -lo;
  const grid = gridPoints(size, lo, hi);
  let logp: ArrayLike<number> | undefined;
  const kind = familyOf(model.spec.family).density;
  if (kind === 'exact') {
    logp = tf.tidy(() => model.density!(tf.tensor2d(grid, [size * size, 2])).logp!.dataSync());
  } else if (kind === 'elbo') {
    const L = latentDimOf(model.spec);
    logp = tf.tidy(() => {
      const eps = tf.tensor3d(new Prng(seed).normals(size * size * 4 * L), [size * size, 4, L]);
      return model.density!(tf.tensor2d(grid, [size * size, 2]), eps).iwae!.dataSync();
    });
  } else if (ds.logDensity) {
    logp = ds.logDensity(grid); // GAN: no model density; show the truth under its samples
  }
  return scatterOverHeat(size, lo, hi, logp, drawSamples(model, 1500, seed));
}
