/**
 * Small specs and random weights for every family, plus a plain-TypeScript
 * (float64) reference of core/spec.ts maths. Used by the writer's unit tests,
 * independently of train/, so the graphs are checked against the spec itself.
 */
import { Prng } from '../../core/prng';
import { BASE_MU, couplingNet, FINAL_LOGS, paramShapes, stepNames } from '../../core/families';
import {
  LEAKY_SLOPE, VAE_LOGVAR_MAX, VAE_LOGVAR_MIN, VAE_MIN_LOG_WEIGHT, alternatingMasks, classCount, dataDim, isMultiScale,
  type Activation, type Family, type FlowSpec, type GanSpec, type MadeSpec, type MlpSpec, type ModelSpec, type MultiScaleFlowSpec, type NamedWeight, type Preprocess, type VaeSpec,
} from '../../core/spec';
import { VAE_LOGISTIC_MAX_LOGSCALE, VAE_PHI_TAIL } from '../../core/spec';
import { madeReference } from './made';

export function tinySpecs(shape: number[] = [2], preprocess: Preprocess = { kind: 'affine', shift: [0.5, -0.2], scale: [0.9, 1.3] }) {
  const D = dataDim({ shape });
  const vae: VaeSpec = {
    family: 'vae', model: 'vae', shape, preprocess, latentDim: 2, minLogStd: -3,
    encoder: { sizes: [D, 8, 4], hidden: 'elu', output: 'linear' },
    decoder: { sizes: [2, 8, D], hidden: 'leakyRelu', output: 'linear' },
  };
  const gan: GanSpec = {
    family: 'gan', model: 'gan', shape, preprocess, latentDim: 3,
    generator: { sizes: [3, 8, D], hidden: 'relu', output: 'tanh' },
    discriminator: { sizes: [D, 8, 1], hidden: 'leakyRelu', output: 'linear' },
  };
  const flow = (coupling: 'affine' | 'additive'): FlowSpec => ({
    family: 'flow', model: coupling === 'affine' ? 'realnvp' : 'nice', shape, preprocess,
    steps: 4, masks: alternatingMasks(D, 4, shape), coupling, hidden: [8, 8], activation: 'relu',
    actnorm: coupling === 'affine', finalScale: true,
  });
  return { vae, gan, realnvp: flow('affine'), nice: flow('additive') };
}

/** Every weight core's paramShapes(spec) names, drawn N(0, scale^2) from a seeded PRNG. */
export function randomWeights(spec: ModelSpec, seed = 1, scale = 0.4): NamedWeight[] {
  const rng = new Prng(seed);
  return paramShapes(spec).map(({ name, shape }) => ({ name, shape, data: rng.normals(shape.reduce((a, b) => a * b, 1), scale) }));
}

// ---- float64 reference ------------------------------------------------------------

type Rows = number[][];
const LOG2PI = Math.log(2 * Math.PI);

function act(v: number, a: Activation): number {
  switch (a) {
    case 'linear': return v;
    case 'relu': return Math.max(v, 0);
    case 'leakyRelu': return v > 0 ? v : LEAKY_SLOPE * v;
    case 'tanh': return Math.tanh(v);
    case 'sigmoid': return 1 / (1 + Math.exp(-v));
    case 'elu': return v > 0 ? v : Math.exp(v) - 1;
  }
}

/** One activation, for references that build their own layers (MADE adds a label term to each). */
export const refAct = act;

export function refMlp(ws: Map<string, NamedWeight>, prefix: string, spec: Pick<MlpSpec, 'sizes' | 'hidden' | 'output'>, x: number[]): number[] {
  let h = x;
  const k = spec.sizes.length - 1;
  for (let i = 0; i < k; i++) {
    const W = ws.get(`${prefix}.${i}.W`)!;
    const b = ws.get(`${prefix}.${i}.b`)!;
    const [din, dout] = W.shape;
    const y = Array.from(b.data);
    for (let r = 0; r < din; r++) for (let c = 0; c < dout; c++) y[c] += h[r] * W.data[r * dout + c];
    h = y.map((v) => act(v, i < k - 1 ? spec.hidden : spec.output));
  }
  return h;
}

