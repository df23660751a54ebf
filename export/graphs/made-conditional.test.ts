// The class-conditional MADE (core/spec.ts `MadeSpec`: the label feeds every
// layer through made.{i}.V) as ONNX: against the float64 reference and against
// its tfjs model, at batch 1 (each class alone) and 257 (classes i mod C), one
// Gaussian, a mixture, the discretised logistic and a mixture of them, one and two hidden layers; the protocol's log p(x)
// is the prior's mixture of the graph's logpy; the conditional MNIST default
// stays under 10 MB a graph and passes onnx's checker.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultSpec, familyOf, latentDimOf } from '../../core/families';
import { madeLabelWeight } from '../../core/families/made';
import { Prng } from '../../core/prng';
import { oneHot, runDensity, runSample, runSamplePass } from '../../core/protocol';
import { dataDim, type Conditioning, type MadeSpec, type NamedWeight } from '../../core/spec';
import { openGraph } from '../ort';
import { randomWeights } from '../testing/fixtures';
import { inspectGraph } from '../testing/inspect';
import { madeReference } from '../testing/made';
import { checkOnnxFiles } from '../testing/onnx-check';
import { tfjsReference } from '../tfjs-reference';
import { specInfo, testInputs, verifyGraphs } from '../verify';
import { buildGraphs } from './index';

// not uniform, so a marginal that dropped the prior would disagree
const CLASSES: Conditioning = { names: ['a', 'b', 'c', 'd'], prior: [0.4, 0.3, 0.2, 0.1] };
const C = CLASSES.names.length;

/** A small conditional image MADE: 36 pixels, so every hidden layer wider than D - 1 = 35 has units of every degree. */
function spec(hidden: number[], components: number, likelihood: 'gaussian' | 'logistic'): MadeSpec {
  if (likelihood === 'logistic') return { family: 'made', model: 'made', shape: [6, 6], preprocess: { kind: 'unit' }, hidden, activation: 'relu', minLogStd: -7, components, conditional: CLASSES, likelihood };
  return { family: 'made', model: 'made', shape: [6, 6], preprocess: { kind: 'logit', alpha: 0.05 }, hidden, activation: 'relu', minLogStd: -5, components, conditional: CLASSES };
}

const rows = (data: ArrayLike<number>, n: number): number[][] => {
  const d = data.length / n;
  return Array.from({ length: n }, (_, i) => Array.from(data).slice(i * d, (i + 1) * d));
};

/** max |a - b| / max(1, |b|) */
function maxRelErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  expect(got.length).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / Math.max(1, Math.abs(want[i])));
  return worst;
}

/** logsumexp_y (log prior_y + v[r, y]) per row, float64 */
const mixture = (perClass: ArrayLike<number>, n: number): number[] =>
  Array.from({ length: n }, (_, r) => {
    const a = CLASSES.prior.map((p, y) => perClass[r * C + y] + Math.log(p));
    const mx = Math.max(...a);
    return mx + Math.log(a.reduce((s, v) => s + Math.exp(v - mx), 0));
  });

/** Random weights, the label's at 0.5 so each class moves every layer. */
const weightsOf = (s: MadeSpec, seed: number): NamedWeight[] => randomWeights(s, seed, 0.3).map((w) => (w.name.endsWith('.V') ? { ...w, data: w.data.map((v) => v * (0.5 / 0.3)) } : w));

const bytesOf = (s: MadeSpec, weights: NamedWeight[]) => buildGraphs(s, weights).map((g) => ({ capability: g.capability, bytes: g.builder.toBytes('conditional made test') }));

