// The multi-scale RealNVP's pieces (train/models/msflow.ts) against the maths of
// core/flowspec.ts `MultiScaleFlowSpec`: the squeeze's index formula, the masks, the
// latent ordering, and the whole model (density, init, training).
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { exportCheckpoint } from '../../export/export';
import { checkerMask, msLayout, paramShapes, Prng, type MultiScaleFlowSpec, type NamedWeight } from '../../core';
import { initBackend } from '../backend';
import { readCheckpoint } from '../checkpoint';
import { train, type TrainConfig } from '../loop';
import { buildModel, defaultSpec } from '../models';
import { ConvCoupling, MultiScale, Squeeze } from '../models/msflow';
import { Params } from '../models/nn';

const spec = (shape: number[], scales: number): MultiScaleFlowSpec => ({
  family: 'flow', model: 'realnvp-ms', shape, preprocess: { kind: 'logit', alpha: 0.05 }, activation: 'relu',
  multiscale: { scales, checker: 2, channel: 2, final: 2, filters: [6], kernel: 3 },
});

function randomWeights(s: MultiScaleFlowSpec, seed: number, std = 0.3): NamedWeight[] {
  const rng = new Prng(seed);
  return paramShapes(s).map((p) => ({ name: p.name, shape: p.shape, data: rng.normals(p.shape.reduce((a, b) => a * b, 1), std) }));
}

const rows = (n: number, d: number, seed = 1) => tf.tensor2d(new Prng(seed).normals(n * d), [n, d]);

beforeAll(async () => {
  await initBackend('cpu');
});

describe('squeeze', () => {
  it.each([[4, 6, 1], [2, 2, 3], [6, 4, 2]])('[%i, %i, %i]: out[a, b, (2p+q)c + k] = in[2a+p, 2b+q, k], and unsqueeze undoes it bit for bit', (h, w, c) => {
    const y = rows(3, h * w * c);
    const sq = new Squeeze(h, w, c);
    const out = tf.tidy(() => sq.forward(y).y.arraySync());
    const inp = y.arraySync();
    for (let n = 0; n < 3; n++) {
      for (let a = 0; a < h / 2; a++) for (let b = 0; b < w / 2; b++) for (let p = 0; p < 2; p++) for (let q = 0; q < 2; q++) for (let k = 0; k < c; k++) {
        expect(out[n][(a * (w / 2) + b) * 4 * c + (2 * p + q) * c + k]).toBe(inp[n][((2 * a + p) * w + 2 * b + q) * c + k]);
      }
    }
    expect(tf.tidy(() => sq.inverse(sq.forward(y).y).y.arraySync())).toEqual(inp);
  });
});

describe('masks', () => {
  it('checkerboard masks alternate with j and are complementary', () => {
    expect(checkerMask(2, 3, 0)).toEqual([0, 1, 0, 1, 0, 1]);
    expect(checkerMask(2, 3, 1)).toEqual([1, 0, 1, 0, 1, 0]);
    expect(checkerMask(3, 3, 2)).toEqual(checkerMask(3, 3, 0));
  });

  // s0.cb0 / s0.cb1 checkerboard on [4,4,1]; s0.ch0 / s0.ch1 channel halves on [2,2,4]
  const s = spec([4, 4], 1);
  const L = msLayout(s);
  const p = new Params(paramShapes(s), randomWeights(s, 5, 0.5), 0, 'mask test');
  const cases = [...L.scales[0].checker, ...L.scales[0].channel].map((cp) => [cp.prefix, cp] as const);
  it.each(cases)('%s: the conditioning half passes bit for bit, the other moves, and the inverse restores it', (_n, cp) => {
    const step = new ConvCoupling(p, cp, s);
    const D = cp.h * cp.w * cp.c;
    const y = rows(4, D, 9);
    const [f, b] = tf.tidy(() => {
      const fy = step.forward(y).y;
      return [fy.arraySync(), step.inverse(fy).y.arraySync()];
    });
    const x = y.arraySync();
    // which flattened [h, w, c] entries condition
    const conditions = (i: number) => {
      const k = i % cp.c;
      const pix = Math.floor(i / cp.c);
      if (cp.kind === 'checker') return checkerMask(cp.h, cp.w, cp.j)[pix] === 1;
      return cp.j % 2 === 0 ? k < cp.c / 2 : k >= cp.c / 2;
    };
    let moved = 0;
    for (let n = 0; n < 4; n++) {
      for (let i = 0; i < D; i++) {
        if (conditions(i)) {
          expect(f[n][i]).toBe(x[n][i]);
          expect(b[n][i]).toBe(x[n][i]);
        } else {
          moved = Math.max(moved, Math.abs(f[n][i] - x[n][i]));
          expect(Math.abs(b[n][i] - x[n][i])).toBeLessThan(1e-5);
        }
      }
    }
    expect(moved).toBeGreaterThan(0.05);
    step.dispose();
  });
});

