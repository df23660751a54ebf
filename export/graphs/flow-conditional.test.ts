// Class-conditional flows (the FlowGMM base of core/flowspec.ts `FlowSpec`): the
// graphs of the MLP flows and of the multi-scale RealNVP against their tfjs
// models and the MLP flows against the float64 reference, at batch 1 and 257
// and for every class; the protocol's log p(x) is the prior's mixture of the
// graph's logpy, and logpy is the unconditional flow's density moved to N(mu_y, I).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BASE_MU, defaultSpec, familyOf, paramShapes } from '../../core/families';
import { Prng } from '../../core/prng';
import { oneHot, runDensity, runEncode, runSample } from '../../core/protocol';
import { dataDim, type Conditioning, type FlowSpec, type ModelSpec, type NamedWeight } from '../../core/spec';
import { openGraph, runGraph } from '../ort';
import { reference } from '../testing/fixtures';
import { inspectGraph } from '../testing/inspect';
import { checkOnnxFiles } from '../testing/onnx-check';
import { tfjsReference } from '../tfjs-reference';
import { specInfo, testInputs, verifyGraphs } from '../verify';
import { buildGraphs } from './index';

const C = 10;
// not uniform, so a marginal that dropped the prior would disagree
const raw = Array.from({ length: C }, (_, i) => i + 1);
const CLASSES: Conditioning = { names: raw.map((_, i) => String(i)), prior: raw.map((v) => v / raw.reduce((a, b) => a + b, 0)) };

const conditional = (model: string): ModelSpec => defaultSpec('flow', model, [28, 28], { size: 'tiny', conditional: CLASSES });

/**
 * Random weights: small in the bijection, so |z| stays moderate through the
 * couplings while each still moves its half; class means at 0.05, so classes
 * overlap and the mixture has more than one term that counts.
 */
function randomWeights(spec: ModelSpec, seed: number): NamedWeight[] {
  const rng = new Prng(seed);
  const std = (name: string) => (name === BASE_MU ? 0.05 : name.endsWith('.an.bias') ? 0.3 : spec.model === 'realnvp-ms' ? 0.15 : 0.1);
  return paramShapes(spec).map((p) => ({ name: p.name, shape: p.shape, data: rng.normals(p.shape.reduce((a, b) => a * b, 1), std(p.name)) }));
}

const bytesOf = (spec: ModelSpec, weights: NamedWeight[]) =>
  buildGraphs(spec, weights).map((g) => ({ capability: g.capability, bytes: g.builder.toBytes('conditional flow test') }));

const rows = (data: ArrayLike<number>, n: number): number[][] => {
  const d = data.length / n;
  return Array.from({ length: n }, (_, i) => Array.from(data).slice(i * d, (i + 1) * d));
};

function maxRelErr(got: ArrayLike<number>, want: number[]): number {
  expect(got.length).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / Math.max(1, Math.abs(want[i])));
  return worst;
}

/** Class ids of a batch: each class alone at batch 1 (so every class is checked), i mod C at larger batches. */
const labelSets = (n: number): number[][] => (n === 1 ? Array.from({ length: C }, (_, c) => [c]) : [Array.from({ length: n }, (_, i) => i % C)]);

