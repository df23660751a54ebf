/**
 * MADE graphs (core/spec.ts MadeSpec; Germain et al. 2015). The masks are
 * constants of the spec, so each W is stored already multiplied by its mask.
 *
 * density: x [N,D] -> logp [N] = sum_d N(y_d; mu_d, exp(alpha_d)^2) + logdet(pre), y = pre(x)
 * sample:  z [N,D], y [N,D] -> y_next = mu(y) + exp(alpha(y)) z [N,D], x = post(y_next) [N,D]
 *          One pass; the caller feeds y_next back D times starting from y = 0
 *          (core/protocol.ts `runSample`), since y_next_d depends on y_<d only.
 */
import { madeMasks, madeNet } from '../../core/families';
import { dataDim, type MadeSpec } from '../../core/spec';
import { BATCH, GraphBuilder } from '../onnx/graph';
import { HALF_LOG_2PI, WeightTable, activation, post, pre, preLogDet, sliceLast, sumLast } from './common';
import type { Graph } from './types';

export function madeGraphs(spec: MadeSpec, w: WeightTable): Graph[] {
  const D = dataDim(spec);
  const net = madeNet(spec);
  const masks = madeMasks(spec);

  /** mu and alpha = max(out, minLogStd), each [N, D], from model-space y. */
  const conditionals = (g: GraphBuilder, y: string): { mu: string; alpha: string } => {
    let h = y;
    const k = net.sizes.length - 1;
    for (let i = 0; i < k; i++) {
      const W = w.get(`made.${i}.W`, [net.sizes[i], net.sizes[i + 1]]);
      const masked = W.data.map((v, j) => v * masks[i][j]);
      const b = w.init(g, `made.${i}.b`, [net.sizes[i + 1]]);
      h = g.node('Add', [g.node('MatMul', [h, g.floats(`made_${i}_W_masked`, W.shape, masked)]), b]);
      h = activation(g, h, i < k - 1 ? net.hidden : net.output);
    }
    const alpha = g.node('Max', [sliceLast(g, h, D, 2 * D), g.scalar(spec.minLogStd)]);
    return { mu: sliceLast(g, h, 0, D), alpha };
  };

  const density = new GraphBuilder('made_density');
  {
    const g = density;
    const x = g.input('x', [BATCH, D]);
    const y = pre(g, spec.preprocess, x, D);
    const { mu, alpha } = conditionals(g, y);
    // r = (y - mu) exp(-alpha);  logp = -D/2 log 2pi - sum alpha - 0.5 sum r^2
    const r = g.node('Mul', [g.node('Sub', [y, mu]), g.node('Exp', [g.node('Neg', [alpha])])]);
    const quad = g.node('Mul', [g.scalar(0.5), sumLast(g, g.node('Mul', [r, r]))]);
    const logp = g.node('Sub', [g.node('Sub', [g.scalar(-D * HALF_LOG_2PI), sumLast(g, alpha)]), quad]);
    g.output(g.node('Add', [logp, preLogDet(g, spec.preprocess, x, D)]), 'logp', [BATCH]);
  }

  const sample = new GraphBuilder('made_sample');
  {
    const g = sample;
    const z = g.input('z', [BATCH, D]);
    const y = g.input('y', [BATCH, D]);
    const { mu, alpha } = conditionals(g, y);
    const next = g.node('Add', [mu, g.node('Mul', [g.node('Exp', [alpha]), z])]);
    g.output(next, 'y_next', [BATCH, D]);
    g.output(post(g, spec.preprocess, next, D), 'x', [BATCH, D]);
  }

  return [
    { capability: 'sample', builder: sample },
    { capability: 'density', builder: density },
  ];
}
