/**
 * VAE graphs (core/spec.ts VaeSpec; Kingma & Welling 2014, IWAE: Burda et al. 2016).
 *
 * sample:  z [N,L], noise [N,D] -> x = post(m(z) + sigma * noise), x_mean = post(m(z))
 * density: x [N,D], eps [N,K,L] -> elbo [N], iwae [N]
 *          z_k = mu + exp(logvar / 2) eps_k
 *          w_k = log p(y|z_k) + log p(z_k) - log q(z_k|y) + logdet(pre)
 *          elbo = mean_k w_k;  iwae = logsumexp_k w_k - log K  (K read from eps' shape)
 * encode:  x [N,D] -> mu [N,L], logvar [N,L]
 * logvar is clipped to [VAE_LOGVAR_MIN, VAE_LOGVAR_MAX] and w_k held at >=
 * VAE_MIN_LOG_WEIGHT, so the density is finite however far x is from the data.
 *
 * The decoder's log-std is clamped at minLogStd exactly as in training; since
 * it is a constant, the clamp and its exp are folded at export time.
 *
 * likelihood 'logistic': the decoder gives mu and s per pixel, log p(x|z) is
 * the discretised logistic's log-mass of x's pixels (no logdet(pre)), and the
 * sample is x = clamp(mu + s logit(Phi(noise)), 0, 255), x_mean = clamp(mu, 0, 255).
 * Conditional (C classes): sample also takes label [N,C]; density repeats each
 * row once per class (row n*C + c under class c, with row n's eps) and answers
 * elboy, iwaey [N,C]; there is no encode graph (q(z|x, label) needs the label).
 */
import {
  classCount, convOf, dataDim, VAE_LOGVAR_MAX, VAE_LOGVAR_MIN, VAE_MIN_LOG_WEIGHT, type VaeSpec,
} from '../../core/spec';
import { BATCH, GraphBuilder } from '../onnx/graph';
import { HALF_LOG_2PI, WeightTable, logisticLogMass, logisticNoise, logisticOf, mlp, post, pre, preLogDet, sliceLast, stdNormalLogProb, sumLast } from './common';
import { VAE_PRIOR_MU } from '../../core/families/vae';
import { downNet, upNet } from './conv';
import type { Graph } from './types';

