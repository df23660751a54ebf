// The writer on small random models of every family, checked against a
// float64 reference of core/spec.ts (export/testing/fixtures.ts) in onnxruntime-node.
import { describe, expect, it } from 'vitest';
import { Prng } from '../../core/prng';
import { dataDim, type ModelSpec, type Preprocess } from '../../core/spec';
import { runGraph } from '../ort';
import { randomWeights, reference, tinySpecs } from '../testing/fixtures';
import { buildGraphs } from './index';

const rows = (data: Float32Array, n: number): number[][] =>
  Array.from({ length: n }, (_, i) => Array.from(data.subarray((i * data.length) / n, ((i + 1) * data.length) / n)));

function maxRelErr(got: Float32Array, want: number[]): number {
  return Math.max(...want.map((w, i) => Math.abs(got[i] - w) / Math.max(1, Math.abs(w))));
}

const preprocesses: Array<[string, number[], Preprocess]> = [
  ['affine toy', [2], { kind: 'affine', shift: [0.5, -0.2], scale: [0.9, 1.3] }],
  ['logit image', [2, 3], { kind: 'logit', alpha: 0.05 }],
  ['unit image', [2, 3], { kind: 'unit' }],
];

describe.each(preprocesses)('graphs match the spec maths (%s)', (_name, shape, pre) => {
  const specs = tinySpecs(shape, pre);
  const D = dataDim({ shape });
  const image = pre.kind !== 'affine';
  const n = 5;
  const rng = new Prng(7);
  // data-space inputs: pixels in [0, 256) for images, normals for toys
  const x = image ? Float32Array.from({ length: n * D }, () => rng.uniform() * 256) : rng.normals(n * D);
  const xRows = rows(x, n);

  const build = (spec: ModelSpec) => {
    const weights = randomWeights(spec, 3);
    const graphs = Object.fromEntries(buildGraphs(spec, weights).map((g) => [g.capability, g.builder.toBytes()]));
    return { graphs, ref: reference(spec, weights) as any };
  };

  it('vae: sample, encode, density (elbo and iwae)', async () => {
    const { graphs, ref } = build(specs.vae);
    const L = specs.vae.latentDim;
    const z = rng.normals(n * L);
    const noise = rng.normals(n * D);
    const s = await runGraph(graphs.sample, { z: { data: z, dims: [n, L] }, noise: { data: noise, dims: [n, D] } });
    const want = ref.sample(rows(z, n), rows(noise, n));
    expect(maxRelErr(s.x.data, want.x.flat())).toBeLessThan(1e-4);
    expect(maxRelErr(s.x_mean.data, want.x_mean.flat())).toBeLessThan(1e-4);
    expect(s.x.dims).toEqual([n, D]);

    const e = await runGraph(graphs.encode, { x: { data: x, dims: [n, D] } });
    const we = ref.encode(xRows);
    expect(maxRelErr(e.mu.data, we.mu.flat())).toBeLessThan(1e-4);
    expect(maxRelErr(e.logvar.data, we.logvar.flat())).toBeLessThan(1e-4);

    const K = 7;
    const eps = rng.normals(n * K * L);
    const d = await runGraph(graphs.density, { x: { data: x, dims: [n, D] }, eps: { data: eps, dims: [n, K, L] } });
    const epsRows = rows(eps, n).map((r) => Array.from({ length: K }, (_, k) => r.slice(k * L, (k + 1) * L)));
    const wd = ref.density(xRows, epsRows);
    expect(maxRelErr(d.elbo.data, wd.elbo)).toBeLessThan(1e-4);
    expect(maxRelErr(d.iwae.data, wd.iwae)).toBeLessThan(1e-4);
    // IWAE is a tighter bound than the ELBO on the same samples
    for (let i = 0; i < n; i++) expect(d.iwae.data[i]).toBeGreaterThanOrEqual(d.elbo.data[i] - 1e-4);
  });

  it('gan: sample only', async () => {
    const { graphs, ref } = build(specs.gan);
    expect(Object.keys(graphs)).toEqual(['sample']);
    const z = rng.normals(n * 3);
    const s = await runGraph(graphs.sample, { z: { data: z, dims: [n, 3] } });
    expect(maxRelErr(s.x.data, ref.sample(rows(z, n)).x.flat())).toBeLessThan(1e-4);
  });

  it.each(['realnvp', 'nice'] as const)('flow %s: density, encode, sample, and sample inverts encode', async (kind) => {
    const { graphs, ref } = build(specs[kind]);
    const d = await runGraph(graphs.density, { x: { data: x, dims: [n, D] } });
    expect(maxRelErr(d.logp.data, ref.density(xRows).logp)).toBeLessThan(1e-4);
    const e = await runGraph(graphs.encode, { x: { data: x, dims: [n, D] } });
    expect(maxRelErr(e.z.data, ref.encode(xRows).z.flat())).toBeLessThan(1e-4);
    const z = rng.normals(n * D);
    const s = await runGraph(graphs.sample, { z: { data: z, dims: [n, D] } });
    expect(maxRelErr(s.x.data, ref.sample(rows(z, n)).x.flat())).toBeLessThan(1e-4);
    // exact inverse: sample(encode(x)) = x (pixels: up to the float32 round trip through the logit)
    const back = await runGraph(graphs.sample, { z: { data: e.z.data, dims: [n, D] } });
    const tol = image ? 1e-2 : 1e-4;
    back.x.data.forEach((v, i) => expect(Math.abs(v - x[i])).toBeLessThan(tol));
  });
});

describe('bad weights fail with the weight named', () => {
  it('missing and misshapen weights', () => {
    const { realnvp, vae } = tinySpecs();
    const w = randomWeights(realnvp).filter((t) => t.name !== 'step2.scale');
    expect(() => buildGraphs(realnvp, w)).toThrow(/missing weight step2\.scale/);
    const v = randomWeights(vae).map((t) => (t.name === 'dec.logstd' ? { ...t, shape: [3], data: new Float32Array(3) } : t));
    expect(() => buildGraphs(vae, v)).toThrow(/dec\.logstd has shape \[3\]/);
  });

  it('a weight the spec does not name is an error too', () => {
    const { nice } = tinySpecs();
    const extra = { name: 'step9.scale', shape: [2], data: new Float32Array(2) };
    expect(() => buildGraphs(nice, [...randomWeights(nice), extra])).toThrow(/unknown weight\(s\) step9\.scale/);
  });
});
