/**
 * MADE graphs (core/spec.ts MadeSpec; Germain et al. 2015). The masks are
 * constants of the spec, so each W is stored already multiplied by its mask.
 *
 * density: x [N,D] -> logp [N] = sum_d log p(y_d | y_<d) + logdet(pre), y = pre(x)
 *          (K > 1: a logsumexp over the K components, max-shifted)
 * sample:  z [N,L], y [N,D] -> y_next [N,D], x = post(y_next) [N,D]
 *          K = 1: y_next = mu(y) + exp(alpha(y)) z
 *          K > 1: u = Phi(z[:, D:]) picks the component (cdf by a triangular
 *          MatMul over k), y_next = mu_k + exp(alpha_k) z[:, :D]
 *          images: y_next clamped to the pixels' support (core/spec.ts preSupport)
 *          One pass; the caller runs it D times from y = 0, pass d copying
 *          y_next[:, d] into y (core/protocol.ts `runSample`), since y_next_d
 *          depends on y_<d only.
 * Conditional (C classes): every layer adds label V_i (sample: label [N,C] rows);
 * density runs layer 0's masked product once per row and the rest once per
 * class (row n*C + c under class c), answering logpy [N,C].
 */
import { latentDimOf, madeComponents, madeMasks, madeNet } from '../../core/families';
import { madeLabelWeight } from '../../core/families/made';
import { classCount, dataDim, preSupport, type MadeSpec } from '../../core/spec';
import { BATCH, GraphBuilder } from '../onnx/graph';
import { HALF_LOG_2PI, WeightTable, activation, post, pre, preLogDet, sliceLast, sumLast } from './common';
import type { Graph } from './types';

