/**
 * The class-conditional VAE and the discretised-logistic decoder as ONNX:
 * - MLP VAEs (Gaussian and logistic, with and without labels) against the
 *   float64 reference of core/spec.ts (export/testing/fixtures.ts), every label;
 * - the conv recipe (defaultSpec with `conditional`) against its tfjs model at
 *   batch 1 (each label in turn) and 257 (labels i mod C), through the graph
 *   protocol; the marginal the protocol forms is logsumexp_y (log p(y) + value_y)
 *   of the per-class outputs and equals the tfjs model's;
 * - signatures as the descriptor states them, and onnx's checker on every file.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { familyOf } from '../../core/families';
import { Prng } from '../../core/prng';
import { DENSITY_DRAWS_PER_RUN, oneHot, runDensity, runSample } from '../../core/protocol';
import { dataDim, type Conditioning, type Preprocess, type VaeSpec } from '../../core/spec';
import { initBackend } from '../../train/backend';
import { buildModel, defaultSpec } from '../../train/models';
import { openGraph, runGraph } from '../ort';
import { checkOnnxFiles } from '../testing/onnx-check';
import { inspectGraph } from '../testing/inspect';
import { randomWeights, reference, refLogisticLogMass } from '../testing/fixtures';
import { tfjsReference } from '../tfjs-reference';
import { specInfo, verifyGraphs } from '../verify';
import { buildGraphs } from './index';

const classes: Conditioning = { names: ['a', 'b', 'c'], prior: [0.5, 0.3, 0.2] };
const C = classes.names.length;
const dir = mkdtempSync(join(tmpdir(), 'edgegen-vae-cond-'));

const rows = (data: ArrayLike<number>, n: number): number[][] =>
  Array.from({ length: n }, (_, i) => Array.from(data).slice((i * data.length) / n, ((i + 1) * data.length) / n));
const maxRelErr = (got: ArrayLike<number>, want: number[]): number => Math.max(...want.map((w, i) => Math.abs(got[i] - w) / Math.max(1, Math.abs(w))));

/** logsumexp_y (log prior_y + v[r, y]) per row, float64 */
function mixture(perClass: ArrayLike<number>, n: number, prior: number[]): number[] {
  return Array.from({ length: n }, (_, r) => {
    const a = prior.map((p, y) => perClass[r * prior.length + y] + Math.log(p));
    const mx = Math.max(...a);
    return mx + Math.log(a.reduce((s, v) => s + Math.exp(v - mx), 0));
  });
}

/** A tiny MLP VAE on a [2, 3] image. */
function mlpSpec(likelihood: 'gaussian' | 'logistic', conditional: boolean, classPrior = false): VaeSpec {
  const [D, L, c] = [6, 2, conditional ? C : 0];
  const preprocess: Preprocess = likelihood === 'logistic' ? { kind: 'unit' } : { kind: 'logit', alpha: 0.05 };
  return {
    family: 'vae', model: 'vae', shape: [2, 3], preprocess, latentDim: L, minLogStd: likelihood === 'logistic' ? -7 : -3, likelihood,
    encoder: { sizes: [D + c, 8, 2 * L], hidden: 'elu', output: 'linear' },
    decoder: { sizes: [L + c, 8, likelihood === 'logistic' ? 2 * D : D], hidden: 'leakyRelu', output: 'linear' },
    ...(conditional ? { conditional: classes } : {}),
    ...(classPrior ? { classPrior } : {}),
  };
}

describe('the float64 discretised logistic', () => {
  it('sums to 1 over the 256 values of one pixel, edge bins included', () => {
    for (const [mu, logs] of [[0.3, 0], [-40, 1], [127.5, -2.1], [254.6, 0.5], [300, 2], [255, 5.5]]) {
      let total = 0;
      for (let k = 0; k < 256; k++) total += Math.exp(refLogisticLogMass(k + 0.5, mu, logs));
      expect(Math.abs(total - 1), `mu ${mu}, log s ${logs}`).toBeLessThan(1e-12);
    }
  });
});

