// Every shipped model with an exact 2-D density integrates to 1: the sum of
// p(x) over a fine grid covering the data and its tails, times the cell area.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Manifest, ModelIndex } from '../core/manifest';
import { runDensity } from '../core/protocol';
import { openGraph } from './ort';

const MODELS = join(import.meta.dirname, '..', 'models');
const index: ModelIndex = existsSync(join(MODELS, 'index.json')) ? JSON.parse(readFileSync(join(MODELS, 'index.json'), 'utf8')) : { models: [] };
const exact2d = index.models.filter((m) => m.density === 'exact' && m.shape.length === 1 && m.shape[0] === 2);

describe('exact 2-D densities integrate to 1', () => {
  it('every family with an exact density has a 2-D model here', () => {
    expect(new Set(exact2d.map((m) => m.family))).toEqual(new Set(['flow', 'made']));
  });

  it.each(exact2d.map((m) => [m.id] as const))('%s', async (id) => {
    const m: Manifest = JSON.parse(readFileSync(join(MODELS, id, 'manifest.json'), 'utf8'));
    // the box: the data range with a wide margin for the tails
    const [lo, hi] = [Math.min(m.range[0], -m.range[1]) - 4, Math.max(m.range[1], -m.range[0]) + 4];
    const res = 600;
    const h = (hi - lo) / res;
    const x = new Float32Array(res * res * 2);
    for (let i = 0; i < res; i++) {
      for (let j = 0; j < res; j++) {
        x[2 * (i * res + j)] = lo + (i + 0.5) * h;
        x[2 * (i * res + j) + 1] = lo + (j + 0.5) * h;
      }
    }
    const g = await openGraph(new Uint8Array(readFileSync(join(MODELS, id, 'density.onnx'))));
    const { logp } = await runDensity(m, g.run, x, res * res);
    await g.release();
    const mass = logp.reduce((s, v) => s + Math.exp(v), 0) * h * h;
    expect(Math.abs(mass - 1), `${id}: mass ${mass} on [${lo}, ${hi}]^2`).toBeLessThan(0.01);
  });
});
