import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Prng, type FlowSpec, type NamedWeight } from '../../core';
import { initBackend } from '../backend';
import { buildModel, defaultSpec } from '../models';

/** Random non-zero weights everywhere (the default init makes every step the identity). */
function randomWeights(spec: FlowSpec, seed: number): NamedWeight[] {
  const m = buildModel(spec, undefined, { seed });
  const rng = new Prng(seed + 1);
  const w = m.weights().map((x) => ({ ...x, data: rng.normals(x.data.length, 0.3) }));
  m.dispose();
  return w;
}

beforeAll(async () => {
  await initBackend('cpu');
});

describe.each(['realnvp', 'nice'])('flow %s', (model) => {
  it('inverse(forward(x)) == x within 1e-4, and forward(inverse(z)) == z', () => {
    const spec = defaultSpec('flow', model, 'moons', { shift: [0.5, 0.25], scale: [0.9, 0.5] }) as FlowSpec;
    const flow = buildModel(spec, randomWeights(spec, 5));
    const x = tf.tensor2d(new Prng(9).normals(400), [200, 2]);
    const z = flow.encode!(x).z!;
    // the random flow must actually move points, or the test proves nothing
    expect(tf.max(tf.abs(tf.sub(z, x))).dataSync()[0]).toBeGreaterThan(0.1);
    const back = flow.sample(z).x;
    expect(tf.max(tf.abs(tf.sub(back, x))).dataSync()[0]).toBeLessThan(1e-4);
    const z2 = flow.encode!(flow.sample(x).x).z!;
    expect(tf.max(tf.abs(tf.sub(z2, x))).dataSync()[0]).toBeLessThan(1e-4);
    flow.dispose();
  });

  it('log-det matches a finite-difference Jacobian in 2-D', () => {
    // tanh nets: smooth, so central differences converge (relu kinks would not)
    const spec = { ...defaultSpec('flow', model, 'moons', { shift: [0.5, 0.25], scale: [0.9, 0.5] }), activation: 'tanh' } as FlowSpec;
    const flow = buildModel(spec, randomWeights(spec, 11));
    const pts = new Prng(3).normals(40);
    const h = 2e-3;
    for (let i = 0; i < 20; i++) {
      const [a, b] = [pts[2 * i], pts[2 * i + 1]];
      // rows: x, x + h e1, x - h e1, x + h e2, x - h e2
      const X = tf.tensor2d([a, b, a + h, b, a - h, b, a, b + h, a, b - h], [5, 2]);
      const z = flow.encode!(X).z!.arraySync() as number[][];
      const logp = flow.density!(X).logp!.arraySync() as number[];
      const j11 = (z[1][0] - z[2][0]) / (2 * h);
      const j21 = (z[1][1] - z[2][1]) / (2 * h);
      const j12 = (z[3][0] - z[4][0]) / (2 * h);
      const j22 = (z[3][1] - z[4][1]) / (2 * h);
      const fdLogdet = Math.log(Math.abs(j11 * j22 - j12 * j21));
      // the model's total log-det = log p(x) - log N(z; 0, I)
      const logN = -Math.log(2 * Math.PI) - 0.5 * (z[0][0] ** 2 + z[0][1] ** 2);
      expect(logp[0] - logN).toBeCloseTo(fdLogdet, 2);
      X.dispose();
    }
    flow.dispose();
  });
});

describe('buildModel', () => {
  it('rebuilds from weights and refuses missing or mis-shaped ones by name', () => {
    const spec = defaultSpec('flow', 'realnvp', 'moons') as FlowSpec;
    const w = randomWeights(spec, 2);
    const a = buildModel(spec, w);
    const x = tf.tensor2d([0.3, -0.7, 1.1, 0.2], [2, 2]);
    const b = buildModel(spec, a.weights());
    expect(b.density!(x).logp!.arraySync()).toEqual(a.density!(x).logp!.arraySync());
    expect(() => buildModel(spec, w.filter((v) => v.name !== 'step3.scale'))).toThrow(/missing weight step3\.scale/);
    const bad = w.map((v) => (v.name === 'step0.net.0.W' ? { ...v, shape: [v.shape[1], v.shape[0]] } : v));
    expect(() => buildModel(spec, bad)).toThrow(/step0\.net\.0\.W.*shape/);
    a.dispose();
    b.dispose();
  });
});