describe('VAE graphs match the float64 spec maths', () => {
  const cases = [['gaussian', false, false], ['gaussian', true, false], ['logistic', false, false], ['logistic', true, false], ['gaussian', true, true], ['logistic', true, true]] as const;
  it.each(cases)('%s decoder, conditional %s, a prior per class %s: signatures, sample under every label, density per class and its mixture', async (likelihood, conditional, classPrior) => {
    const spec = mlpSpec(likelihood, conditional, classPrior);
    const [D, L] = [dataDim(spec), spec.latentDim];
    const c = conditional ? C : 0;
    // weights at 0.8 spread mu and s over the pixel range, so both edge bins and interior ones are scored
    const weights = randomWeights(spec, 5, 0.8);
    const graphs = Object.fromEntries(buildGraphs(spec, weights).map((g) => [g.capability, g.builder.toBytes()]));
    const ref = reference(spec, weights);
    const sigs = familyOf('vae').signatures(D, L, c);
    expect(Object.keys(graphs)).toEqual(Object.keys(sigs));
    for (const [cap, bytes] of Object.entries(graphs)) {
      const info = inspectGraph(bytes);
      const want = sigs[cap as keyof typeof sigs]!;
      expect([info.inputs, info.outputs], cap).toEqual([want.inputs, want.outputs]);
    }

    const n = 5;
    const rng = new Prng(11);
    // pixels over the whole range, both edges included
    const x = Float32Array.from({ length: n * D }, (_, i) => (i % 7 === 0 ? 0.4 : i % 7 === 1 ? 255.6 : rng.uniform() * 256));
    const z = rng.normals(n * L);
    const noise = rng.normals(n * D);
    for (let y = 0; y < Math.max(1, c); y++) {
      const label = c ? oneHot(new Array(n).fill(y), c) : undefined;
      const s = await runGraph(graphs.sample, { z: { data: z, dims: [n, L] }, noise: { data: noise, dims: [n, D] }, ...(label ? { label: { data: label, dims: [n, c] } } : {}) });
      const want = ref.sample(rows(z, n), rows(noise, n), label && rows(label, n));
      expect(maxRelErr(s.x.data, want.x.flat()), `x, label ${y}`).toBeLessThan(1e-4);
      expect(maxRelErr(s.x_mean.data, want.x_mean.flat()), `x_mean, label ${y}`).toBeLessThan(1e-4);
    }

    const K = 4;
    const eps = rng.normals(n * K * L);
    const d = await runGraph(graphs.density, { x: { data: x, dims: [n, D] }, eps: { data: eps, dims: [n, K, L] } });
    const epsRows = rows(eps, n).map((r) => Array.from({ length: K }, (_, k) => r.slice(k * L, (k + 1) * L)));
    const wd = ref.density(rows(x, n), epsRows);
    if (!conditional) {
      expect(maxRelErr(d.elbo.data, wd.elbo)).toBeLessThan(1e-4);
      expect(maxRelErr(d.iwae.data, wd.iwae)).toBeLessThan(1e-4);
      expect(graphs.encode).toBeDefined();
      return;
    }
    expect(d.elboy.dims).toEqual([n, C]);
    expect(maxRelErr(d.elboy.data, wd.elboy!.flat())).toBeLessThan(1e-4);
    expect(maxRelErr(d.iwaey.data, wd.iwaey!.flat())).toBeLessThan(1e-4);
    // the protocol's marginal is the reference's mixture over the prior
    const out = await runDensity(specInfo(spec), async (feeds) => runGraph(graphs.density, feeds), x, n, { data: eps, k: K });
    expect(maxRelErr(out.logp, wd.iwae)).toBeLessThan(1e-4);
    expect(maxRelErr(out.elbo!, wd.elbo)).toBeLessThan(1e-4);
    // classes differ: the label does reach both nets
    expect(new Set(Array.from(d.iwaey.data.subarray(0, C), (v) => v.toFixed(3))).size).toBe(C);
  });
});

describe('a k over DENSITY_DRAWS_PER_RUN runs in chunks of draws', () => {
  it.each([false, true])('conditional %s: each run decodes at most DENSITY_DRAWS_PER_RUN per row, and the combined bounds are the float64 ones over all k', async (conditional) => {
    const spec = mlpSpec('logistic', conditional);
    const [D, L] = [dataDim(spec), spec.latentDim];
    const weights = randomWeights(spec, 7, 0.8);
    const graphs = Object.fromEntries(buildGraphs(spec, weights).map((g) => [g.capability, g.builder.toBytes()]));
    const ref = reference(spec, weights);
    const perRow = conditional ? C : 1;
    // three chunks or more, of unequal sizes were they cut at the bound
    const K = Math.floor(DENSITY_DRAWS_PER_RUN / perRow) * 2 + 7;
    const n = 3;
    const rng = new Prng(12);
    const x = Float32Array.from({ length: n * D }, () => rng.uniform() * 256);
    const eps = rng.normals(n * K * L);
    const draws: number[] = [];
    const out = await runDensity(specInfo(spec), async (feeds) => {
      draws.push(feeds.eps.dims[1]);
      return runGraph(graphs.density, feeds);
    }, x, n, { data: eps, k: K });
    expect(draws.length).toBe(3);
    expect(draws.reduce((a, b) => a + b, 0)).toBe(K);
    for (const k of draws) expect(k * perRow).toBeLessThanOrEqual(DENSITY_DRAWS_PER_RUN);
    const epsRows = rows(eps, n).map((r) => Array.from({ length: K }, (_, k) => r.slice(k * L, (k + 1) * L)));
    const want = ref.density(rows(x, n), epsRows);
    expect(out.kind).toBe('iwae');
    expect(maxRelErr(out.logp, want.iwae)).toBeLessThan(1e-4);
    expect(maxRelErr(out.elbo!, want.elbo)).toBeLessThan(1e-4);
    if (conditional) expect(maxRelErr(out.perClass!, want.iwaey!.flat())).toBeLessThan(1e-4);
    // not the bound of one chunk alone: the last chunk's draws change the answer
    const first = await runDensity(specInfo(spec), async (feeds) => runGraph(graphs.density, feeds), x, n, { data: eps.subarray(0, n * draws[0] * L), k: draws[0] });
    expect(maxRelErr(out.logp, Array.from(first.logp))).toBeGreaterThan(1e-6);
  });
});