describe('latent ordering', () => {
  it('at the identity init the flow is squeeze + factor-out: z = [scale-0 part, scale-1 part, final], each [h, w, c] row-major', () => {
    const s = spec([8, 4], 2);
    const ms = new MultiScale(new Params(paramShapes(s), undefined, 0, 'order test'), s);
    const y = rows(2, 32, 4);
    const z = tf.tidy(() => ms.forward(y).y.arraySync());
    const x = y.arraySync();
    // the spec's maths in plain JS: squeeze [8,4,1] -> [4,2,4]; channels 2,3 out; [4,2,2] -> [2,1,8]; 4..7 out; final [2,1,4]
    const squeeze = (v: number[], h: number, w: number, c: number) => {
      const o = new Array<number>(v.length);
      for (let a = 0; a < h / 2; a++) for (let b = 0; b < w / 2; b++) for (let p = 0; p < 2; p++) for (let q = 0; q < 2; q++) for (let k = 0; k < c; k++) {
        o[(a * (w / 2) + b) * 4 * c + (2 * p + q) * c + k] = v[((2 * a + p) * w + 2 * b + q) * c + k];
      }
      return o;
    };
    const split = (v: number[], c: number) => [v.filter((_, i) => i % c < c / 2), v.filter((_, i) => i % c >= c / 2)];
    for (let n = 0; n < 2; n++) {
      const [keep0, out0] = split(squeeze(x[n], 8, 4, 1), 4);
      const [keep1, out1] = split(squeeze(keep0, 4, 2, 2), 8);
      expect(z[n]).toEqual([...out0, ...out1, ...keep1]);
    }
    expect(msLayout(s).scales.map((sc) => sc.out.offset)).toEqual([0, 16]);
    expect(msLayout(s).last.offset).toBe(24);
    ms.dispose();
  });
});

describe('the realnvp-ms model', () => {
  it('defaults on 28x28: two scales, latent parts 392 + 196 + 196', () => {
    const s = defaultSpec('flow', 'realnvp-ms', 'mnist') as MultiScaleFlowSpec;
    const L = msLayout(s);
    expect(L.scales.map((sc) => sc.out.h * sc.out.w * sc.out.c)).toEqual([392, 196]);
    expect(L.last).toEqual({ offset: 588, h: 7, w: 7, c: 4 });
    expect(() => defaultSpec('flow', 'realnvp-ms', 'moons')).toThrow(/needs image data/);
  });

  it('sample inverts encode, actnorm init whitens, training lowers the loss', () => {
    const s = spec([8, 8], 2);
    const model = buildModel(s, randomWeights(s, 2, 0.2));
    const x = tf.tensor2d(Float32Array.from(new Prng(3).normals(16 * 64), (v) => Math.min(254.5, Math.max(0.5, 128 + 60 * v))), [16, 64]);
    tf.tidy(() => {
      const z = model.encode!(x).z!;
      const back = model.sample(z).x;
      expect(tf.max(tf.abs(tf.sub(back, x))).dataSync()[0]).toBeLessThan(1e-2);
    });
    model.dispose();

    const fresh = buildModel(s, undefined, { seed: 1 });
    fresh.initialize(x);
    tf.tidy(() => {
      // after the data-dependent init, z of the init batch has mean ~0 and variance ~1 in the final part
      const z = fresh.encode!(x).z!;
      const last = tf.slice(z, [0, 48], [-1, 16]);
      const { mean, variance } = tf.moments(last);
      expect(Math.abs(mean.dataSync()[0])).toBeLessThan(1e-3);
      expect(Math.abs(variance.dataSync()[0] - 1)).toBeLessThan(1e-2);
    });
    const losses: number[] = [];
    for (let i = 0; i < 15; i++) {
      const l = fresh.trainStep(x, new Prng(i));
      losses.push(l.loss.dataSync()[0]);
      l.loss.dispose();
    }
    expect(losses[14]).toBeLessThan(losses[0] - 1);
    fresh.dispose();
    x.dispose();
  });
});

// last in the file: it leaves the wasm backend in place
describe('realnvp-ms through the training loop and the exporter (wasm)', () => {
  it('held-out bits/dim fall over 20 tiny steps on MNIST; the checkpoint exports to verified ONNX', async () => {
    const cfg: TrainConfig = {
      family: 'flow', model: 'realnvp-ms', data: 'mnist', backend: 'wasm', threads: 1, steps: 20, batch: 16, lr: 3e-3, seed: 1,
      out: mkdtempSync(join(tmpdir(), 'edgegen-msflow-')), resume: false, evalEvery: 1000, eval: { n: 100 }, size: 'tiny', command: 'vitest', verbose: false,
    };
    const r0 = await train({ ...cfg, steps: 0 });
    const r1 = await train({ ...cfg, resume: true });
    const ck = readCheckpoint(r1.checkpoint);
    expect(ck.spec).toMatchObject({ family: 'flow', model: 'realnvp-ms', multiscale: { scales: 2 } });
    expect(r1.metrics.bitsPerDim).toBeLessThan(r0.metrics.bitsPerDim - 0.2);
    const out = await exportCheckpoint(r1.checkpoint, { out: mkdtempSync(join(tmpdir(), 'edgegen-msflow-export-')) });
    expect(out.manifest.id).toBe('flow-realnvp-ms-mnist');
    expect(out.manifest.capabilities).toEqual(['sample', 'density', 'encode']);
    expect(out.verification.map((v) => v.capability)).toEqual(['sample', 'density', 'encode']);
    for (const v of out.verification) expect(v.maxError).toBeLessThanOrEqual(1e-4);
  }, 120_000);
});
