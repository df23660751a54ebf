// What the conditional-model tests share: three classes told apart by where an
// image's bright half lies, and the check that training on them makes a
// model's labels matter.
import * as tf from '@tensorflow/tfjs';
import { expect } from 'vitest';
import { oneHot, Prng, type Conditioning } from '../../core';
import type { TrainableModel } from '../models';

export const CLASSES: Conditioning = { names: ['top', 'bottom', 'left'], prior: [0.2, 0.5, 0.3] };
export const C = CLASSES.names.length;

/** n labelled H x W images (row r of class r mod 3) whose class is where the bright half lies (top, bottom, left), with noise. */
export function labelledBatch(n: number, seed: number, H: number, W: number): { x: tf.Tensor2D; ids: number[]; label: tf.Tensor2D } {
  const rng = new Prng(seed);
  const D = H * W;
  const ids = Array.from({ length: n }, (_, i) => i % C);
  const x = new Float32Array(n * D);
  for (let r = 0; r < n; r++) {
    for (let i = 0; i < D; i++) {
      const [row, col] = [Math.floor(i / W), i % W];
      const bright = ids[r] === 0 ? row < H / 2 : ids[r] === 1 ? row >= H / 2 : col < W / 2;
      x[r * D + i] = Math.min(255.5, Math.max(0.5, (bright ? 190 : 50) + 30 * (rng.uniform() - 0.5)));
    }
  }
  return { x: tf.tensor2d(x, [n, D]), ids, label: tf.tensor2d(oneHot(ids, C), [n, C]) };
}

export const maxAbs = (a: tf.Tensor, b: tf.Tensor): number => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);

/**
 * `steps` training steps on one labelled batch of a model whose labels start
 * out irrelevant: the first step's loss is -log p(x | y) at each row's own
 * label, the loss falls, and afterwards the right label explains a row better
 * than a wrong one (the next class) by more than `parted` nats on average.
 */
export function expectTrainingUsesLabels(m: TrainableModel, batch: { x: tf.Tensor2D; ids: number[]; label: tf.Tensor2D }, steps: number, parted: number): void {
  const { x, ids, label } = batch;
  /** mean log p(x | y) at the true labels, and at the next class (a wrong one) */
  const fit = () =>
    tf.tidy(() => {
      const py = m.density!(x).logpy!.arraySync() as number[][];
      const mean = (f: (r: number) => number) => py.reduce((s, row, r) => s + row[f(r)], 0) / py.length;
      return { right: mean((r) => ids[r]), wrong: mean((r) => (ids[r] + 1) % C) };
    });
  const before = fit();
  expect(Math.abs(before.right - before.wrong)).toBeLessThan(1e-3);
  const losses: number[] = [];
  for (let i = 0; i < steps; i++) {
    const l = m.trainStep(x, new Prng(i), label);
    losses.push(l.loss.dataSync()[0]);
    tf.dispose(Object.values(l));
    // the loss is the conditional one, measured before the step
    if (i === 0) expect(losses[0]).toBeCloseTo(-before.right, 1);
  }
  const after = fit();
  expect(losses[steps - 1]).toBeLessThan(losses[0] - 1);
  expect(-after.right).toBeLessThan(-before.right - 1);
  expect(after.right - after.wrong).toBeGreaterThan(parted);
}

/**
 * The hybrid objective of an exact-density conditional model (flow, MADE) at label weight w = 20, on a labelled
 * batch of its H x W images: the first step's loss is -mean log p(x | y) + w x the cross-entropy of the posterior, both recomputed
 * in float64 from `density`'s logpy, and a few steps cut that cross-entropy by a fifth at least; the same family
 * without classes (`plain`) refuses a label weight. Disposes both models.
 */
export function expectHybridObjective(m: TrainableModel, plain: TrainableModel, [H, W]: [number, number]): void {
  const w = 20;
  m.setLearningRate(3e-3);
  m.setLabelWeight!(w);
  const { x, ids, label } = labelledBatch(12, 6, H, W);
  const terms = () => {
    const py = tf.tidy(() => m.density!(x).logpy!.arraySync() as number[][]);
    let [nll, ce] = [0, 0];
    py.forEach((r, i) => {
      const a = r.map((v, y) => v + Math.log(CLASSES.prior[y]));
      const mx = Math.max(...a);
      nll -= r[ids[i]] / py.length;
      ce += (mx + Math.log(a.reduce((s, v) => s + Math.exp(v - mx), 0)) - a[ids[i]]) / py.length;
    });
    return { nll, ce };
  };
  const before = terms();
  const first = m.trainStep(x, new Prng(1), label);
  expect(Math.abs(first.ce.dataSync()[0] - before.ce)).toBeLessThanOrEqual(1e-3 * Math.max(1, before.ce));
  expect(Math.abs(first.loss.dataSync()[0] - (before.nll + w * before.ce))).toBeLessThanOrEqual(1e-4 * Math.abs(before.nll + w * before.ce));
  tf.dispose(Object.values(first));
  for (let i = 0; i < 5; i++) tf.dispose(Object.values(m.trainStep(x, new Prng(2 + i), label)));
  expect(terms().ce).toBeLessThan(0.8 * before.ce);
  tf.dispose([x, label]);
  m.dispose();
  expect(() => plain.setLabelWeight!(1)).toThrow(/class-conditional/);
  plain.dispose();
}
