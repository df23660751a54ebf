/**
 * Conv architectures (core/spec.ts `ConvSpec`): the conv VAE and the
 * DCGAN-style GAN train on a small MNIST subset on the wasm backend (its conv
 * gradients come from train/wasm-kernels.ts), a backend without conv
 * gradients is refused with a clear message, and trained conv checkpoints
 * export to verified ONNX (graph-level parity: export/graphs/conv.test.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { latentDimOf, Prng, type Family } from '../../core';
import { exportCheckpoint } from '../../export/export';
import { assertConvTrainable, initBackend } from '../backend';
import { readCheckpoint } from '../checkpoint';
import { loadDataset, rows } from '../data';
import { train, type TrainConfig } from '../loop';
import { buildModel, defaultSpec, Gan } from '../models';

const ROOT = join(import.meta.dirname, '../..');
const tmp = () => mkdtempSync(join(tmpdir(), 'edgegen-conv-'));

function cfg(family: Family, over: Partial<TrainConfig>): TrainConfig {
  return {
    family, data: 'mnist', arch: 'conv', backend: 'wasm', steps: 30, batch: 16, lr: 3e-3, seed: 1, out: tmp(), resume: false,
    evalEvery: 1000, eval: { n: 100, k: 8 }, size: 'tiny', command: 'vitest', verbose: false, ...over,
  };
}

/** Discriminator accuracy on 100 test digits vs 100 generator samples (logit > 0 = real). */
function discAccuracy(ckPath: string): number {
  const ck = readCheckpoint(ckPath);
  const gan = buildModel(ck.spec, ck.weights) as Gan;
  const ds = loadDataset('mnist');
  const idx = Int32Array.from({ length: 100 }, (_, i) => i);
  const acc = tf.tidy(() => {
    const real = tf.tensor2d(rows(ds, 'test', idx, new Prng(5)), [100, 784]);
    const fake = gan.sample(tf.tensor2d(new Prng(6).normals(100 * latentDimOf(ck.spec)), [100, latentDimOf(ck.spec)])).x;
    const r = gan.discriminate(real).dataSync();
    const f = gan.discriminate(fake).dataSync();
    return (r.filter((v) => v > 0).length + f.filter((v) => v <= 0).length) / 200;
  });
  gan.dispose();
  return acc;
}

describe('conv architectures (wasm backend)', () => {
  it('conv VAE: held-out ELBO rises over 30 steps (and not with lr 0); IWAE >= ELBO', async () => {
    const c = cfg('vae', {});
    const r0 = await train({ ...c, steps: 0 });
    const r1 = await train({ ...c, resume: true });
    const ck = readCheckpoint(r1.checkpoint);
    expect(ck.spec).toMatchObject({ family: 'vae', arch: 'conv', conv: { channels: [4, 8], kernel: 3 } });
    expect(ck.weights.map((w) => w.name)).toContain('enc.conv1.W');
    expect(r1.metrics.elbo).toBeGreaterThan(r0.metrics.elbo + 20);
    expect(r1.metrics.iwae).toBeGreaterThanOrEqual(r1.metrics.elbo);
    const frozen = await train({ ...cfg('vae', {}), lr: 0 });
    expect(Math.abs(frozen.metrics.elbo - r0.metrics.elbo)).toBeLessThan(5);
  }, 60_000);

  it('DCGAN-style GAN: the discriminator learns to tell real from fake (and not with lr 0)', async () => {
    const c = cfg('gan', { steps: 30 });
    const r = await train(c);
    const ck = readCheckpoint(r.checkpoint);
    expect(ck.spec).toMatchObject({ family: 'gan', model: 'dcgan', arch: 'conv' });
    expect(ck.weights.find((w) => w.name === 'gen.deconv1.W')!.shape).toEqual([3, 3, 1, 4]);
    const trained = discAccuracy(r.checkpoint);
    const frozen = discAccuracy((await train({ ...cfg('gan', { steps: 30 }), lr: 0 })).checkpoint);
    expect(trained).toBeGreaterThan(0.8);
    expect(frozen).toBeLessThan(0.7);
  }, 60_000);

  it('specs: conv needs image data; MLP specs are unchanged', () => {
    expect(() => defaultSpec('vae', undefined, 'moons', { arch: 'conv' })).toThrow(/needs image data/);
    expect(() => defaultSpec('flow', 'realnvp', 'mnist', { arch: 'conv' })).toThrow(/--arch conv is not available for flow \(conv nets: vae, gan\)/);
    expect('arch' in defaultSpec('vae', undefined, 'mnist')).toBe(false);
  });

  it('names the missing kernels of a backend without conv gradients; wasm and cpu have them', async () => {
    await initBackend('wasm');
    expect(() => assertConvTrainable('wasm')).not.toThrow();
    expect(() => assertConvTrainable('cpu')).not.toThrow();
    expect(() => assertConvTrainable('no-such-backend')).toThrow(/cannot train on the no-such-backend backend.*Conv2D, Conv2DBackpropInput, Conv2DBackpropFilter.*--backend wasm/);
    const toy = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'train/cli.ts'), '--family', 'vae', '--data', 'moons', '--arch', 'conv'], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
    expect(toy.status).toBe(1);
    expect(toy.stderr).toMatch(/--arch conv needs image data/);
    // --model dcgan names the conv GAN; with --arch mlp it is a contradiction
    const mlp = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'train/cli.ts'), '--family', 'gan', '--model', 'dcgan', '--arch', 'mlp', '--data', 'mnist'], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
    expect(mlp.status).toBe(1);
    expect(mlp.stderr).toMatch(/--model dcgan is the conv gan/);
  }, 60_000);

  it('a trained conv VAE and DCGAN export to verified ONNX under their own ids', async () => {
    const out = tmp();
    const vae = await exportCheckpoint((await train(cfg('vae', { steps: 3 }))).checkpoint, { out });
    expect(vae.manifest.id).toBe('vae-conv-mnist');
    expect(vae.manifest.capabilities).toEqual(['sample', 'density', 'encode']);
    const gan = await exportCheckpoint((await train(cfg('gan', { steps: 3 }))).checkpoint, { out });
    expect(gan.manifest.id).toBe('dcgan-mnist');
    for (const r of [...vae.verification, ...gan.verification]) expect(r.maxError).toBeLessThanOrEqual(1e-4);
  }, 60_000);
});
