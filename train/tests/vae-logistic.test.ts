/**
 * The discretised-logistic decoder and class conditioning of the VAE
 * (core/spec.ts `VaeSpec`): the pixel masses sum to 1 with both edge bins, the
 * noise transform draws from the same distribution the likelihood scores, the
 * conditional density lines up each class with its label (the training loss is
 * the true class's ELBO), its marginal is the mixture over the prior, a prior
 * per class starts neutral and draws each class where its rows are encoded,
 * and training improves the conditional loss in a way that uses the label.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { oneHot, Prng, type Conditioning, type VaeSpec } from '../../core';
import { initBackend } from '../backend';
import { buildModel, defaultSpec, type Vae } from '../models';
import { logisticLogMass, logisticNoise } from '../models/nn';

beforeAll(async () => {
  await initBackend('cpu');
});

/** (mu, log s) on the pixel scale: inside, at and beyond both edges, from the narrowest scale the spec allows to the widest. */
const PIXELS: Array<[number, number]> = [
  [0.3, 0], [-40, 1], [127.5, -2.1], [127.2, 5.5], [254.6, 0.5], [300, 2], [12.5, -2.1], [255, 3],
];

/** 1 - Phi(x) for x >= 0 to float64 precision (continued fraction of erfc; series near 0). */
function upperTail(x: number): number {
  const u = x / Math.SQRT2;
  if (u < 2) {
    let term = u;
    let sum = u;
    for (let n = 1; n < 60; n++) {
      term *= (-u * u) / n;
      sum += term / (2 * n + 1);
    }
    return 0.5 * (1 - (2 / Math.sqrt(Math.PI)) * sum);
  }
  let f = 0;
  for (let n = 100; n >= 1; n--) f = n / 2 / (u + f);
  return (0.5 * Math.exp(-u * u)) / Math.sqrt(Math.PI) / (u + f);
}

describe('discretised logistic', () => {
  it('the masses of the 256 pixel values sum to 1 for one pixel (both edge bins included)', () => {
    const k = tf.range(0, 256).add(0.5);
    for (const [mu, logs] of PIXELS) {
      const total = tf.tidy(() => tf.sum(tf.exp(logisticLogMass(k, tf.scalar(mu), tf.scalar(logs)))).dataSync()[0]);
      expect(Math.abs(total - 1), `mu ${mu}, log s ${logs}`).toBeLessThan(2e-5);
    }
  });

  it('scores the bin of dequantised x: any x in [k, k + 1) the same, x outside [0, 256) its nearest bin', () => {
    const x = tf.tensor1d([7, 7.25, 7.999, -3, 0, 255.5, 300]);
    const lp = Array.from(tf.tidy(() => logisticLogMass(x, tf.scalar(10), tf.scalar(1.2)).dataSync()));
    expect(lp[1]).toBe(lp[0]);
    expect(lp[2]).toBe(lp[0]);
    expect(lp[3]).toBe(lp[4]);
    expect(lp[6]).toBe(lp[5]);
  });

  it('the noise transform is logit(Phi(n)) to 0.02 out to |n| = 8', () => {
    const n = Array.from({ length: 161 }, (_, i) => -8 + i * 0.1);
    const g = Array.from(tf.tidy(() => logisticNoise(tf.tensor1d(n)).dataSync()));
    n.forEach((v, i) => {
      const q = upperTail(Math.abs(v));
      const want = Math.sign(v) * (Math.log1p(-q) - Math.log(q));
      expect(Math.abs(g[i] - want), `n = ${v.toFixed(1)}`).toBeLessThan(0.02);
    });
  });

  it('round(clamp(mu + s g(noise), 0, 255)) draws pixels with the masses the likelihood gives', () => {
    const m = 200_000;
    const noise = tf.tensor1d(new Prng(5).normals(m));
    for (const [mu, logs] of [[3, 1.5], [128, 3], [250, 2.5]]) {
      const counts = new Float64Array(256);
      const drawn = tf.tidy(() => tf.clipByValue(tf.add(mu, tf.mul(Math.exp(logs), logisticNoise(noise))), 0, 255).dataSync());
      for (const v of drawn) counts[Math.round(v)] += 1;
      const mass = tf.tidy(() => tf.exp(logisticLogMass(tf.range(0, 256), tf.scalar(mu), tf.scalar(logs))).dataSync());
      // Kolmogorov distance of the two CDFs over the pixel values; sampling noise alone is ~0.002
      let [drawnCdf, cdf, worst] = [0, 0, 0];
      for (let k = 0; k < 256; k++) {
        drawnCdf += counts[k] / m;
        cdf += mass[k];
        worst = Math.max(worst, Math.abs(drawnCdf - cdf));
      }
      expect(worst, `mu ${mu}, log s ${logs}`).toBeLessThan(0.006);
    }
    noise.dispose();
  });
});

const C = 10;
const classes: Conditioning = { names: Array.from({ length: C }, (_, i) => `class ${i}`), prior: [0.05, 0.15, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1] };

