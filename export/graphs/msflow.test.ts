/**
 * Multi-scale RealNVP graphs (export/graphs/msflow.ts) against the tfjs model
 * they come from: sample, density and encode at batch 1 and 257 with random
 * weights, two scale counts and kernels 3 and 5; sample(encode(x)) = x through
 * ONNX alone; every file passes onnx.checker with full_check.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { paramShapes } from '../../core/families';
import { Prng } from '../../core/prng';
import type { MultiScaleFlowSpec, NamedWeight } from '../../core/spec';
import { runEncode, runSample } from '../../core/protocol';
import { initBackend } from '../../train/backend';
import { defaultSpec } from '../../train/models';
import { checkOnnxFiles } from '../testing/onnx-check';
import { openGraph } from '../ort';
import { tfjsReference } from '../tfjs-reference';
import { specInfo, testInputs, verifyGraphs } from '../verify';
import { buildGraphs } from './index';

const dir = mkdtempSync(join(tmpdir(), 'edgegen-msflow-graphs-'));

/** Random weights, small enough that 20 couplings keep |z| moderate but every coupling moves its half. */
function randomWeights(spec: MultiScaleFlowSpec, seed: number): NamedWeight[] {
  const rng = new Prng(seed);
  return paramShapes(spec).map((p) => ({ name: p.name, shape: p.shape, data: rng.normals(p.shape.reduce((a, b) => a * b, 1), p.name.endsWith('.an.bias') ? 0.3 : 0.15) }));
}

const CASES: Array<[string, MultiScaleFlowSpec]> = (() => {
  const tiny = defaultSpec('flow', 'realnvp-ms', 'mnist', { size: 'tiny' }) as MultiScaleFlowSpec;
  const base = { ...tiny, shape: [8, 12] };
  return [
    ['tiny 28x28, 2 scales, kernel 3', tiny],
    ['8x12, 1 scale, kernel 5, two hidden convs', { ...base, multiscale: { ...base.multiscale, scales: 1, filters: [5, 3], kernel: 5 } }],
    ['8x12, 2 scales, 3+1+2 couplings', { ...base, multiscale: { ...base.multiscale, scales: 2, checker: 3, channel: 1, final: 2 } }],
  ];
})();

describe('multi-scale RealNVP graphs match tfjs', () => {
  it.each(CASES)('%s: batch 1 and 257, onnx full_check, sample(encode(x)) = x', async (name, spec) => {
    await initBackend('cpu');
    const weights = randomWeights(spec, 11);
    const graphs = buildGraphs(spec, weights).map((g) => ({ capability: g.capability, bytes: g.builder.toBytes(`msflow ${name}`) }));
    expect(graphs.map((g) => g.capability)).toEqual(['sample', 'density', 'encode']);
    const ref = await tfjsReference(spec, weights);
    try {
      for (const n of [1, 257]) {
        const reports = await verifyGraphs(spec, graphs, ref, { n, seed: n });
        expect(reports.map((r) => r.capability)).toEqual(['sample', 'density', 'encode']);
        for (const r of reports) expect(r.maxError).toBeLessThanOrEqual(1e-4);
      }
    } finally {
      ref.dispose();
    }

    // the flow inverts through the ONNX graphs alone
    const info = specInfo(spec);
    const D = spec.shape[0] * spec.shape[1];
    const x = testInputs(spec, 16, new Prng(5)).map((v) => Math.min(254.5, Math.max(0.5, v)));
    const enc = await openGraph(graphs[2].bytes);
    const smp = await openGraph(graphs[0].bytes);
    try {
      const z = (await runEncode(info, enc.run, x, 16)).z!;
      expect(z.length).toBe(16 * D);
      const back = await runSample(info, smp.run, z, 16, { mode: 'sample' });
      let worst = 0;
      for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(back[i] - x[i]));
      expect(worst).toBeLessThan(0.05);
    } finally {
      await enc.release();
      await smp.release();
    }

    const paths = graphs.map((g) => {
      const p = join(dir, `${name.replace(/\W+/g, '-')}-${g.capability}.onnx`);
      writeFileSync(p, g.bytes);
      return p;
    });
    expect(checkOnnxFiles(paths).map(([, ir, op]) => [ir, op])).toEqual(paths.map(() => [8, 13]));
  }, 120_000);
});