describe('conditional conv VAE (the recipe) matches tfjs', () => {
  const spec = defaultSpec('vae', 'vae', 'mnist', { arch: 'conv', size: 'tiny', conditional: { names: Array.from({ length: 10 }, (_, i) => String(i)), prior: [0.1, 0.12, 0.09, 0.1, 0.1, 0.08, 0.1, 0.11, 0.1, 0.1] } }) as VaeSpec;
  const Cm = 10;

  it('is the logistic recipe with the label in both nets and a prior per class, and ships sample and density only', () => {
    const full = defaultSpec('vae', 'vae', 'mnist', { arch: 'conv', conditional: spec.conditional }) as VaeSpec;
    expect([full.latentDim, full.likelihood, full.conv!.channels.length, full.encoder.sizes[0], full.decoder.sizes[0], full.classPrior]).toEqual([16, 'logistic', 2, 7 * 7 * 64 + Cm, 16 + Cm, true]);
    expect(Object.keys(familyOf('vae').signatures(784, 16, Cm))).toEqual(['sample', 'density']);
  });

  it('sample under each label at batch 1, density per class at batch 1 and 257, through the protocol', async () => {
    await initBackend('cpu');
    const model = buildModel(spec, undefined, { seed: 3 });
    // the prior's means start at zero; spread them so the graphs must add them where tfjs does
    const weights = model.weights().map((w) => (w.name === 'prior.mu' ? { ...w, data: new Prng(8).normals(w.data.length) } : w));
    expect(weights.some((w) => w.name === 'prior.mu')).toBe(true);
    model.dispose();
    const built = buildGraphs(spec, weights);
    const graphs = built.map((g) => ({ capability: g.capability, bytes: g.builder.toBytes('conditional conv vae') }));
    expect(graphs.map((g) => g.capability)).toEqual(['sample', 'density']);
    const ref = await tfjsReference(spec, weights);
    const info = specInfo(spec);
    const [D, L] = [dataDim(spec), spec.latentDim];
    try {
      // batch 1, every label: the same z and noise under each class
      const sample = await openGraph(graphs[0].bytes);
      const rng = new Prng(4);
      const z = rng.normals(L);
      const noise = rng.normals(D);
      const seen = new Set<string>();
      for (let y = 0; y < Cm; y++) {
        const label = oneHot([y], Cm);
        const want = await ref.sample(z, 1, noise, label);
        for (const mode of ['sample', 'mean'] as const) {
          const got = await runSample(info, sample.run, z, 1, { noise, mode, label });
          const w = mode === 'sample' ? want.x! : want.xMean!;
          expect(Math.max(...got.map((v, i) => Math.abs(v - w[i]) / 256)), `${mode}, label ${y}`).toBeLessThanOrEqual(1e-4);
        }
        seen.add(Array.from(want.xMean!.subarray(0, 50), (v) => v.toFixed(2)).join());
      }
      await sample.release();
      expect(seen.size).toBe(Cm);
      // verifyGraphs: labels i mod C for samples, every class's elboy / iwaey and their mixtures for densities
      for (const n of [1, 257]) {
        const reports = await verifyGraphs(spec, graphs, ref, { n, k: 3, seed: n });
        expect(reports.map((r) => r.output).sort()).toEqual(['elbo', 'iwae', 'iwaey', 'x', 'xMean']);
        for (const r of reports) expect(r.maxError, r.output).toBeLessThanOrEqual(1e-4);
      }
      // the marginal is logsumexp over labels of log prior + per-class value, and equals tfjs's own mixture
      const n = 6;
      const K = 2;
      const rng2 = new Prng(9);
      const x = Float32Array.from({ length: n * D }, () => rng2.uniform() * 256);
      const eps = rng2.normals(n * K * L);
      const density = await openGraph(graphs[1].bytes);
      const out = await runDensity(info, density.run, x, n, { data: eps, k: K });
      await density.release();
      expect(maxRelErr(out.logp, mixture(out.perClass!, n, spec.conditional!.prior))).toBeLessThan(1e-6);
      const want = await ref.density!(x, n, eps, K);
      expect(maxRelErr(out.logp, Array.from(want.iwae!))).toBeLessThan(1e-4);
      expect(maxRelErr(out.elbo!, Array.from(want.elbo!))).toBeLessThan(1e-4);
    } finally {
      ref.dispose();
    }
    const paths = graphs.map((g) => {
      const p = join(dir, `cond-conv-${g.capability}.onnx`);
      writeFileSync(p, g.bytes);
      return p;
    });
    expect(checkOnnxFiles(paths).map(([, ir, op]) => [ir, op])).toEqual(paths.map(() => [8, 13]));
  }, 120_000);
});
