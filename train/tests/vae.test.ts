import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Prng, type VaeSpec } from '../../core';
import { initBackend } from '../backend';
import { buildModel, defaultSpec, type Vae } from '../models';

beforeAll(async () => {
  await initBackend('cpu');
});

describe('vae bounds', () => {
  const spec = defaultSpec('vae', 'vae', 'moons', { shift: [0.5, 0.25], scale: [0.9, 0.5] }) as VaeSpec;
  const N = 300;
  const L = spec.latentDim;
  const x = () => tf.tensor2d(new Prng(1).normals(N * 2), [N, 2]);

  it('ELBO <= IWAE_K on every row, and IWAE_1 == ELBO', () => {
    const vae = buildModel(spec, undefined, { seed: 4 });
    const X = x();
    const eps = tf.tensor3d(new Prng(2).normals(N * 16 * L), [N, 16, L]);
    const { elbo, iwae } = vae.density!(X, eps);
    const e = elbo!.arraySync() as number[];
    const w = iwae!.arraySync() as number[];
    e.forEach((v, i) => expect(v).toBeLessThanOrEqual(w[i] + 1e-5));
    // with K = 16 and an untrained encoder the gap must be real, not rounding
    expect(w.reduce((a, b) => a + b) - e.reduce((a, b) => a + b)).toBeGreaterThan(N * 0.05);
    const eps1 = tf.tensor3d(new Prng(3).normals(N * L), [N, 1, L]);
    const one = vae.density!(X, eps1);
    const d = tf.max(tf.abs(tf.sub(one.elbo!, one.iwae!))).dataSync()[0];
    expect(d).toBeLessThan(1e-5);
    vae.dispose();
  });

  it('the IWAE estimate rises with K on average', () => {
    const vae = buildModel(spec, undefined, { seed: 4 });
    const X = x();
    const means = [1, 4, 32].map((K) => {
      const eps = tf.tensor3d(new Prng(10 + K).normals(N * K * L), [N, K, L]);
      return tf.mean(vae.density!(X, eps).iwae!).dataSync()[0];
    });
    expect(means[1]).toBeGreaterThan(means[0]);
    expect(means[2]).toBeGreaterThan(means[1]);
    vae.dispose();
  });

  it('refuses eps of the wrong latent size with a clear error', () => {
    const vae = buildModel(spec);
    expect(() => vae.density!(x(), tf.zeros([N, 2, L + 1]) as tf.Tensor3D)).toThrow(/eps must be \[N, K, 2\]/);
    expect(() => vae.density!(x())).toThrow(/needs eps/);
    vae.dispose();
  });
});

describe('vae training loss (Vae.trainLoss, the rearranged single-sample ELBO)', () => {
  const cases: Array<[string, VaeSpec, number]> = [
    ['2-D, affine', defaultSpec('vae', 'vae', 'moons', { shift: [0.5, 0.25], scale: [0.9, 0.5] }) as VaeSpec, 2],
    ['images, logit (tiny MLP)', defaultSpec('vae', 'vae', 'mnist', { size: 'tiny' }) as VaeSpec, 784],
    ['images, conv (tiny)', defaultSpec('vae', 'vae', 'mnist', { size: 'tiny', arch: 'conv' }) as VaeSpec, 784],
  ];
  for (const backend of ['cpu', 'wasm'] as const) {
    it.each(cases)(`equals -mean(ELBO) of density() with the same eps, value and every gradient (%s, ${backend})`, async (_, spec, D) => {
      await initBackend(backend);
      const N = 12;
      const L = spec.latentDim;
      const vae = buildModel(spec, undefined, { seed: 3 }) as Vae;
      const rng = new Prng(8);
      const X = tf.tensor2d(rng.uniforms(N * D).map((u) => (D === 2 ? 4 * u - 2 : 256 * u)), [N, D]);
      const eps = rng.normals(N * L);
      const vars = [...(vae as unknown as { p: { vars: Map<string, tf.Variable> } }).p.vars.values()];
      const ref = tf.variableGrads(() => tf.neg(tf.mean(vae.density(X, tf.tensor3d(eps, [N, 1, L])).elbo)) as tf.Scalar, vars);
      const got = tf.variableGrads(() => vae.trainLoss(X, eps), vars);
      const [a, b] = [got.value.dataSync()[0], ref.value.dataSync()[0]];
      expect(Math.abs(a - b)).toBeLessThanOrEqual(1e-5 * Math.abs(b));
      for (const v of vars) {
        const [g, r] = [got.grads[v.name].dataSync(), ref.grads[v.name].dataSync()];
        let num = 0;
        let den = 1e-12;
        for (let i = 0; i < g.length; i++) {
          num = Math.max(num, Math.abs(g[i] - r[i]));
          den = Math.max(den, Math.abs(r[i]));
        }
        expect(num / den, v.name).toBeLessThanOrEqual(1e-4);
      }
      tf.dispose([X, got.value, ref.value, ...Object.values(got.grads), ...Object.values(ref.grads)]);
      vae.dispose();
      await initBackend('cpu');
    });
  }
});
