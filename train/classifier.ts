/**
 * The feature network for the Fréchet distance between image sets: a small MLP
 * classifier (784-256-64-10, relu; features = the 64 penultimate activations)
 * trained with tfjs on the training split of a data set (less its last HOLDOUT
 * rows, kept for the FD floor) for a fixed number of Adam steps from a fixed seed, on dequantised pixels / 256, so
 * every machine and every load trains the same net (a time budget gave a different classifier, and different FDs, on a
 * busy machine). Saved under runs/bench-classifier-<data>.json (gitignored; EDGEGEN_BENCH_CACHE names another folder) so
 * reruns reuse it; its test accuracy is stored with it.
 * Besides the features it answers class probabilities (softmax of its logits): the quality
 * bench reads how confidently and into which classes samples fall.
 *
 * frechet(): FD = |mu_a - mu_b|^2 + tr(C_a + C_b - 2 (C_a C_b)^(1/2)), computed in
 * float64 with a Jacobi eigensolver: tr sqrt(C_a C_b) = sum sqrt(eig(S C_b S)), S = C_a^(1/2).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { Prng } from '../core';
import { loadFashion, loadMnist } from './data';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const log = (s: string) => process.stderr.write(`${s}\n`);

const SIZES = [784, 256, 64, 10];
export const FEATURES = SIZES[2];
export const CLASSES = SIZES[3];
/** the last HOLDOUT rows of the training split are never shown to the classifier: they give the FD floor */
export const HOLDOUT = 1000;
/** Adam steps (batch 128) of the classifier every bench uses; --quick benches train QUICK_STEPS */
export const CLASSIFIER_STEPS = 8000;
export const QUICK_STEPS = 1000;

export interface Classifier {
  dataset: string;
  testAccuracy: number;
  trainSeconds: number;
  steps: number;
  parameters: number;
  /** rows of pixels in [0, 256) -> [n, 64] features */
  features(x: Float32Array): Float32Array;
  /** rows of pixels in [0, 256) -> [n, 10] class probabilities */
  probs(x: Float32Array): Float32Array;
  reused: boolean;
}

interface Saved { holdout?: number; dataset: string; testAccuracy: number; trainSeconds: number; steps: number; weights: { shape: number[]; data: number[] }[] }

function splits(dataset: string) {
  if (dataset === 'mnist') return loadMnist();
  if (dataset === 'fashion-mnist') return { train: loadFashion('train'), test: loadFashion('test') };
  throw new Error(`no classifier for data set ${dataset}`);
}

function forward(ws: tf.Tensor[], x: tf.Tensor2D, upTo = SIZES.length - 1): tf.Tensor2D {
  let h: tf.Tensor2D = tf.div(x, 256);
  for (let i = 0; i < upTo; i++) {
    h = tf.add(tf.matMul(h, ws[2 * i] as tf.Tensor2D), ws[2 * i + 1]);
    if (i < SIZES.length - 2) h = tf.relu(h);
  }
  return h;
}

function dequantised(pixels: Uint8Array, idx: ArrayLike<number>, rng: Prng): Float32Array {
  const out = new Float32Array(idx.length * 784);
  for (let i = 0; i < idx.length; i++) for (let d = 0; d < 784; d++) out[i * 784 + d] = pixels[idx[i] * 784 + d] + rng.uniform();
  return out;
}

export async function classifier(dataset: string, fitSteps = CLASSIFIER_STEPS): Promise<Classifier> {
  const dir = process.env.EDGEGEN_BENCH_CACHE ?? join(ROOT, 'runs');
  const path = join(dir, `bench-classifier-${dataset}-${fitSteps}.json`);
  let saved: Saved | undefined;
  let reused = false;
  if (existsSync(path)) saved = JSON.parse(readFileSync(path, 'utf8')) as Saved;
  if (saved && saved.holdout === HOLDOUT && saved.steps === fitSteps) {
    reused = true;
  } else {
    const { train, test } = splits(dataset);
    const rng = new Prng(99);
    const vars: tf.Variable[] = [];
    for (let i = 0; i + 1 < SIZES.length; i++) {
      const lim = Math.sqrt(6 / (SIZES[i] + SIZES[i + 1]));
      vars.push(tf.variable(tf.tensor2d(rng.uniforms(SIZES[i] * SIZES[i + 1]).map((u) => (2 * u - 1) * lim), [SIZES[i], SIZES[i + 1]])));
      vars.push(tf.variable(tf.zeros([SIZES[i + 1]])));
    }
    const opt = tf.train.adam(1e-3);
    const B = 128;
    const t0 = performance.now();
    let steps = 0;
    const nFit = train.n - HOLDOUT;
    const perm = Int32Array.from({ length: nFit }, (_, i) => i);
    while (steps < fitSteps) {
      const o = (steps * B) % (nFit - B);
      if (o < B) rng.shuffle(perm); // a new pass over the training split
      const idx = perm.subarray(o, o + B);
      const x = tf.tensor2d(dequantised(train.pixels, idx, rng), [B, 784]);
      const y = tf.oneHot(tf.tensor1d(Array.from(idx, (j) => train.labels[j]), 'int32'), 10);
      opt.minimize(() => tf.losses.softmaxCrossEntropy(y, forward(vars, x)) as tf.Scalar, false, vars);
      tf.dispose([x, y]);
      steps++;
    }
    const trainSeconds = (performance.now() - t0) / 1000;
    let correct = 0;
    for (let o = 0; o < test.n; o += 1000) {
      const idx = Array.from({ length: Math.min(1000, test.n - o) }, (_, i) => o + i);
      const pred = tf.tidy(() => forward(vars, tf.tensor2d(dequantised(test.pixels, idx, rng), [idx.length, 784])).argMax(1).dataSync());
      idx.forEach((j, i) => (correct += pred[i] === test.labels[j] ? 1 : 0));
    }
    saved = { holdout: HOLDOUT, dataset, testAccuracy: correct / test.n, trainSeconds, steps, weights: vars.map((v) => ({ shape: v.shape, data: Array.from(v.dataSync()) })) };
    mkdirSync(dir, { recursive: true });
    writeFileSync(path, JSON.stringify(saved));
    tf.dispose(vars);
    opt.dispose();
    log(`classifier ${dataset}: ${steps} steps in ${trainSeconds.toFixed(0)} s, test accuracy ${saved.testAccuracy}`);
  }
  const ws = saved.weights.map((w) => tf.tensor(w.data, w.shape));
  /** rows [n, 784] -> [n, width] of what `head` makes of them, 500 rows a pass */
  const batched = (x: Float32Array, width: number, head: (x: tf.Tensor2D) => tf.Tensor2D) => {
    const n = x.length / 784;
    const out = new Float32Array(n * width);
    for (let o = 0; o < n; o += 500) {
      const m = Math.min(500, n - o);
      out.set(tf.tidy(() => head(tf.tensor2d(x.subarray(o * 784, (o + m) * 784), [m, 784])).dataSync()), o * width);
    }
    return out;
  };
  return {
    dataset, testAccuracy: saved.testAccuracy, trainSeconds: saved.trainSeconds, steps: saved.steps, reused,
    parameters: saved.weights.reduce((a, w) => a + w.data.length, 0),
    features: (x) => batched(x, SIZES[2], (b) => tf.relu(forward(ws, b, 2))),
    probs: (x) => batched(x, CLASSES, (b) => tf.softmax(forward(ws, b))),
  };
}

