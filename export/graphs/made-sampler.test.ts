// MADE's sampler: the sample graph fixes all D dimensions in one run, in
// blocks, each step doing only the work its dimension adds (export/graphs/made.ts
// `sequentialSample`). Checked on an MNIST-sized net against the float64
// reference, which runs the whole net once per dimension; fed its own sample
// it answers it back bit for bit (the teacher-forced check export/verify.ts
// makes); onnxruntime-web agrees; a one-pass graph from before still samples, D runs at a time; and
// the work budget takes 64 image samples a request.
import { describe, expect, it } from 'vitest';
import { latentDimOf } from '../../core/families';
import { Prng } from '../../core/prng';
import { CROSS_RUNTIME_TOL, maxRelDiff, runAutoregressive, runSample, sampleWork, samplePasses } from '../../core/protocol';
import { dataDim, type MadeSpec } from '../../core/spec';
import { limitsOf, MAX_WORK_UNITS } from '../../edge/engine';
import { BATCH, GraphBuilder } from '../onnx/graph';
import { openGraph } from '../ort';
import { randomWeights } from '../testing/fixtures';
import { madeReference } from '../testing/made';
import { blockLength } from './made';
import { buildGraphs } from './index';

const rows = (a: ArrayLike<number>, n: number) => Array.from({ length: n }, (_, i) => Array.from(a).slice((i * a.length) / n, ((i + 1) * a.length) / n));

/** An image MADE on [28, 28]: 160 units leave blocks of 28 dimensions with no unit of their own (degrees stop at 160). */
const mnist = (hidden: number[], components = 1): MadeSpec => ({
  family: 'made', model: 'made', shape: [28, 28], preprocess: { kind: 'logit', alpha: 0.05 }, hidden, activation: 'relu', minLogStd: -5, components,
});

describe('the MADE sampler', () => {
  it('blocks: the largest divisor of D up to sqrt(D)', () => {
    expect([784, 36, 6, 2, 1, 7].map(blockLength)).toEqual([28, 6, 2, 1, 1, 1]);
  });

  it.each([
    ['784-160 (blocks without units), one Gaussian', [160], 1],
    ['784-40-30, 2 components', [40, 30], 2],
  ] as Array<[string, number[], number]>)('%s: one run gives the sequential sample of the float64 reference; fed that sample, it answers it bit for bit', async (_name, hidden, components) => {
    const spec = mnist(hidden, components);
    const [D, L] = [dataDim(spec), latentDimOf(spec)];
    const weights = randomWeights(spec, 3, 0.15);
    const bytes = buildGraphs(spec, weights).find((b) => b.capability === 'sample')!.builder.toBytes();
    const g = await openGraph(bytes);
    const info = { family: 'made' as const, shape: spec.shape, latentDim: L };
    const n = 2;
    const z = new Prng(8).normals(n * L);
    const { x, y } = await runAutoregressive(info, g.run, z, n);
    // onnxruntime-web's wasm (the Worker's and the page's) runs the nested Loop and Scan too, within the cross-runtime contract
    const web = await openGraph(bytes, { runtime: 'web' });
    expect(maxRelDiff((await runAutoregressive(info, web.run, z, n)).x, x)).toBeLessThan(CROSS_RUNTIME_TOL);
    await web.release();
    const want = madeReference(spec, weights).sample(rows(z, n)).x.flat();
    // rounding compounds over 784 dimensions: float32 against float64, relative as the cross-runtime contract measures
    expect(maxRelDiff(x, want)).toBeLessThan(1e-4);
    // the images are not flat: the sample follows the noise
    expect(new Set(Array.from(x.subarray(0, D), (v) => Math.round(v / 32))).size).toBeGreaterThan(3);
    const again = await g.run({ z: { data: z, dims: [n, L] }, y: { data: y, dims: [n, D] } });
    expect(Array.from(again.y_next.data)).toEqual(Array.from(y));
    await g.release();
  }, 60_000);

  it('runs a one-pass sample graph from before D times: fed NaN it answers NaN, and the protocol notices', async () => {
    // y_next = z + y S with S strictly upper triangular: y_next_d depends on y_<d, the old contract
    const D = 5;
    const S = Float32Array.from({ length: D * D }, (_, i) => (i % D > Math.floor(i / D) ? 0.3 * ((i % 3) - 1) + 0.5 : 0));
    const g = new GraphBuilder('one_pass');
    const z = g.input('z', [BATCH, D]);
    const y = g.input('y', [BATCH, D]);
    const next = g.node('Add', [z, g.node('MatMul', [y, g.floats('S', [D, D], S)])]);
    g.output(next, 'y_next', [BATCH, D]);
    g.output(next, 'x', [BATCH, D]);
    const graph = await openGraph(g.toBytes());
    let runs = 0;
    const run: typeof graph.run = (feeds) => (runs++, graph.run(feeds));
    const n = 3;
    const noise = new Prng(2).normals(n * D);
    const got = await runSample({ family: 'made', shape: [D], latentDim: D }, run, noise, n);
    await graph.release();
    expect(runs).toBe(1 + D);
    const want = rows(noise, n).flatMap((zr) => {
      const v: number[] = [];
      for (let d = 0; d < D; d++) v.push(zr[d] + v.reduce((s, yi, i) => s + yi * S[i * D + d], 0));
      return v;
    });
    expect(maxRelDiff(got, want)).toBeLessThan(1e-6);
  });

  it('the work budget counts what a sample costs, and lets 64 MNIST samples through in one request', () => {
    const m = { family: 'made' as const, shape: [28, 28], capabilities: ['sample' as const, 'density' as const] };
    expect(samplePasses(m)).toBeLessThan(28 * 28);
    expect(sampleWork(m, 64)).toBeLessThanOrEqual(MAX_WORK_UNITS);
    expect(limitsOf(m).sample).toBeGreaterThanOrEqual(64);
    // a 2-D MADE is never counted above the D runs it once took
    expect(samplePasses({ family: 'made', shape: [2] })).toBe(2);
  });
});