export function refPre(p: Preprocess, x: number[]): { y: number[]; logdet: number } {
  switch (p.kind) {
    case 'affine':
      return { y: x.map((v, d) => (v - p.shift[d]) / p.scale[d]), logdet: -p.scale.reduce((s, v) => s + Math.log(v), 0) };
    case 'unit':
      return { y: x.map((v) => v / 256), logdet: -x.length * Math.log(256) };
    case 'logit': {
      const a = p.alpha;
      const pr = x.map((v) => a + ((1 - 2 * a) * v) / 256);
      const logdet = pr.reduce((s, q) => s + Math.log(1 - 2 * a) - Math.log(256) - Math.log(q) - Math.log(1 - q), 0);
      return { y: pr.map((q) => Math.log(q) - Math.log(1 - q)), logdet };
    }
  }
}

export function refPost(p: Preprocess, y: number[]): number[] {
  const clip = (v: number) => Math.min(255, Math.max(0, v));
  switch (p.kind) {
    case 'affine': return y.map((v, d) => v * p.scale[d] + p.shift[d]);
    case 'unit': return y.map((v) => clip(v * 256));
    case 'logit': return y.map((v) => clip(((1 / (1 + Math.exp(-v)) - p.alpha) / (1 - 2 * p.alpha)) * 256));
  }
}

export type Weights = Map<string, NamedWeight>;
const getter = (ws: Weights) => (n: string) => Array.from(ws.get(n)!.data);

/** A float64 reference per family, every family required (core/spec.ts FAMILIES). */
export type ReferenceRegistry = { [F in Family]: (spec: Extract<ModelSpec, { family: F }>, ws: Weights) => unknown };

/** The float64 reference of each family, every family required (export/testing/<family>.ts for the newer ones). */
const REFERENCES = {
  gan: ganReference,
  vae: vaeReference,
  flow: (spec: FlowSpec | MultiScaleFlowSpec, ws: Weights) => {
    if (isMultiScale(spec)) throw new Error('no float64 reference for the multi-scale flow: its graphs are checked against the tfjs model');
    return flowReference(spec, ws);
  },
  // an arrow: made.ts imports this module, so its binding is read at call time
  made: (spec: MadeSpec, ws: Weights) => madeReference(spec, [...ws.values()]),
} satisfies ReferenceRegistry;

/** What a family's reference answers: per capability, a function of the input rows. */
export type Reference<F extends Family> = ReturnType<(typeof REFERENCES)[F]>;

/** Reference outputs for one family, row by row, keyed like the graph outputs. */
export function reference<S extends ModelSpec>(spec: S, weights: NamedWeight[]): Reference<S['family']> {
  // the registry pairs each family with its own spec type; the union call needs the one cast
  const ref = REFERENCES[spec.family] as (s: ModelSpec, ws: Weights) => Reference<S['family']>;
  return ref(spec, new Map(weights.map((w) => [w.name, w])));
}

function ganReference(spec: GanSpec, ws: Weights) {
  return { sample: (z: Rows) => ({ x: z.map((r) => refPost(spec.preprocess, refMlp(ws, 'gen', spec.generator, r))) }) };
}

const clipLogvar = (v: number) => Math.min(VAE_LOGVAR_MAX, Math.max(VAE_LOGVAR_MIN, v));
const softplus = (v: number) => Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v)));

/** log P(k) of the discretised logistic for one pixel (core/spec.ts `VaeSpec`): x dequantised, mu and logs = log s on the pixel scale. */
export function refLogisticLogMass(x: number, mu: number, logs: number): number {
  const k = Math.min(255, Math.max(0, Math.floor(x)));
  const s = Math.exp(logs);
  const a = (k + 0.5 - mu) / s;
  const b = (k - 0.5 - mu) / s;
  let lp = 0;
  if (k < 255) lp -= softplus(-a);
  if (k > 0) lp -= softplus(b);
  if (k > 0 && k < 255) lp += Math.log(-Math.expm1(-1 / s));
  return lp;
}

/** g(n) = logit(Phi(n)) as core/spec.ts `VaeSpec` computes it (Abramowitz & Stegun 26.2.17 for the tail). */
export function refLogisticNoise(n: number): number {
  const a = Math.abs(n);
  const t = 1 / (1 + VAE_PHI_TAIL.p * a);
  const poly = VAE_PHI_TAIL.b.reduceRight((acc, b) => acc * t + b, 0) * t;
  const logq = -0.5 * a * a - 0.5 * LOG2PI + Math.log(poly);
  return Math.sign(n) * (Math.log1p(-Math.exp(logq)) - logq);
}

/**
 * The VAE's maths (MLP nets), Gaussian or discretised-logistic decoder,
 * unconditional or conditional. Conditional: sample takes one-hot label rows,
 * density scores every class with the row's eps and answers elboy / iwaey
 * per class and their mixtures over the prior.
 */