/** Eigenvalues and eigenvectors of a symmetric matrix (cyclic Jacobi, bounded sweeps). */
function eigSym(a: Float64Array, n: number): { values: Float64Array; vectors: Float64Array } {
  const A = Float64Array.from(a);
  const V = new Float64Array(n * n);
  for (let i = 0; i < n; i++) V[i * n + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += A[p * n + q] ** 2;
    if (off < 1e-22) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = A[p * n + q];
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (A[q * n + q] - A[p * n + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = A[k * n + p];
          const akq = A[k * n + q];
          A[k * n + p] = c * akp - s * akq;
          A[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = A[p * n + k];
          const aqk = A[q * n + k];
          A[p * n + k] = c * apk - s * aqk;
          A[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = V[k * n + p];
          const vkq = V[k * n + q];
          V[k * n + p] = c * vkp - s * vkq;
          V[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  return { values: Float64Array.from({ length: n }, (_, i) => A[i * n + i]), vectors: V };
}

function moments(f: Float32Array, F: number): { mu: Float64Array; cov: Float64Array } {
  const n = f.length / F;
  const mu = new Float64Array(F);
  for (let i = 0; i < n; i++) for (let d = 0; d < F; d++) mu[d] += f[i * F + d] / n;
  const cov = new Float64Array(F * F);
  for (let i = 0; i < n; i++) {
    for (let a = 0; a < F; a++) {
      const da = f[i * F + a] - mu[a];
      for (let b = a; b < F; b++) cov[a * F + b] += (da * (f[i * F + b] - mu[b])) / (n - 1);
    }
  }
  for (let a = 0; a < F; a++) for (let b = 0; b < a; b++) cov[a * F + b] = cov[b * F + a];
  return { mu, cov };
}

function matmul(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const c = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let k = 0; k < n; k++) {
    const aik = a[i * n + k];
    if (aik === 0) continue;
    for (let j = 0; j < n; j++) c[i * n + j] += aik * b[k * n + j];
  }
  return c;
}

/** Fréchet distance between two feature sets (rows of F values). */
export function frechet(fa: Float32Array, fb: Float32Array, F: number): number {
  const a = moments(fa, F);
  const b = moments(fb, F);
  let d2 = 0;
  for (let d = 0; d < F; d++) d2 += (a.mu[d] - b.mu[d]) ** 2;
  let tr = 0;
  for (let d = 0; d < F; d++) tr += a.cov[d * F + d] + b.cov[d * F + d];
  const { values, vectors } = eigSym(a.cov, F);
  // S = V diag(sqrt(max(l, 0))) V^T
  const S = new Float64Array(F * F);
  for (let i = 0; i < F; i++) for (let j = 0; j < F; j++) {
    let s = 0;
    for (let k = 0; k < F; k++) s += vectors[i * F + k] * Math.sqrt(Math.max(values[k], 0)) * vectors[j * F + k];
    S[i * F + j] = s;
  }
  const M = matmul(matmul(S, b.cov, F), S, F);
  for (let i = 0; i < F; i++) for (let j = 0; j < i; j++) M[i * F + j] = M[j * F + i] = (M[i * F + j] + M[j * F + i]) / 2;
  const trSqrt = eigSym(M, F).values.reduce((s, l) => s + Math.sqrt(Math.max(l, 0)), 0);
  return d2 + tr - 2 * trSqrt;
}