/** Row i of class i mod C: a bright horizontal band whose place is the class, on a dark dequantised background. */
function bands(n: number, seed: number): { x: tf.Tensor2D; label: tf.Tensor2D; ids: number[] } {
  const rng = new Prng(seed);
  const ids = Array.from({ length: n }, (_, i) => i % C);
  const x = new Float32Array(n * 784);
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < 784; p++) {
      const row = Math.floor(p / 28);
      const on = row >= 2 * ids[i] + 4 && row < 2 * ids[i] + 6;
      x[i * 784 + p] = (on ? 230 : 10) + Math.floor(rng.uniform() * 20) + rng.uniform();
    }
  }
  return { x: tf.tensor2d(x, [n, 784]), label: tf.tensor2d(oneHot(ids, C), [n, C]), ids };
}

describe.each(['conv', 'mlp'] as const)('conditional logistic VAE (%s, tiny)', (arch) => {
  const spec = defaultSpec('vae', 'vae', 'mnist', { arch, size: 'tiny', conditional: classes }) as VaeSpec;

  it('is the logistic recipe with one-hot labels in both nets', () => {
    expect(spec.likelihood).toBe('logistic');
    expect(spec.conditional).toEqual(classes);
    expect(spec.decoder.sizes[0]).toBe(spec.latentDim + C);
  });

  it.runIf(arch === 'mlp')('a prior per class: zero means give the N(0, I) model; initializeClasses puts each at its rows\' mean code; sampling decodes z + m_label', () => {
    expect(spec.classPrior).toBe(true);
    const vae = buildModel(spec, undefined, { seed: 5 }) as Vae;
    const plain = buildModel({ ...spec, classPrior: undefined }, vae.weights().filter((w) => w.name !== 'prior.mu'), { seed: 5 }) as Vae;
    const { x, label, ids } = bands(20, 6);
    const n = ids.length;
    const L = spec.latentDim;
    const eps = tf.tensor3d(new Prng(2).normals(n * L), [n, 1, L]);
    const [a, b] = [vae.density(x, eps), plain.density(x, eps)];
    expect(Math.max(...Array.from(tf.tidy(() => tf.abs(tf.sub(a.elboy!, b.elboy!)).dataSync())))).toBeLessThan(1e-4);
    vae.initializeClasses!(x, label);
    const means = vae.weights().find((w) => w.name === 'prior.mu')!;
    const mu = vae.encode(x, label).mu.arraySync() as number[][];
    for (let c = 0; c < C; c++) {
      const mine = mu.filter((_, i) => ids[i] === c);
      for (let l = 0; l < L; l++) expect(means.data[c * L + l]).toBeCloseTo(mine.reduce((s, r) => s + r[l], 0) / mine.length, 4);
    }
    // the means move the density: log N(z; m_label, I) replaces log N(z; 0, I)
    const moved = vae.density(x, eps);
    expect(Math.max(...Array.from(tf.tidy(() => tf.abs(tf.sub(moved.elboy!, b.elboy!)).dataSync())))).toBeGreaterThan(1e-3);
    // sample(z, label) of the class-prior model is the N(0, I) model's sample of z + m_label
    const z = tf.tensor2d(new Prng(3).normals(2 * L), [2, L]);
    const l2 = tf.tensor2d(oneHot([1, 3], C), [2, C]);
    const shifted = tf.add(z, tf.matMul(l2, tf.tensor2d(means.data, [C, L]))) as tf.Tensor2D;
    const want = plain.sample(shifted, undefined, l2).xMean;
    const got = vae.sample(z, undefined, l2).xMean;
    expect(Math.max(...Array.from(tf.tidy(() => tf.abs(tf.sub(got, want)).dataSync())))).toBeLessThan(1e-3);
    tf.dispose([x, label, eps, z, l2, shifted, want, got]);
    vae.dispose();
    plain.dispose();
  });

  it('density lines up every class with its label: the training loss is -mean ELBO of the true class; the marginals mix the classes over the prior', () => {
    const vae = buildModel(spec, undefined, { seed: 2 }) as Vae;
    const { x, label, ids } = bands(12, 1);
    const n = ids.length;
    const L = spec.latentDim;
    const eps = new Prng(3).normals(n * L);
    const d = vae.density(x, tf.tensor3d(eps, [n, 1, L]));
    const elboy = d.elboy!.arraySync() as number[][];
    const loss = tf.tidy(() => vae.trainLoss(x, eps, label).dataSync()[0]);
    const trueClass = elboy.reduce((s, r, i) => s + r[ids[i]], 0) / n;
    expect(Math.abs(-loss - trueClass)).toBeLessThanOrEqual(1e-5 * Math.abs(trueClass));
    // a different class gives a different value: the label is read
    expect(Math.abs(elboy[0][0] - elboy[0][1])).toBeGreaterThan(1e-3);
    // elbo / iwae = logsumexp_y (log p(y) + per-class value)
    const K = 3;
    const d3 = vae.density(x, tf.tensor3d(new Prng(4).normals(n * K * L), [n, K, L]));
    for (const [mixed, perClass] of [[d3.elbo, d3.elboy!], [d3.iwae, d3.iwaey!]] as const) {
      const per = perClass.arraySync() as number[][];
      const want = per.map((r) => {
        const a = r.map((v, y) => v + Math.log(classes.prior[y]));
        const mx = Math.max(...a);
        return mx + Math.log(a.reduce((s, v) => s + Math.exp(v - mx), 0));
      });
      Array.from(mixed.dataSync()).forEach((v, i) => expect(Math.abs(v - want[i])).toBeLessThanOrEqual(1e-5 * Math.abs(want[i])));
    }
    // every per-class IWAE is at least its ELBO
    const [e3, i3] = [d3.elboy!.dataSync(), d3.iwaey!.dataSync()];
    e3.forEach((v, i) => expect(i3[i]).toBeGreaterThanOrEqual(v - 1e-3));
    expect(() => vae.sample(tf.zeros([2, L]) as tf.Tensor2D)).toThrow(/needs one-hot labels \[2, 10\]/);
    tf.dispose([x, label, d.elbo, d.iwae, d.elboy!, d.iwaey!, d3.elbo, d3.iwae, d3.elboy!, d3.iwaey!]);
    vae.dispose();
  });

  // the recipe's conv nets; the tiny MLP learns the bands through z as readily as through the label
  it.runIf(arch === 'conv')('training steps lower the conditional loss, and the trained model prefers each row\'s own class', () => {
    const vae = buildModel(spec, undefined, { seed: 1 }) as Vae;
    vae.setLearningRate(1e-2);
    const { x, label, ids } = bands(C, 2);
    const n = ids.length;
    const L = spec.latentDim;
    const eps = new Prng(7).normals(n * L);
    const lossNow = () => tf.tidy(() => vae.trainLoss(x, eps, label).dataSync()[0]);
    const before = lossNow();
    const rng = new Prng(8);
    const first = vae.trainStep(x, rng, label);
    first.loss.dispose();
    const afterOne = lossNow();
    for (let s = 1; s < 30; s++) vae.trainStep(x, rng, label).loss.dispose();
    const after = lossNow();
    expect(afterOne).toBeLessThan(before);
    expect(after).toBeLessThan(0.85 * before);
    // Bayes' rule with the trained model: each row's own class scores highest (1 in 10 untrained)
    const K = 4;
    const d = vae.density(x, tf.tensor3d(new Prng(9).normals(n * K * L), [n, K, L]));
    const per = d.iwaey!.arraySync() as number[][];
    const right = per.filter((r, i) => r.indexOf(Math.max(...r)) === ids[i]).length;
    expect(right / n).toBeGreaterThanOrEqual(0.9);
    tf.dispose([x, label, d.elbo, d.iwae, d.elboy!, d.iwaey!]);
    vae.dispose();
  }, 60_000);

  // one arch suffices: the objective is the same code for both, and the conv one costs minutes on the cpu backend
  it.runIf(arch === 'mlp')("with a label weight, the loss adds w x the cross-entropy of the classes' posterior, and steps lower that cross-entropy", () => {
    const w = 50;
    const vae = buildModel(spec, undefined, { seed: 3 }) as Vae;
    vae.setLearningRate(2e-3);
    vae.setLabelWeight(w);
    const { x, label, ids } = bands(10, 4);
    const n = ids.length;
    const L = spec.latentDim;
    /** -mean ELBO of the true class and the posterior's cross-entropy, in float64 from density's per-class ELBOs with the eps a step draws from Prng(seed) */
    const terms = (seed: number) => {
      const d = vae.density(x, tf.tensor3d(new Prng(seed).normals(n * L), [n, 1, L]));
      const per = d.elboy!.arraySync() as number[][];
      tf.dispose([d.elbo, d.iwae, d.elboy!, d.iwaey!]);
      let [nll, ce] = [0, 0];
      per.forEach((r, i) => {
        const a = r.map((v, y) => v + Math.log(classes.prior[y]));
        const mx = Math.max(...a);
        nll -= r[ids[i]] / n;
        ce += (mx + Math.log(a.reduce((s, v) => s + Math.exp(v - mx), 0)) - a[ids[i]]) / n;
      });
      return { nll, ce };
    };
    const before = terms(11);
    const first = vae.trainStep(x, new Prng(11), label);
    const [loss, ce] = [first.loss.dataSync()[0], first.ce.dataSync()[0]];
    expect(Math.abs(ce - before.ce)).toBeLessThanOrEqual(1e-3 * Math.max(1, before.ce));
    expect(Math.abs(loss - (before.nll + w * before.ce))).toBeLessThanOrEqual(1e-4 * Math.abs(loss));
    tf.dispose([first.loss, first.ce]);
    for (let s = 0; s < 5; s++) tf.dispose(Object.values(vae.trainStep(x, new Prng(12 + s), label)));
    expect(terms(11).ce).toBeLessThan(0.8 * before.ce);
    vae.dispose();
    const plain = buildModel(defaultSpec('vae', 'vae', 'mnist', { arch, size: 'tiny' })) as Vae;
    expect(() => plain.setLabelWeight(1)).toThrow(/class-conditional/);
    plain.dispose();
  }, 60_000);
});