function vaeReference(spec: VaeSpec, ws: Weights) {
  const D = dataDim(spec);
  const L = spec.latentDim;
  const C = spec.conditional?.names.length ?? 0;
  const logistic = spec.likelihood === 'logistic';
  const logstd = logistic ? [] : getter(ws)('dec.logstd').map((v) => Math.max(v, spec.minLogStd));
  const oneHot = (c: number) => Array.from({ length: C }, (_, j) => (j === c ? 1 : 0));
  const encodeRow = (y: number[], label: number[]) => refMlp(ws, 'enc', spec.encoder, [...y, ...label]).map((v, j) => (j < L ? v : clipLogvar(v)));
  /** the decoder's output as the Gaussian mean m, or the logistic's mu and log s */
  const decodeRow = (z: number[], label: number[]) => {
    const out = refMlp(ws, 'dec', spec.decoder, [...z, ...label]);
    if (!logistic) return { m: out, mu: [], logs: [] };
    const mu = out.slice(0, D).map((a) => 127.5 * (1 + a));
    const logs = out.slice(D).map((b) => Math.log(127.5) + Math.min(VAE_LOGISTIC_MAX_LOGSCALE, Math.max(spec.minLogStd, b)));
    return { m: [], mu, logs };
  };
  const clip255 = (v: number) => Math.min(255, Math.max(0, v));
  /** the prior's mean of z under a one-hot label (classPrior), zeros otherwise */
  const priorMu = spec.classPrior ? getter(ws)('prior.mu') : [];
  const priorMean = (label: number[]) => Array.from({ length: L }, (_, l) => (spec.classPrior ? label.reduce((a, v, c) => a + v * priorMu[c * L + l], 0) : 0));
  /** log w of one row under one label, for one eps */
  const logWeight = (x: number[], label: number[], e: number[]) => {
    const { y, logdet } = refPre(spec.preprocess, x);
    const h = encodeRow(y, label);
    const z = e.map((v, l) => h[l] + Math.exp(h[L + l] / 2) * v);
    const d = decodeRow(z, label);
    let lp = 0;
    for (let i = 0; i < D; i++) {
      lp += logistic ? refLogisticLogMass(x[i], d.mu[i], d.logs[i]) : -0.5 * LOG2PI - logstd[i] - 0.5 * ((y[i] - d.m[i]) / Math.exp(logstd[i])) ** 2;
    }
    let lz = 0;
    let lq = 0;
    const m = priorMean(label);
    for (let l = 0; l < L; l++) {
      lz += -0.5 * LOG2PI - 0.5 * (z[l] - m[l]) ** 2;
      lq += -0.5 * LOG2PI - 0.5 * h[L + l] - 0.5 * e[l] ** 2;
    }
    // the logistic's mass is already a density of dequantised x: no logdet(pre)
    return Math.max(lp + lz - lq + (logistic ? 0 : logdet), VAE_MIN_LOG_WEIGHT);
  };
  const lse = (a: number[]) => {
    const mx = Math.max(...a);
    return mx + Math.log(a.reduce((s, v) => s + Math.exp(v - mx), 0));
  };
  const bounds = (w: number[]) => ({ elbo: w.reduce((a, b) => a + b, 0) / w.length, iwae: lse(w) - Math.log(w.length) });
  const mix = (perClass: number[]) => lse(perClass.map((v, c) => v + Math.log(spec.conditional!.prior[c])));
  return {
    sample: (z: Rows, noise: Rows, label: Rows = z.map(() => [])) => {
      const d = z.map((r, i) => decodeRow(r.map((v, l) => v + priorMean(label[i])[l]), label[i]));
      if (logistic) {
        return {
          x: d.map((o, i) => o.mu.map((m, j) => clip255(m + Math.exp(o.logs[j]) * refLogisticNoise(noise[i][j])))),
          x_mean: d.map((o) => o.mu.map(clip255)),
        };
      }
      return {
        x: d.map((o, i) => refPost(spec.preprocess, o.m.map((v, j) => v + Math.exp(logstd[j]) * noise[i][j]))),
        x_mean: d.map((o) => refPost(spec.preprocess, o.m)),
      };
    },
    encode: (x: Rows) => {
      const h = x.map((r) => encodeRow(refPre(spec.preprocess, r).y, []));
      return { mu: h.map((r) => r.slice(0, L)), logvar: h.map((r) => r.slice(L)) };
    },
    density: (x: Rows, eps: number[][][]) => {
      if (!C) {
        const b = x.map((r, i) => bounds(eps[i].map((e) => logWeight(r, [], e))));
        return { elbo: b.map((o) => o.elbo), iwae: b.map((o) => o.iwae) };
      }
      // every class with the row's eps
      const per = x.map((r, i) => Array.from({ length: C }, (_, c) => bounds(eps[i].map((e) => logWeight(r, oneHot(c), e)))));
      const elboy = per.map((row) => row.map((o) => o.elbo));
      const iwaey = per.map((row) => row.map((o) => o.iwae));
      return { elboy, iwaey, elbo: elboy.map(mix), iwae: iwaey.map(mix) };
    },
  };
}