describe.each(['realnvp', 'nice', 'realnvp-ms'])('conditional flow %s graphs', (model) => {
  const spec = conditional(model);
  const D = dataDim(spec);
  const weights = randomWeights(spec, 11);
  const graphs = bytesOf(spec, weights);
  const info = specInfo(spec);

  it('signatures: sample takes label [N, C], density answers logpy [N, C], encode as before; onnx full_check', () => {
    const want = familyOf('flow').signatures(D, D, C);
    expect(graphs.map((g) => g.capability)).toEqual(['sample', 'density', 'encode']);
    for (const g of graphs) {
      const got = inspectGraph(g.bytes);
      expect([got.inputs, got.outputs], g.capability).toEqual([want[g.capability]!.inputs, want[g.capability]!.outputs]);
    }
    expect(want.sample!.inputs.label).toEqual(['N', C]);
    expect(want.density!.outputs).toEqual({ logpy: ['N', C] });
    const dir = mkdtempSync(join(tmpdir(), 'edgegen-flow-cond-'));
    const paths = graphs.map((g) => {
      const p = join(dir, `${model}-${g.capability}.onnx`);
      writeFileSync(p, g.bytes);
      return p;
    });
    expect(checkOnnxFiles(paths).map(([, ir, op]) => [ir, op])).toEqual(paths.map(() => [8, 13]));
  });

  it('match the tfjs model at batch 1 and 257, every class', async () => {
    const ref = await tfjsReference(spec, weights);
    const smp = await openGraph(graphs[0].bytes);
    try {
      for (const n of [1, 257]) {
        // protocol path: labels i mod C, logpy of every class and its mixture logp
        const reports = await verifyGraphs(spec, graphs, ref, { n, seed: n });
        expect(reports.map((r) => `${r.capability}.${r.output}`)).toEqual(['sample.x', 'density.logp', 'density.logpy', 'encode.z']);
        for (const r of reports) expect(r.maxError).toBeLessThanOrEqual(1e-4);
        const rng = new Prng(100 + n);
        for (const ids of labelSets(n)) {
          const z = rng.normals(n * D);
          const label = oneHot(ids, C);
          const got = await runSample(info, smp.run, z, n, { label });
          const want = (await ref.sample(z, n, undefined, label)).x!;
          let worst = 0;
          for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / 256);
          expect(worst, `labels ${ids.slice(0, 3)}`).toBeLessThanOrEqual(1e-4);
        }
      }
      // the label moves the sample: one z, two classes, two images
      const z = new Prng(3).normals(D);
      const [a, b] = [await runSample(info, smp.run, z, 1, { label: oneHot([0], C) }), await runSample(info, smp.run, z, 1, { label: oneHot([9], C) })];
      expect(Math.max(...a.map((v, i) => Math.abs(v - b[i])))).toBeGreaterThan(1);
    } finally {
      ref.dispose();
      await smp.release();
    }
  }, 120_000);

  it('log p(x) is logsumexp_y(log prior_y + logpy), logpy the unconditional density moved to N(mu_y, I)', async () => {
    const n = 33;
    const x = testInputs(spec, n, new Prng(4));
    // the same bijection without a class base
    const plain = { ...spec, conditional: undefined };
    const plainGraphs = bytesOf(plain, weights.filter((w) => w.name !== BASE_MU));
    const out = await runDensity(info, (feeds) => runGraph(graphs[1].bytes, feeds), x, n);
    const logp0 = (await runGraph(plainGraphs[1].bytes, { x: { data: x, dims: [n, D] } })).logp.data;
    const z = (await runEncode(info, (feeds) => runGraph(graphs[2].bytes, feeds), x, n)).z;
    const mu = weights.find((w) => w.name === BASE_MU)!.data;
    const want: number[] = [];
    const mixture: number[] = [];
    for (let r = 0; r < n; r++) {
      const a: number[] = [];
      for (let y = 0; y < C; y++) {
        let zm = 0;
        let mm = 0;
        for (let d = 0; d < D; d++) {
          zm += z[r * D + d] * mu[y * D + d];
          mm += mu[y * D + d] ** 2;
        }
        want.push(logp0[r] + zm - 0.5 * mm);
        a.push(out.perClass![r * C + y] + Math.log(CLASSES.prior[y]));
      }
      const mx = Math.max(...a);
      mixture.push(mx + Math.log(a.reduce((s, v) => s + Math.exp(v - mx), 0)));
      // more than one class counts in these rows (the test would pass a max() otherwise)
      expect(mixture[r] - mx).toBeGreaterThan(1e-3);
    }
    expect(maxRelErr(out.perClass!, want)).toBeLessThan(1e-4);
    expect(maxRelErr(out.logp, mixture)).toBeLessThan(1e-6);
    for (let r = 0; r < n; r++) expect(out.posterior!.subarray(r * C, (r + 1) * C).reduce((s, v) => s + v, 0)).toBeCloseTo(1, 5);
  });
});

describe.each(['realnvp', 'nice'])('conditional flow %s graphs against the float64 reference', (model) => {
  it('density (logpy and the marginal), sample for every class and encode at batch 1 and 257', async () => {
    const spec = conditional(model) as FlowSpec;
    const D = dataDim(spec);
    const weights = randomWeights(spec, 5);
    const [sample, density, encode] = bytesOf(spec, weights).map((g) => g.bytes);
    const ref = reference(spec, weights);
    const info = specInfo(spec);
    for (const n of [1, 257]) {
      const rng = new Prng(n);
      const x = testInputs(spec, n, rng);
      const want = ref.density(rows(x, n));
      const d = await runGraph(density, { x: { data: x, dims: [n, D] } });
      expect(d.logpy.dims).toEqual([n, C]);
      expect(maxRelErr(d.logpy.data, want.logpy!.flat())).toBeLessThan(1e-4);
      expect(maxRelErr((await runDensity(info, (feeds) => runGraph(density, feeds), x, n)).logp, want.logp)).toBeLessThan(1e-4);
      const e = await runGraph(encode, { x: { data: x, dims: [n, D] } });
      expect(maxRelErr(e.z.data, ref.encode(rows(x, n)).z.flat())).toBeLessThan(1e-4);
      for (const ids of labelSets(n)) {
        const z = rng.normals(n * D);
        const label = oneHot(ids, C);
        const s = await runGraph(sample, { z: { data: z, dims: [n, D] }, label: { data: label, dims: [n, C] } });
        expect(maxRelErr(s.x.data, ref.sample(rows(z, n), rows(label, n)).x.flat()), `labels ${ids.slice(0, 3)}`).toBeLessThan(1e-4);
      }
    }
  }, 120_000);
});