describe.each([
  ['one Gaussian, one hidden layer', [48], 1, 'gaussian'],
  ['3 components, two hidden layers', [48, 40], 3, 'gaussian'],
  ['the discretised logistic, two hidden layers', [48, 40], 1, 'logistic'],
  // narrower than D - 1 = 35: the degrees spread over 1..35 (core/families/made.ts madeDegree)
  ['a mixture of 3 discretised logistics, one hidden layer of 20', [20], 3, 'logistic'],
  // the shipped image MADEs' kind: its own, shorter sampling step
  ['two discretised logistics, two hidden layers', [48, 20], 2, 'logistic'],
] as Array<[string, number[], number, 'gaussian' | 'logistic']>)('conditional MADE graphs (%s)', (_name, hidden, components, likelihood) => {
  const s = spec(hidden, components, likelihood);
  const D = dataDim(s);
  const L = latentDimOf(s);
  const weights = weightsOf(s, 7);
  const graphs = bytesOf(s, weights);
  const graph = (c: string) => graphs.find((g) => g.capability === c)!.bytes;
  const info = specInfo(s);
  const ref = madeReference(s, weights);

  it('signatures: sample takes label [N, C], density answers logpy [N, C]; a V per layer', () => {
    const want = familyOf('made').signatures(D, L, C);
    expect(graphs.map((g) => g.capability)).toEqual(['sample', 'density']);
    for (const g of graphs) {
      const got = inspectGraph(g.bytes);
      expect([got.inputs, got.outputs], g.capability).toEqual([want[g.capability]!.inputs, want[g.capability]!.outputs]);
    }
    expect(want.density!.outputs).toEqual({ logpy: ['N', C] });
    expect(weights.filter((w) => w.name.endsWith('.V')).map((w) => [w.name, w.shape])).toEqual([...hidden, components === 1 ? 2 * D : 3 * components * D].map((size, i) => [madeLabelWeight(i), [C, size]]));
  });

  it('match the float64 reference: logpy per class, log p(x) their mixture over the prior, samples under every class', async () => {
    const n = 5;
    const rng = new Prng(3);
    const x = Float32Array.from({ length: n * D }, () => rng.uniform() * 256);
    const want = ref.density(rows(x, n)) as { logpy: number[][]; logp: number[] };
    const density = await openGraph(graph('density'));
    const out = await runDensity(info, density.run, x, n);
    await density.release();
    expect(maxRelErr(out.perClass!, want.logpy.flat())).toBeLessThan(1e-4);
    expect(maxRelErr(out.logp, want.logp)).toBeLessThan(1e-4);
    // log p(x) = logsumexp_y (log p(y) + log p(x | y)), from the graph's own logpy
    expect(maxRelErr(out.logp, mixture(out.perClass!, n))).toBeLessThan(1e-6);
    // the label reaches the net: the classes score each row differently
    expect(new Set(want.logpy[0].map((v) => v.toFixed(3))).size).toBe(C);

    const sample = await openGraph(graph('sample'));
    const z = rng.normals(n * L);
    const seen = new Set<string>();
    for (let y = 0; y < C; y++) {
      const label = oneHot(new Array(n).fill(y), C);
      const got = await runSample(info, sample.run, z, n, { label });
      const wantX = ref.sample(rows(z, n), rows(label, n)).x.flat();
      expect(Math.max(...wantX.map((v, i) => Math.abs(got[i] - v) / 256)), `label ${y}`).toBeLessThan(1e-4);
      seen.add(Array.from(got.subarray(0, D), (v) => v.toFixed(1)).join());
    }
    await sample.release();
    expect(seen.size).toBe(C);
  });

  it.each([1, 257])('match the tfjs model at batch %i, every class', async (n) => {
    const tf = await tfjsReference(s, weights);
    try {
      // sample, teacher-forced through the protocol: one pass from tfjs's final state gives it back
      const sample = await openGraph(graph('sample'));
      const labelSets = n === 1 ? Array.from({ length: C }, (_, c) => [c]) : [Array.from({ length: n }, (_, i) => i % C)];
      for (const ids of labelSets) {
        const rng = new Prng(n + ids[0]);
        const z = rng.normals(n * L);
        const label = oneHot(ids, C);
        const want = await tf.sample(z, n, undefined, label);
        const pass = await runSamplePass(info, sample.run, z, want.y!, n, label);
        expect(maxRelErr(pass.yNext, want.y!), `y, classes ${ids.slice(0, 4)}`).toBeLessThan(1e-4);
        expect(Math.max(...pass.x.map((v, i) => Math.abs(v - want.x![i]) / 256))).toBeLessThan(1e-4);
        // free-running: the graph's own run of all 36 steps against tfjs's 36 passes of the whole net, rounding compounding
        const free = await runSample(info, sample.run, z, n, { label });
        expect(maxRelErr(free, want.x!)).toBeLessThan(1e-4);
      }
      await sample.release();
      // density: every class's logpy and their mixture (verifyGraphs compares both)
      const reports = await verifyGraphs(s, graphs.filter((g) => g.capability === 'density'), tf, { n, seed: n });
      expect(reports.map((r) => r.output).sort()).toEqual(['logp', 'logpy']);
      const x = testInputs(s, n, new Prng(5));
      const density = await openGraph(graph('density'));
      const out = await runDensity(info, density.run, x, n);
      await density.release();
      const wantD = await tf.density!(x, n);
      expect(maxRelErr(out.perClass!, wantD.logpy!)).toBeLessThan(1e-4);
      expect(maxRelErr(out.logp, wantD.logp!)).toBeLessThan(1e-4);
    } finally {
      tf.dispose();
    }
  }, 60_000);
});

describe('the conditional image MADE default', () => {
  const mnist: Conditioning = { names: Array.from({ length: 10 }, (_, i) => String(i)), prior: new Array(10).fill(0.1) };

  it('is 1024 units wide (every pixel sees the pixels before it) with discretised-logistic conditionals, and each graph stays under 10 MB and passes onnx full_check', () => {
    const s = defaultSpec('made', undefined, [28, 28], { conditional: mnist }) as MadeSpec;
    expect(s.hidden).toEqual([1024]);
    expect([s.likelihood, s.preprocess.kind]).toEqual(['logistic', 'unit']);
    expect(Math.min(...s.hidden)).toBeGreaterThanOrEqual(28 * 28 - 1);
    // the unconditional defaults are unchanged
    expect((defaultSpec('made', undefined, [28, 28]) as MadeSpec).hidden).toEqual([160]);
    const graphs = bytesOf(s, randomWeights(s, 1, 0.01));
    const dir = mkdtempSync(join(tmpdir(), 'edgegen-made-cond-'));
    const paths = graphs.map((g) => {
      expect(g.bytes.length, g.capability).toBeLessThan(10_000_000);
      const p = join(dir, `${g.capability}.onnx`);
      writeFileSync(p, g.bytes);
      return p;
    });
    expect(checkOnnxFiles(paths).map(([, ir, op]) => [ir, op])).toEqual(paths.map(() => [8, 13]));
  }, 60_000);
});
