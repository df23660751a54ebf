import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Family } from '../../core';
import { readCheckpoint } from '../checkpoint';
import { gridPoints } from '../png';
import { train, type TrainConfig } from '../loop';
import { buildModel } from '../models';

const tmp = () => mkdtempSync(join(tmpdir(), 'edgegen-train-'));

function cfg(family: Family, model: string, data: string, over: Partial<TrainConfig>): TrainConfig {
  return {
    family, model, data, backend: 'cpu', steps: 40, batch: 128, lr: 3e-3, seed: 1, out: tmp(), resume: false,
    evalEvery: 1000, eval: { n: 500, k: 8 }, size: 'tiny', command: 'vitest', verbose: false, ...over,
  };
}

describe('training improves held-out metrics and resumes from checkpoints', () => {
  const cases: Array<[Family, string, string, string, number, number]> = [
    ['flow', 'realnvp', 'moons', 'testNll', 60, 3e-3],
    ['flow', 'nice', 'moons', 'testNll', 80, 1e-2],
    ['vae', 'vae', 'moons', 'iwae', 60, 3e-3],
    ['gan', 'gan', 'eightgaussians', 'mmd', 300, 3e-3],
  ];
  it.each(cases)('%s/%s on %s: %s improves', async (family, model, data, metric, steps, lr) => {
    const c = cfg(family, model, data, { lr });
    const r0 = await train({ ...c, steps: 0 }); // step-0 evaluation of the fresh model
    const r1 = await train({ ...c, steps, resume: true });
    expect(r1.step).toBe(steps);
    const before = r0.metrics[metric];
    const after = r1.metrics[metric];
    if (metric === 'iwae') expect(after).toBeGreaterThan(before + 0.1);
    else expect(after).toBeLessThan(metric === 'mmd' ? before * 0.5 : before - 0.1);
    // the checkpoint carries what export/ needs
    const ck = readCheckpoint(r1.checkpoint);
    expect(ck.step).toBe(steps);
    expect(ck.meta).toMatchObject({ dataset: data, discrete: false, backend: 'cpu', batchSize: 128, seed: 1, command: 'vitest' });
    expect((ck.meta.metrics as Record<string, number>)[metric]).toBeCloseTo(after, 6);
    expect(ck.optimizer.length).toBeGreaterThan(0);
    const lines = readFileSync(join(c.out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.filter((l) => l.kind === 'eval').map((l) => l.step)).toEqual([0, steps]);
    expect(existsSync(join(c.out, 'samples.png'))).toBe(true);
  });

  it('--seed makes cpu runs repeatable, and resuming equals an unbroken run', async () => {
    const a = cfg('flow', 'realnvp', 'moons', { steps: 12, evalEvery: 6 });
    const b = cfg('flow', 'realnvp', 'moons', { steps: 6, evalEvery: 6 });
    await train(a);
    await train(b);
    await train({ ...b, steps: 12, resume: true });
    const wa = readCheckpoint(join(a.out, 'checkpoint.egck')).weights;
    const wb = readCheckpoint(join(b.out, 'checkpoint.egck')).weights;
    expect(wb.map((w) => Array.from(w.data))).toEqual(wa.map((w) => Array.from(w.data)));
    const c = cfg('flow', 'realnvp', 'moons', { steps: 12, evalEvery: 6, seed: 2 });
    await train(c);
    const wc = readCheckpoint(join(c.out, 'checkpoint.egck')).weights;
    expect(wc.map((w) => Array.from(w.data))).not.toEqual(wa.map((w) => Array.from(w.data)));
  });

  it('a NaN loss stops the run with a clear message and keeps the last good checkpoint', async () => {
    const c = cfg('vae', 'vae', 'moons', { steps: 5, evalEvery: 5 });
    await train(c);
    const good = readFileSync(join(c.out, 'checkpoint.egck'));
    await expect(train({ ...c, steps: 200, lr: 1e30, resume: true })).rejects.toThrow(/became (NaN|Infinity|-Infinity) between steps \d+ and \d+; stopped.*last good checkpoint/);
    expect(readFileSync(join(c.out, 'checkpoint.egck')).equals(good)).toBe(true);
  });

  it('a briefly trained 2-D flow has a density that integrates to 1 +- 0.05', async () => {
    const r = await train(cfg('flow', 'realnvp', 'moons', { steps: 60 }));
    const ck = readCheckpoint(r.checkpoint);
    const flow = buildModel(ck.spec, ck.weights);
    const size = 300;
    const [lo, hi] = [-6, 6];
    const logp = tf.tidy(() => flow.density!(tf.tensor2d(gridPoints(size, lo, hi), [size * size, 2])).logp!.dataSync());
    const cell = ((hi - lo) / size) ** 2;
    const mass = Array.from(logp).reduce((s, v) => s + Math.exp(v) * cell, 0);
    expect(Math.abs(mass - 1)).toBeLessThan(0.05);
    flow.dispose();
  });
});