function flowReference(spec: FlowSpec, ws: Weights) {
  const D = dataDim(spec);
  const get = getter(ws);
  {
    const affine = spec.coupling === 'affine';
    const C = classCount(spec);
    const muRows = C ? get(BASE_MU) : [];
    const mu = Array.from({ length: C }, (_, c) => muRows.slice(c * D, (c + 1) * D));
    const net = (l: number, y: number[], m: number[]) => {
      const h = refMlp(ws, stepNames(l).net, couplingNet(spec), y.map((v, d) => v * m[d]));
      if (!affine) return { s: new Array(D).fill(0), t: h };
      const sc = get(stepNames(l).scale);
      return { s: h.slice(0, D).map((v, d) => sc[d] * Math.tanh(v)), t: h.slice(D) };
    };
    const forward = (x: number[]) => {
      let { y, logdet } = refPre(spec.preprocess, x);
      let ld = 0;
      for (let l = 0; l < spec.steps; l++) {
        if (spec.actnorm) {
          const logs = get(stepNames(l).anLogs);
          const bias = get(stepNames(l).anBias);
          y = y.map((v, d) => v * Math.exp(logs[d]) + bias[d]);
          ld += logs.reduce((a, b) => a + b, 0);
        }
        const m = spec.masks[l];
        const { s, t } = net(l, y, m);
        y = y.map((v, d) => (m[d] ? v : v * Math.exp(s[d]) + t[d]));
        ld += s.reduce((a, v, d) => a + (1 - m[d]) * v, 0);
      }
      if (spec.finalScale) {
        const fl = get(FINAL_LOGS);
        y = y.map((v, d) => v * Math.exp(fl[d]));
        ld += fl.reduce((a, b) => a + b, 0);
      }
      const logp = y.reduce((a, v) => a - 0.5 * LOG2PI - 0.5 * v * v, 0) + ld + logdet;
      // conditional: the base N(mu_y, I) of each class, written as the spec's sum over d
      const logpy = mu.map((m) => y.reduce((a, v, d) => a - 0.5 * LOG2PI - 0.5 * (v - m[d]) ** 2, 0) + ld + logdet);
      return { z: y, logp, logpy };
    };
    const inverse = (z: number[]) => {
      let y = z;
      if (spec.finalScale) {
        const fl = get(FINAL_LOGS);
        y = y.map((v, d) => v * Math.exp(-fl[d]));
      }
      for (let l = spec.steps - 1; l >= 0; l--) {
        const m = spec.masks[l];
        const { s, t } = net(l, y, m);
        y = y.map((v, d) => (m[d] ? v : (v - t[d]) * Math.exp(-s[d])));
        if (spec.actnorm) {
          const logs = get(stepNames(l).anLogs);
          const bias = get(stepNames(l).anBias);
          y = y.map((v, d) => (v - bias[d]) * Math.exp(-logs[d]));
        }
      }
      return refPost(spec.preprocess, y);
    };
    const prior = spec.conditional?.prior;
    /** logsumexp_y (log prior_y + logpy_y) */
    const marginal = (logpy: number[]) => {
      const a = logpy.map((v, c) => v + Math.log(prior![c]));
      const mx = Math.max(...a);
      return mx + Math.log(a.reduce((s, v) => s + Math.exp(v - mx), 0));
    };
    return {
      /** conditional specs: `label` one-hot rows, and z is shifted by label mu before the inverse */
      sample: (z: Rows, label?: Rows) => ({ x: z.map((r, i) => inverse(label ? r.map((v, d) => v + label[i].reduce((a, l, c) => a + l * mu[c][d], 0)) : r)) }),
      density: (x: Rows) => {
        const f = x.map(forward);
        if (!prior) return { logp: f.map((o) => o.logp) };
        return { logp: f.map((o) => marginal(o.logpy)), logpy: f.map((o) => o.logpy) };
      },
      encode: (x: Rows) => ({ z: x.map((r) => forward(r).z) }),
    };
  }
}
