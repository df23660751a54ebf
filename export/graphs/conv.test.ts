/**
 * Conv graphs (export/graphs/conv.ts) against the tfjs model they come from:
 * the conv VAE's sample, density and encode graphs and the DCGAN's sample
 * graph, at batch 1 and 257, for kernels 3 and 4 (whose SAME pads differ),
 * with random weights; every file passes onnx.checker with full_check.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ModelSpec } from '../../core/spec';
import { initBackend } from '../../train/backend';
import { buildModel, defaultSpec } from '../../train/models';
import { checkOnnxFiles } from '../testing/onnx-check';
import { tfjsReference } from '../tfjs-reference';
import { verifyGraphs } from '../verify';
import { buildGraphs } from './index';

const dir = mkdtempSync(join(tmpdir(), 'edgegen-conv-graphs-'));

function convSpec(family: 'vae' | 'gan', kernel: number): ModelSpec {
  const spec = defaultSpec(family, family === 'gan' ? 'dcgan' : 'vae', 'mnist', { arch: 'conv', size: 'tiny' }) as Extract<ModelSpec, { family: 'vae' | 'gan' }>;
  return { ...spec, conv: { ...spec.conv!, kernel } };
}

describe('conv graphs match tfjs', () => {
  it.each([['vae', 3], ['vae', 4], ['gan', 3], ['gan', 4]] as const)('%s, kernel %i, batch 1 and 257', async (family, kernel) => {
    await initBackend('cpu');
    const spec = convSpec(family, kernel);
    const model = buildModel(spec, undefined, { seed: 3 });
    const weights = model.weights();
    model.dispose();
    const graphs = buildGraphs(spec, weights).map((g) => ({ capability: g.capability, bytes: g.builder.toBytes(`conv ${family}`) }));
    expect(graphs.map((g) => g.capability)).toEqual(family === 'vae' ? ['sample', 'density', 'encode'] : ['sample']);
    const ref = await tfjsReference(spec, weights);
    try {
      for (const n of [1, 257]) {
        const reports = await verifyGraphs(spec, graphs, ref, { n, k: 3, seed: n });
        expect(reports.length).toBeGreaterThanOrEqual(graphs.length);
        for (const r of reports) expect(r.maxError).toBeLessThanOrEqual(1e-4);
      }
    } finally {
      ref.dispose();
    }
    const paths = graphs.map((g) => {
      const p = join(dir, `${family}-k${kernel}-${g.capability}.onnx`);
      writeFileSync(p, g.bytes);
      return p;
    });
    expect(checkOnnxFiles(paths).map(([, ir, op]) => [ir, op])).toEqual(paths.map(() => [8, 13]));
  }, 60_000);
});