export function vaeGraphs(spec: VaeSpec, w: WeightTable): Graph[] {
  const D = dataDim(spec);
  const L = spec.latentDim;
  const C = classCount(spec);
  const conv = convOf(spec);
  const logistic = spec.likelihood === 'logistic';
  const width = logistic ? 2 : 1;
  if (!conv) checkSizes(spec, D, L, C, width);
  /** encoder rows [M, D] (and labels [M, C]) -> [M, 2L]: the MLP, or the conv "down" net */
  const enc = (g: GraphBuilder, y: string, label?: string) => {
    if (conv) return downNet(g, w, 'enc', spec.shape, conv, spec.encoder, 2 * L, y, label ? { name: label, size: C } : undefined);
    return mlp(g, w, 'enc', spec.encoder, label ? g.node('Concat', [y, label], { axis: 1 }) : y);
  };
  /** decoder output for latent rows [M, L] (and labels [M, C]) -> [M, D * width] */
  const decRows = (g: GraphBuilder, z: string, label?: string) => {
    const input = label ? g.node('Concat', [z, label], { axis: 1 }) : z;
    return conv ? upNet(g, w, 'dec', spec.shape, conv, spec.decoder, L + C, input, width) : mlp(g, w, 'dec', spec.decoder, input);
  };
  /** decoder output for z [N, L] or [N, K, L] -> [..., D * width]; the conv net and the label take rows, so [N, K, L] is folded to [N*K, L] and back */
  const dec = (g: GraphBuilder, z: string, rank: 2 | 3, label?: string) => {
    if (rank === 2) return decRows(g, z, label);
    if (!conv && !label) return mlp(g, w, 'dec', spec.decoder, z);
    const zRows = g.node('Reshape', [z, g.ints([-1, L], 'zrows')]);
    // each of a row's K latents decodes with that row's label
    const labelRows = label && g.node('Reshape', [g.node('Expand', [g.node('Unsqueeze', [label, g.ints([1], 'axes')]), g.node('Concat', [leading(g, z, 2), g.ints([C], 'c')], { axis: 0 })]), g.ints([-1, C], 'lrows')]);
    const rows = decRows(g, zRows, labelRows);
    return g.node('Reshape', [rows, g.node('Concat', [leading(g, z, 2), g.ints([D * width], 'd')], { axis: 0 })]);
  };
  const logstd = logistic ? [] : Array.from(w.get('dec.logstd', [D]).data, (v) => Math.max(v, spec.minLogStd));
  const sigma = logstd.map(Math.exp);

  /**
   * The logistic's mu and log s [..., D] from the decoder's output [..., 2D] (rank 2
   * or 3): MLP columns [a | b]; conv channels (a, b) interleaved per pixel.
   */
  const logisticParams = (g: GraphBuilder, out: string, rank: 2 | 3): { mu: string; logs: string } => {
    let a: string, b: string;
    if (conv) {
      const pairs = g.node('Reshape', [out, g.ints(rank === 2 ? [0, D, 2] : [0, 0, D, 2], 'pairs')]);
      const channel = (c: number) => g.node('Squeeze', [sliceLast(g, pairs, c, c + 1), g.ints([-1], 'axes')]);
      [a, b] = [channel(0), channel(1)];
    } else {
      [a, b] = [sliceLast(g, out, 0, D), sliceLast(g, out, D, 2 * D)];
    }
    return logisticOf(g, a, b, spec.minLogStd);
  };

  /** the prior's means of one-hot label rows [M, C] (classPrior): [M, L] */
  const priorMean = (g: GraphBuilder, label: string): string => g.node('MatMul', [label, w.init(g, VAE_PRIOR_MU, [C, L])]);

  /** logvar = clip(h[:, L:], min, max): bounded so exp(logvar / 2) cannot overflow far from the data */
  const boundedLogvar = (g: GraphBuilder, h: string): string => g.node('Clip', [sliceLast(g, h, L, 2 * L), g.scalar(VAE_LOGVAR_MIN), g.scalar(VAE_LOGVAR_MAX)]);

  const sample = new GraphBuilder('vae_sample');
  {
    const g = sample;
    const z = g.input('z', [BATCH, L]);
    const noise = g.input('noise', [BATCH, D]);
    const label = C ? g.input('label', [BATCH, C]) : undefined;
    // classPrior: z is drawn from N(m_label, I), i.e. z + m_label
    const m = dec(g, label && spec.classPrior ? g.node('Add', [z, priorMean(g, label)]) : z, 2, label);
    if (logistic) {
      const { mu, logs } = logisticParams(g, m, 2);
      const drawn = g.node('Add', [mu, g.node('Mul', [g.node('Exp', [logs]), logisticNoise(g, noise)])]);
      g.output(clip255(g, drawn), 'x', [BATCH, D]);
      g.output(clip255(g, mu), 'x_mean', [BATCH, D]);
    } else {
      const drawn = g.node('Add', [m, g.node('Mul', [noise, g.floats('sigma', [D], sigma)])]);
      g.output(post(g, spec.preprocess, drawn, D), 'x', [BATCH, D]);
      g.output(post(g, spec.preprocess, m, D), 'x_mean', [BATCH, D]);
    }
  }

  // conditional: none, q(z | x, label) needs the label (core/spec.ts VaeSpec)
  const encode = C ? undefined : new GraphBuilder('vae_encode');
  if (encode) {
    const g = encode;
    const x = g.input('x', [BATCH, D]);
    const h = enc(g, pre(g, spec.preprocess, x, D));
    g.output(sliceLast(g, h, 0, L), 'mu', [BATCH, L]);
    g.output(boundedLogvar(g, h), 'logvar', [BATCH, L]);
  }

  const density = new GraphBuilder('vae_density');
  {
    const g = density;
    const xIn = g.input('x', [BATCH, D]);
    const epsIn = g.input('eps', [BATCH, 'K', L]);
    // conditional: C rows per row, row n*C + c scoring row n under class c (all with row n's eps)
    let x = xIn;
    let eps = epsIn;
    let label: string | undefined;
    if (C) {
      x = g.node('Reshape', [g.node('Tile', [g.node('Unsqueeze', [xIn, g.ints([1], 'axes')]), g.ints([1, C, 1], 'reps')]), g.ints([-1, D], 'xrows')]);
      const eye = g.floats('classes', [1, C, C], Array.from({ length: C * C }, (_, i) => (Math.floor(i / C) === i % C ? 1 : 0)));
      label = g.node('Reshape', [g.node('Expand', [eye, g.node('Concat', [leading(g, xIn, 1), g.ints([C, C], 'cc')], { axis: 0 })]), g.ints([-1, C], 'lrows')]);
      const kl = g.node('Slice', [g.node('Shape', [epsIn]), g.ints([1], 'starts'), g.ints([3], 'ends')]);
      eps = g.node('Reshape', [g.node('Tile', [g.node('Unsqueeze', [epsIn, g.ints([1], 'axes')]), g.ints([1, C, 1, 1], 'reps')]), g.node('Concat', [g.ints([-1], 'rows'), kl], { axis: 0 })]);
    }
    const y = pre(g, spec.preprocess, x, D);
    const h = enc(g, y, label);
    const mu = sliceLast(g, h, 0, L);
    const logvar = boundedLogvar(g, h);
    const axis1 = g.ints([1], 'axes');
    // z [N,K,L] = mu[:,None] + exp(logvar/2)[:,None] * eps
    const std = g.node('Exp', [g.node('Mul', [logvar, g.scalar(0.5)])]);
    const z = g.node('Add', [g.node('Unsqueeze', [mu, axis1]), g.node('Mul', [g.node('Unsqueeze', [std, axis1]), eps])]);
    const m = dec(g, z, 3, label);
    let logPx: string;
    if (logistic) {
      // log p(x|z) [N,K] = sum_d log P(k_d): a mass of x's pixels, already a density of dequantised x
      const { mu: loc, logs } = logisticParams(g, m, 3);
      logPx = sumLast(g, logisticLogMass(g, g.node('Unsqueeze', [x, axis1]), loc, logs));
    } else {
      // log p(y|z) [N,K] = sum_d [-0.5 log 2pi - logstd_d] - 0.5 sum_d ((y_d - m_d) / sigma_d)^2
      const r = g.node('Div', [g.node('Sub', [g.node('Unsqueeze', [y, axis1]), m]), g.floats('sigma', [D], sigma)]);
      const cY = -D * HALF_LOG_2PI - logstd.reduce((a, b) => a + b, 0);
      logPx = g.node('Sub', [g.scalar(cY), g.node('Mul', [g.scalar(0.5), sumLast(g, g.node('Mul', [r, r]))])]);
    }
    // classPrior: log N(z; m_label, I), the label's mean [N*C, 1, L] off every one of a row's K latents
    const logPz = stdNormalLogProb(g, label && spec.classPrior ? g.node('Sub', [z, g.node('Unsqueeze', [priorMean(g, label), axis1])]) : z, L);
    // log q(z|y) [N,K] = -L/2 log 2pi - 0.5 sum logvar [N,1] - 0.5 sum eps^2 [N,K]
    const halfSumLogvar = g.node('Mul', [g.scalar(0.5), g.node('Unsqueeze', [sumLast(g, logvar), axis1])]);
    const logQ = g.node('Sub', [stdNormalLogProb(g, eps, L), halfSumLogvar]);
    let logw = g.node('Sub', [g.node('Add', [logPx, logPz]), logQ]);
    if (!logistic) {
      const ldPre = preLogDet(g, spec.preprocess, x, D);
      // a [N] log-det must line up with the batch axis of w [N,K]
      logw = g.node('Add', [logw, spec.preprocess.kind === 'logit' ? g.node('Unsqueeze', [ldPre, axis1]) : ldPre]);
    }
    // no -inf reaches the logsumexp: -inf - (-inf) would be NaN
    logw = g.node('Max', [logw, g.scalar(VAE_MIN_LOG_WEIGHT)]);
    // conditional: [N*C, K] -> [N, C, K], reduced over the last axis
    const sampleAxis = C ? 2 : 1;
    if (C) logw = g.node('Reshape', [logw, g.node('Concat', [g.ints([-1, C], 'nc'), g.node('Slice', [g.node('Shape', [epsIn]), g.ints([1], 'starts'), g.ints([2], 'ends')])], { axis: 0 })]);
    const batch = C ? [BATCH, C] : [BATCH];
    g.output(g.node('ReduceMean', [logw], { axes: [sampleAxis], keepdims: 0 }), C ? 'elboy' : 'elbo', batch);
    // logsumexp with the max subtracted, written out so every execution provider is stable
    const wmax = g.node('ReduceMax', [logw], { axes: [sampleAxis], keepdims: 1 });
    const axisK = C ? g.ints([2], 'axes') : axis1;
    const sumExp = g.node('ReduceSum', [g.node('Exp', [g.node('Sub', [logw, wmax])]), axisK], { keepdims: 0 });
    const lse = g.node('Add', [g.node('Log', [sumExp]), g.node('Squeeze', [wmax, axisK])]);
    const k = g.node('Cast', [g.node('Gather', [g.node('Shape', [epsIn]), g.ints([1], 'k_index')])], { to: 1 });
    g.output(g.node('Sub', [lse, g.node('Log', [k])]), C ? 'iwaey' : 'iwae', batch);
  }

  return [
    { capability: 'sample', builder: sample },
    { capability: 'density', builder: density },
    ...(encode ? [{ capability: 'encode' as const, builder: encode }] : []),
  ];
}

/** The first `n` dimensions of t's shape, as an int64 1-D tensor. */
function leading(g: GraphBuilder, t: string, n: number): string {
  return g.node('Slice', [g.node('Shape', [t]), g.ints([0], 'starts'), g.ints([n], 'ends')]);
}

function clip255(g: GraphBuilder, x: string): string {
  return g.node('Clip', [x, g.scalar(0), g.scalar(255)]);
}

function checkSizes(spec: VaeSpec, D: number, L: number, C: number, width: number): void {
  const e = spec.encoder.sizes;
  const d = spec.decoder.sizes;
  if (e[0] !== D + C || e[e.length - 1] !== 2 * L) throw new Error(`VAE encoder sizes [${e}] must run ${D + C} -> ... -> ${2 * L}`);
  if (d[0] !== L + C || d[d.length - 1] !== D * width) throw new Error(`VAE decoder sizes [${d}] must run ${L + C} -> ... -> ${D * width}`);
}
