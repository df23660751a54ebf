// The class-conditional MADE in tfjs (core/spec.ts `MadeSpec`): labels are
// required by a conditional spec and refused otherwise, the label weights V
// start at zero (the model starts as the unconditional one), logpy is the
// model under each class and logp their mixture over the prior, and a training
// step lowers -log p(x | y) for the batch's own labels until the labels matter;
// for the image default's discretised logistic, a mixture of two and the Gaussian on logit(x).
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { defaultSpec, latentDimOf, oneHot, paramShapes, Prng, type MadeSpec, type NamedWeight } from '../../core';
import { madeLabelWeight } from '../../core/families/made';
import { initBackend } from '../backend';
import { buildModel } from '../models';
import { C, CLASSES, expectHybridObjective, expectTrainingUsesLabels, labelledBatch as labelled, maxAbs } from './labelled';

const [H, W] = [6, 6];
const D = H * W;
const labelledBatch = (n: number, seed: number) => labelled(n, seed, H, W);

beforeAll(async () => {
  await initBackend('cpu');
});

// the image default (discretised logistic on pixels) and the Gaussian on logit(x) that made-mnist ships
const logisticSpec: MadeSpec = { ...(defaultSpec('made', undefined, [H, W], { conditional: CLASSES }) as MadeSpec), hidden: [48] };
const gaussianSpec: MadeSpec = { ...logisticSpec, likelihood: undefined, preprocess: { kind: 'logit', alpha: 0.05 }, minLogStd: -5 };
// the CLI's --hidden 20 --components 2: a mixture of two logistics, a layer narrower than D - 1
const mixtureSpec = defaultSpec('made', undefined, [H, W], { conditional: CLASSES, hidden: [20], components: 2 }) as MadeSpec;

describe.each([
  ['discretised logistic', logisticSpec],
  ['Gaussian', gaussianSpec],
  ['mixture of 2 discretised logistics', mixtureSpec],
])('conditional MADE (tfjs, %s)', (_name, spec) => {
  const random = (seed: number): NamedWeight[] => {
    const rng = new Prng(seed);
    return paramShapes(spec).map((p) => ({ name: p.name, shape: p.shape, data: rng.normals(p.shape.reduce((a, b) => a * b, 1), 0.2) }));
  };

  it('V [C, size] per layer, zero at the start; labels required by conditional specs and refused otherwise', () => {
    const shapes = paramShapes(spec).filter((p) => p.name.endsWith('.V'));
    // one per layer: the hidden width, then the output's 2 columns per pixel (3K for a mixture of K)
    const outputs = (spec.components ?? 1) === 1 ? 2 * D : 3 * spec.components! * D;
    expect(shapes.map((p) => [p.name, p.shape, p.init])).toEqual([[madeLabelWeight(0), [C, spec.hidden[0]], 'zeros'], [madeLabelWeight(1), [C, outputs], 'zeros']]);
    const plain = { ...spec, conditional: undefined };
    expect(paramShapes(plain).some((p) => p.name.endsWith('.V'))).toBe(false);
    const [cond, unc] = [buildModel(spec), buildModel(plain)];
    const { x, label } = labelledBatch(3, 1);
    const z = tf.zeros([3, latentDimOf(spec)]) as tf.Tensor2D;
    expect(() => cond.sample(z)).toThrow(/one-hot labels \[3, 3\]/);
    expect(() => cond.trainStep(x, new Prng(1))).toThrow(/one-hot labels/);
    expect(() => unc.sample(z, undefined, label)).toThrow(/not class-conditional/);
    expect(() => unc.trainStep(x, new Prng(1), label)).toThrow(/not class-conditional/);
    // V = 0: every class is the unconditional model
    tf.tidy(() => {
      const { logp, logpy } = cond.density!(x);
      const want = unc.density!(x).logp!;
      expect(maxAbs(logpy!, tf.tile(tf.expandDims(want, 1), [1, C]))).toBeLessThan(1e-3);
      expect(maxAbs(logp!, want)).toBeLessThan(1e-3);
    });
    tf.dispose([x, label, z]);
    cond.dispose();
    unc.dispose();
  });

  it('logpy [N, C] differs by class, logp is its mixture over the prior; sample(z, label) follows the label', () => {
    const m = buildModel(spec, random(3));
    const { x } = labelledBatch(5, 2);
    tf.tidy(() => {
      const { logp, logpy } = m.density!(x);
      expect(logpy!.shape).toEqual([5, C]);
      const py = logpy!.arraySync() as number[][];
      const lp = logp!.arraySync() as number[];
      py.forEach((row, r) => {
        const a = row.map((v, y) => v + Math.log(CLASSES.prior[y]));
        const mx = Math.max(...a);
        expect(lp[r]).toBeCloseTo(mx + Math.log(a.reduce((s, v) => s + Math.exp(v - mx), 0)), 3);
      });
      // the classes differ
      expect(new Set(py[0].map((v) => v.toFixed(2))).size).toBe(C);
      const z = tf.tensor2d(new Prng(4).normals(2 * latentDimOf(spec)), [2, latentDimOf(spec)]);
      const a = m.sample(z, undefined, tf.tensor2d(oneHot([0, 0], C), [2, C])).x;
      const b = m.sample(z, undefined, tf.tensor2d(oneHot([1, 1], C), [2, C])).x;
      expect(maxAbs(a, b)).toBeGreaterThan(1);
    });
    tf.dispose(x);
    m.dispose();
  });

  it("a training step minimises -log p(x | y) of each row's own label, and training makes the labels matter", () => {
    const m = buildModel(spec, undefined, { seed: 1 });
    const batch = labelledBatch(24, 5);
    m.setLearningRate(3e-3);
    // the label weights move: the right label explains a row better than a wrong one
    expectTrainingUsesLabels(m, batch, 30, 1);
    tf.dispose([batch.x, batch.label]);
    m.dispose();
  }, 60_000);

  it('with a label weight, the loss adds w x the cross-entropy of the posterior, and steps lower it', () => {
    expectHybridObjective(buildModel(spec, random(5)), buildModel({ ...spec, conditional: undefined }), [H, W]);
  }, 60_000);
});
