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
 */
import { convOf, dataDim, VAE_LOGVAR_MAX, VAE_LOGVAR_MIN, VAE_MIN_LOG_WEIGHT, type VaeSpec } from '../../core/spec';
import { BATCH, GraphBuilder } from '../onnx/graph';
import { HALF_LOG_2PI, WeightTable, mlp, post, pre, preLogDet, sliceLast, stdNormalLogProb, sumLast } from './common';
import { downNet, upNet } from './conv';
import type { Graph } from './types';

export function vaeGraphs(spec: VaeSpec, w: WeightTable): Graph[] {
  const D = dataDim(spec);
  const L = spec.latentDim;
  const conv = convOf(spec);
  if (!conv) checkSizes(spec, D, L);
  /** encoder rows [N, D] -> [N, 2L]: the MLP, or the conv "down" net */
  const enc = (g: GraphBuilder, y: string) => (conv ? downNet(g, w, 'enc', spec.shape, conv, spec.encoder, 2 * L, y) : mlp(g, w, 'enc', spec.encoder, y));
  /** decoder mean for z [..., L] -> [..., D]; the conv net takes rows, so [N, K, L] is folded to [N*K, L] and back */
  const dec = (g: GraphBuilder, z: string, rank: 2 | 3) => {
    if (!conv) return mlp(g, w, 'dec', spec.decoder, z);
    if (rank === 2) return upNet(g, w, 'dec', spec.shape, conv, spec.decoder, L, z);
    const rows = upNet(g, w, 'dec', spec.shape, conv, spec.decoder, L, g.node('Reshape', [z, g.ints([-1, L], 'zrows')]));
    const nk = g.node('Slice', [g.node('Shape', [z]), g.ints([0], 'starts'), g.ints([2], 'ends')]);
    return g.node('Reshape', [rows, g.node('Concat', [nk, g.ints([D], 'd')], { axis: 0 })]);
  };
  const logstd = Array.from(w.get('dec.logstd', [D]).data, (v) => Math.max(v, spec.minLogStd));
  const sigma = logstd.map(Math.exp);

  /** logvar = clip(h[:, L:], min, max): bounded so exp(logvar / 2) cannot overflow far from the data */
  const boundedLogvar = (g: GraphBuilder, h: string): string => g.node('Clip', [sliceLast(g, h, L, 2 * L), g.scalar(VAE_LOGVAR_MIN), g.scalar(VAE_LOGVAR_MAX)]);

  const sample = new GraphBuilder('vae_sample');
  {
    const g = sample;
    const z = g.input('z', [BATCH, L]);
    const noise = g.input('noise', [BATCH, D]);
    const m = dec(g, z, 2);
    const drawn = g.node('Add', [m, g.node('Mul', [noise, g.floats('sigma', [D], sigma)])]);
    g.output(post(g, spec.preprocess, drawn, D), 'x', [BATCH, D]);
    g.output(post(g, spec.preprocess, m, D), 'x_mean', [BATCH, D]);
  }

  const encode = new GraphBuilder('vae_encode');
  {
    const g = encode;
    const x = g.input('x', [BATCH, D]);
    const h = enc(g, pre(g, spec.preprocess, x, D));
    g.output(sliceLast(g, h, 0, L), 'mu', [BATCH, L]);
    g.output(boundedLogvar(g, h), 'logvar', [BATCH, L]);
  }

  const density = new GraphBuilder('vae_density');
  {
    const g = density;
    const x = g.input('x', [BATCH, D]);
    const eps = g.input('eps', [BATCH, 'K', L]);
    const y = pre(g, spec.preprocess, x, D);
    const h = enc(g, y);
    const mu = sliceLast(g, h, 0, L);
    const logvar = boundedLogvar(g, h);
    const axis1 = g.ints([1], 'axes');
    // z [N,K,L] = mu[:,None] + exp(logvar/2)[:,None] * eps
    const std = g.node('Exp', [g.node('Mul', [logvar, g.scalar(0.5)])]);
    const z = g.node('Add', [g.node('Unsqueeze', [mu, axis1]), g.node('Mul', [g.node('Unsqueeze', [std, axis1]), eps])]);
    // log p(y|z) [N,K] = sum_d [-0.5 log 2pi - logstd_d] - 0.5 sum_d ((y_d - m_d) / sigma_d)^2
    const m = dec(g, z, 3);
    const r = g.node('Div', [g.node('Sub', [g.node('Unsqueeze', [y, axis1]), m]), g.floats('sigma', [D], sigma)]);
    const cY = -D * HALF_LOG_2PI - logstd.reduce((a, b) => a + b, 0);
    const logPyz = g.node('Sub', [g.scalar(cY), g.node('Mul', [g.scalar(0.5), sumLast(g, g.node('Mul', [r, r]))])]);
    const logPz = stdNormalLogProb(g, z, L);
    // log q(z|y) [N,K] = -L/2 log 2pi - 0.5 sum logvar [N,1] - 0.5 sum eps^2 [N,K]
    const halfSumLogvar = g.node('Mul', [g.scalar(0.5), g.node('Unsqueeze', [sumLast(g, logvar), axis1])]);
    const logQ = g.node('Sub', [stdNormalLogProb(g, eps, L), halfSumLogvar]);
    let logw = g.node('Sub', [g.node('Add', [logPyz, logPz]), logQ]);
    const ldPre = preLogDet(g, spec.preprocess, x, D);
    // a [N] log-det must line up with the batch axis of w [N,K]
    logw = g.node('Add', [logw, spec.preprocess.kind === 'logit' ? g.node('Unsqueeze', [ldPre, axis1]) : ldPre]);
    // no -inf reaches the logsumexp: -inf - (-inf) would be NaN
    logw = g.node('Max', [logw, g.scalar(VAE_MIN_LOG_WEIGHT)]);
    g.output(g.node('ReduceMean', [logw], { axes: [1], keepdims: 0 }), 'elbo', [BATCH]);
    // logsumexp with the max subtracted, written out so every execution provider is stable
    const wmax = g.node('ReduceMax', [logw], { axes: [1], keepdims: 1 });
    const sumExp = g.node('ReduceSum', [g.node('Exp', [g.node('Sub', [logw, wmax])]), axis1], { keepdims: 0 });
    const lse = g.node('Add', [g.node('Log', [sumExp]), g.node('Squeeze', [wmax, axis1])]);
    const k = g.node('Cast', [g.node('Gather', [g.node('Shape', [eps]), g.ints([1], 'k_index')])], { to: 1 });
    g.output(g.node('Sub', [lse, g.node('Log', [k])]), 'iwae', [BATCH]);
  }

  return [
    { capability: 'sample', builder: sample },
    { capability: 'density', builder: density },
    { capability: 'encode', builder: encode },
  ];
}

function checkSizes(spec: VaeSpec, D: number, L: number): void {
  const e = spec.encoder.sizes;
  const d = spec.decoder.sizes;
  if (e[0] !== D || e[e.length - 1] !== 2 * L) throw new Error(`VAE encoder sizes [${e}] must run ${D} -> ... -> ${2 * L}`);
  if (d[0] !== L || d[d.length - 1] !== D) throw new Error(`VAE decoder sizes [${d}] must run ${L} -> ... -> ${D}`);
}
