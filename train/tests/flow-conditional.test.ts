// The class-conditional flows in tfjs (FlowGMM base, core/flowspec.ts `FlowSpec`),
// MLP and multi-scale: sampling draws from the class's base N(mu_y, I), logpy
// is the unconditional flow's density moved there and logp their mixture over
// the prior, and a training step lowers -log p(x | y) for the batch's own labels.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { BASE_MU, paramShapes, Prng, type ModelSpec, type NamedWeight } from '../../core';
import { initBackend } from '../backend';
import { buildModel, defaultSpec } from '../models';
import { C, CLASSES, expectHybridObjective, expectTrainingUsesLabels, labelledBatch as labelled, maxAbs } from './labelled';

const D = 28 * 28;
const labelledBatch = (n: number, seed: number) => labelled(n, seed, 28, 28);

/** Random weights (the default init is the identity flow with every class mean at 0). */
function randomWeights(spec: ModelSpec, seed: number): NamedWeight[] {
  const rng = new Prng(seed);
  const std = (name: string) => (name === BASE_MU ? 0.05 : spec.model === 'realnvp-ms' ? 0.15 : 0.1);
  return paramShapes(spec).map((p) => ({ name: p.name, shape: p.shape, data: rng.normals(p.shape.reduce((a, b) => a * b, 1), std(p.name)) }));
}

beforeAll(async () => {
  await initBackend('cpu');
});

describe.each(['realnvp', 'realnvp-ms'])('conditional flow %s (tfjs)', (model) => {
  const spec = defaultSpec('flow', model, 'mnist', { size: 'tiny', conditional: CLASSES });

  it('base.mu [C, D] is a weight only of conditional specs; labels are required by them and refused otherwise', () => {
    expect(paramShapes(spec).find((p) => p.name === BASE_MU)?.shape).toEqual([C, D]);
    const plain = defaultSpec('flow', model, 'mnist', { size: 'tiny' });
    expect(paramShapes(plain).some((p) => p.name === BASE_MU)).toBe(false);
    const [cond, unc] = [buildModel(spec), buildModel(plain)];
    const { x, label } = labelledBatch(3, 1);
    const z = tf.zeros([3, D]) as tf.Tensor2D;
    expect(() => cond.sample(z)).toThrow(/one-hot labels \[3, 3\]/);
    expect(() => cond.trainStep(x, new Prng(1))).toThrow(/one-hot labels/);
    expect(() => unc.sample(z, undefined, label)).toThrow(/not class-conditional/);
    tf.dispose([x, label, z]);
    cond.dispose();
    unc.dispose();
  });

  it('sample(z, y) inverts z + mu_y; logpy is the unconditional log-density moved to N(mu_y, I); logp their mixture over the prior', () => {
    const weights = randomWeights(spec, 3);
    const cond = buildModel(spec, weights);
    // the same bijection with the standard normal base
    const plain = buildModel({ ...spec, conditional: undefined }, weights.filter((w) => w.name !== BASE_MU));
    const mu = tf.tensor2d(weights.find((w) => w.name === BASE_MU)!.data, [C, D]);
    const { x, label } = labelledBatch(9, 2);
    tf.tidy(() => {
      const z = tf.tensor2d(new Prng(4).normals(9 * D, 0.5), [9, D]);
      const got = cond.sample(z, undefined, label).x;
      expect(maxAbs(got, plain.sample(tf.add(z, tf.matMul(label, mu)) as tf.Tensor2D).x)).toBeLessThan(1e-3);
      // the label moves the sample
      expect(maxAbs(got, plain.sample(z).x)).toBeGreaterThan(1);

      expect(maxAbs(cond.encode!(x).z!, plain.encode!(x).z!)).toBe(0);
      const zx = plain.encode!(x).z!;
      const { logp, logpy } = cond.density!(x);
      expect(logpy!.shape).toEqual([9, C]);
      const want = tf.add(tf.expandDims(plain.density!(x).logp!, 1), tf.sub(tf.matMul(zx, mu, false, true), tf.mul(0.5, tf.sum(tf.square(mu), 1))));
      expect(maxAbs(logpy!, want) / maxAbs(want, tf.zerosLike(want))).toBeLessThan(1e-5);
      // the marginal, in float64 from logpy and the prior
      const py = logpy!.arraySync() as number[][];
      const lp = logp!.arraySync() as number[];
      py.forEach((row, r) => {
        const a = row.map((v, y) => v + Math.log(CLASSES.prior[y]));
        const mx = Math.max(...a);
        expect(lp[r]).toBeCloseTo(mx + Math.log(a.reduce((s, v) => s + Math.exp(v - mx), 0)), 2);
      });
    });
    tf.dispose([mu, x, label]);
    cond.dispose();
    plain.dispose();
  });

  it("a training step minimises -log p(x | y) of each row's own label, and training makes the labels matter", () => {
    const m = buildModel(spec, undefined, { seed: 1 });
    const batch = labelledBatch(12, 5);
    m.initialize(batch.x);
    m.setLearningRate(3e-3);
    // the class means part: the right label explains a row better than a wrong one
    expectTrainingUsesLabels(m, batch, 8, 2);
    tf.dispose([batch.x, batch.label]);
    m.dispose();
  }, 60_000);

  // the objective is the same code for both flows; the MLP one is quick on the cpu backend
  it.runIf(model === 'realnvp')('with a label weight, the loss adds w x the cross-entropy of the posterior, and steps lower it', () => {
    expectHybridObjective(buildModel(spec, randomWeights(spec, 5)), buildModel(defaultSpec('flow', model, 'mnist', { size: 'tiny' })), [28, 28]);
  }, 60_000);
});
