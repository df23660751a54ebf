// MADE's graphs on small random models, against the float64 reference of
// core/spec.ts (export/testing/made.ts), run through the graph protocol.
import { describe, expect, it } from 'vitest';
import { defaultSpec, latentDimOf } from '../../core/families';
import { Prng } from '../../core/prng';
import { runAutoregressive, runDensity, runSample } from '../../core/protocol';
import { dataDim, preSupport, type MadeSpec, type Preprocess } from '../../core/spec';
import { openGraph } from '../ort';
import { madeReference } from '../testing/made';
import { randomWeights } from '../testing/fixtures';
import { buildGraphs } from './index';

const rows = (a: Float32Array, n: number) => Array.from({ length: n }, (_, i) => Array.from(a.subarray((i * a.length) / n, ((i + 1) * a.length) / n)));

describe.each([
  ['affine toy, one Gaussian', [2], { kind: 'affine', shift: [0.5, -0.2], scale: [0.9, 1.3] }, 1],
  ['affine toy, 4 components', [2], { kind: 'affine', shift: [0.5, -0.2], scale: [0.9, 1.3] }, 4],
  ['logit image, one Gaussian', [2, 3], { kind: 'logit', alpha: 0.05 }, 1],
  ['logit image, 3 components', [2, 3], { kind: 'logit', alpha: 0.05 }, 3],
] as Array<[string, number[], Preprocess, number]>)('made graphs (%s)', (_n, shape, preprocess, components) => {
  const spec = { ...(defaultSpec('made', undefined, shape, { size: 'tiny' }) as MadeSpec), preprocess, hidden: [12, 12], components };
  const D = dataDim(spec);
  const L = latentDimOf(spec);
  const weights = randomWeights(spec, 5, 0.5);
  const graphs = Object.fromEntries(buildGraphs(spec, weights).map((g) => [g.capability, g.builder.toBytes()]));
  const ref = madeReference(spec, weights);
  const info = { family: 'made' as const, shape, latentDim: L };
  const n = 6;
  const rng = new Prng(3);

  it('offers sample and density, no encode', () => {
    expect(Object.keys(graphs).sort()).toEqual(['density', 'sample']);
  });

  it('density matches the reference', async () => {
    const x = preprocess.kind === 'affine' ? rng.normals(n * D) : Float32Array.from({ length: n * D }, () => rng.uniform() * 256);
    const g = await openGraph(graphs.density);
    const out = await runDensity(info, g.run, x, n);
    await g.release();
    ref.density(rows(x, n)).logp.forEach((want, i) => expect(Math.abs(out.logp[i] - want) / Math.max(1, Math.abs(want))).toBeLessThan(1e-4));
  });

  it('one run of the sample graph gives the sequential sample', async () => {
    const z = rng.normals(n * L);
    const g = await openGraph(graphs.sample);
    const x = await runSample(info, g.run, z, n);
    await g.release();
    const scale = preprocess.kind === 'affine' ? 1 : 256;
    ref.sample(rows(z, n)).x.flat().forEach((want, i) => expect(Math.abs(x[i] - want) / scale).toBeLessThan(1e-4));
  });
});

describe('made sampling on images', () => {
  it("holds every y_d to the pixels' support, in the graph as in the reference", async () => {
    const shape = [2, 3];
    const spec = { ...(defaultSpec('made', undefined, shape, { size: 'tiny' }) as MadeSpec), preprocess: { kind: 'logit', alpha: 0.05 } as Preprocess, hidden: [12, 12] };
    const D = dataDim(spec);
    const L = latentDimOf(spec);
    // means pushed far above the support: unclamped, every y_d would land near +8
    const weights = randomWeights(spec, 9, 0.5).map((w) => (w.name === `made.${spec.hidden.length}.b` ? { ...w, data: w.data.map((v, j) => (j < D ? v + 8 : v)) } : w));
    const g = await openGraph(Object.fromEntries(buildGraphs(spec, weights).map((b) => [b.capability, b.builder.toBytes()])).sample);
    const n = 4;
    const z = new Prng(5).normals(n * L);
    const { x, y } = await runAutoregressive({ family: 'made', shape, latentDim: L }, g.run, z, n);
    await g.release();
    const [lo, hi] = preSupport(spec.preprocess)!;
    expect(Math.max(...y)).toBeCloseTo(hi, 5);
    expect(Math.min(...y)).toBeGreaterThanOrEqual(lo - 1e-6);
    madeReference(spec, weights).sample(rows(z, n)).x.flat().forEach((want, i) => expect(Math.abs(x[i] - want) / 256).toBeLessThan(1e-4));
  });
});