export function madeGraphs(spec: MadeSpec, w: WeightTable): Graph[] {
  const D = dataDim(spec);
  const net = madeNet(spec);
  const masks = madeMasks(spec);
  const K = madeComponents(spec);
  const L = latentDimOf(spec);
  const C = classCount(spec);

  /**
   * The masked net's output. `label`: one-hot rows [N, C], output [N, P]; 'every class':
   * [N*C, P], row n*C + c scoring row n under class c (layer 0's masked product is shared).
   */
  const netOut = (g: GraphBuilder, y: string, label?: string | 'every class'): string => {
    let h = y;
    const k = net.sizes.length - 1;
    for (let i = 0; i < k; i++) {
      const W = w.get(`made.${i}.W`, [net.sizes[i], net.sizes[i + 1]]);
      const masked = W.data.map((v, j) => v * masks[i][j]);
      const b = w.init(g, `made.${i}.b`, [net.sizes[i + 1]]);
      h = g.node('Add', [g.node('MatMul', [h, g.floats(`made_${i}_W_masked`, W.shape, masked)]), b]);
      if (label === 'every class') {
        // [N, C, size]: class c's row of V is label V for its one-hot label; layer 0 lifts [N, size] to [N, 1, size] first
        const V = w.init(g, madeLabelWeight(i), [C, net.sizes[i + 1]]);
        h = g.node('Add', [i === 0 ? g.node('Unsqueeze', [h, g.ints([1], 'axes')]) : h, V]);
      } else if (label) {
        h = g.node('Add', [h, g.node('MatMul', [label, w.init(g, madeLabelWeight(i), [C, net.sizes[i + 1]])])]);
      }
      h = activation(g, h, i < k - 1 ? net.hidden : net.output);
    }
    return label === 'every class' ? g.node('Reshape', [h, g.ints([-1, net.sizes[k]], 'rows')]) : h;
  };

  /** K = 1: mu and alpha = max(out, minLogStd), each [N, D]. */
  const conditionals = (g: GraphBuilder, y: string, label?: string | 'every class'): { mu: string; alpha: string } => {
    const h = netOut(g, y, label);
    return { mu: sliceLast(g, h, 0, D), alpha: g.node('Max', [sliceLast(g, h, D, 2 * D), g.scalar(spec.minLogStd)]) };
  };

  /** K > 1: mu, alpha and log mixture weights, each [N, K, D]. */
  const mixture = (g: GraphBuilder, y: string, label?: string | 'every class'): { mu: string; alpha: string; logw: string } => {
    const h = netOut(g, y, label);
    const block = (b: number) => g.node('Reshape', [sliceLast(g, h, b * K * D, (b + 1) * K * D), g.ints([-1, K, D], 'kd')]);
    return { mu: block(0), alpha: g.node('Max', [block(1), g.scalar(spec.minLogStd)]), logw: g.node('LogSoftmax', [block(2)], { axis: 1 }) };
  };

  const density = new GraphBuilder('made_density');
  {
    const g = density;
    const x = g.input('x', [BATCH, D]);
    const yIn = pre(g, spec.preprocess, x, D);
    // conditional: the net's rows are [N*C], row n*C + c being row n under class c; y is repeated to match
    const every = C ? ('every class' as const) : undefined;
    const y = C ? g.node('Reshape', [g.node('Tile', [g.node('Unsqueeze', [yIn, g.ints([1], 'axes')]), g.ints([1, C, 1], 'reps')]), g.ints([-1, D], 'rows')]) : yIn;
    let logp: string;
    if (K === 1) {
      const { mu, alpha } = conditionals(g, yIn, every);
      // r = (y - mu) exp(-alpha);  logp = -D/2 log 2pi - sum alpha - 0.5 sum r^2
      const r = g.node('Mul', [g.node('Sub', [y, mu]), g.node('Exp', [g.node('Neg', [alpha])])]);
      const quad = g.node('Mul', [g.scalar(0.5), sumLast(g, g.node('Mul', [r, r]))]);
      logp = g.node('Sub', [g.node('Sub', [g.scalar(-D * HALF_LOG_2PI), sumLast(g, alpha)]), quad]);
    } else {
      const { mu, alpha, logw } = mixture(g, yIn, every);
      const axis1 = g.ints([1], 'axes');
      const r = g.node('Mul', [g.node('Sub', [g.node('Unsqueeze', [y, axis1]), mu]), g.node('Exp', [g.node('Neg', [alpha])])]);
      // comp [N,K,D] = log w - alpha - 0.5 r^2 - 0.5 log 2pi, then a max-shifted logsumexp over k
      const comp = g.node('Sub', [g.node('Sub', [g.node('Sub', [logw, alpha]), g.node('Mul', [g.scalar(0.5), g.node('Mul', [r, r])])]), g.scalar(HALF_LOG_2PI)]);
      const top = g.node('ReduceMax', [comp], { axes: [1], keepdims: 1 });
      const sum = g.node('ReduceSum', [g.node('Exp', [g.node('Sub', [comp, top])]), axis1], { keepdims: 0 });
      logp = sumLast(g, g.node('Add', [g.node('Log', [sum]), g.node('Squeeze', [top, axis1])]));
    }
    const ldPre = preLogDet(g, spec.preprocess, x, D);
    if (!C) g.output(g.node('Add', [logp, ldPre]), 'logp', [BATCH]);
    else {
      // [N*C] -> [N, C], plus the log-det of pre: per row for logit, a constant otherwise
      const perRow = spec.preprocess.kind === 'logit' ? g.node('Unsqueeze', [ldPre, g.ints([1], 'axes')]) : ldPre;
      g.output(g.node('Add', [g.node('Reshape', [logp, g.ints([-1, C], 'nc')]), perRow]), 'logpy', [BATCH, C]);
    }
  }

  const sample = new GraphBuilder('made_sample');
  {
    const g = sample;
    const z = g.input('z', [BATCH, L]);
    const y = g.input('y', [BATCH, D]);
    const label = C ? g.input('label', [BATCH, C]) : undefined;
    let next: string;
    if (K === 1) {
      const { mu, alpha } = conditionals(g, y, label);
      next = g.node('Add', [mu, g.node('Mul', [g.node('Exp', [alpha]), z])]);
    } else {
      const { mu, alpha, logw } = mixture(g, y, label);
      const axis1 = g.ints([1], 'axes');
      const normal = sliceLast(g, z, 0, D);
      // u = Phi(z2) = (1 + erf(z2 / sqrt 2)) / 2
      const u = g.node('Mul', [g.scalar(0.5), g.node('Add', [g.scalar(1), g.node('Erf', [g.node('Mul', [sliceLast(g, z, D, 2 * D), g.scalar(Math.SQRT1_2)])])])]);
      // cdf_k = sum_{j <= k} w_j as tri [K,K] x w [N,K,D]; the last bound lifted to 1e30
      const tri = g.floats('tri', [K, K], Array.from({ length: K * K }, (_, i) => (i % K <= Math.floor(i / K) ? 1 : 0)));
      const lift = g.floats('lift', [K, 1], Array.from({ length: K }, (_, k) => (k === K - 1 ? 1e30 : 0)));
      const cdf = g.node('Add', [g.node('MatMul', [tri, g.node('Exp', [logw])]), lift]);
      const below = g.node('Cast', [g.node('Less', [g.node('Unsqueeze', [u, axis1]), cdf])], { to: 1 });
      // pick_k = below_k - below_{k-1}: the first component whose bound exceeds u
      const shift = g.floats('shift_down', [K, K], Array.from({ length: K * K }, (_, i) => (i % K === Math.floor(i / K) - 1 ? 1 : 0)));
      const pick = g.node('Sub', [below, g.node('MatMul', [shift, below])]);
      const draw = g.node('Add', [mu, g.node('Mul', [g.node('Exp', [alpha]), g.node('Unsqueeze', [normal, axis1])])]);
      next = g.node('ReduceSum', [g.node('Mul', [pick, draw]), axis1], { keepdims: 0 });
    }
    // images: y_d held to the pixels' support (core/spec.ts preSupport, MadeSpec sampling)
    const support = preSupport(spec.preprocess);
    if (support) next = g.node('Clip', [next, g.scalar(support[0]), g.scalar(support[1])]);
    g.output(next, 'y_next', [BATCH, D]);
    g.output(post(g, spec.preprocess, next, D), 'x', [BATCH, D]);
  }

  return [
    { capability: 'sample', builder: sample },
    { capability: 'density', builder: density },
  ];
}
