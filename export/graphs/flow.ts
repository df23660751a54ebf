/**
 * Flow graphs: NICE (Dinh et al. 2014, additive coupling) and RealNVP
 * (Dinh et al. 2016, affine coupling), per core/flowspec.ts FlowSpec.
 *
 * Forward (data -> latent), step l with mask m (1 = conditioning half):
 *   actnorm:  y <- y * exp(logs) + bias                        logdet += sum logs
 *   h = net_l(y * m)
 *   nice:     y <- y + (1 - m) * h
 *   realnvp:  s = scale * tanh(h[:, :D]), t = h[:, D:]
 *             y <- m * y + (1 - m) * (y * exp(s) + t)           logdet += sum (1 - m) s
 *   final:    z = y * exp(final.logs)                          logdet += sum final.logs
 * Inverse (latent -> data) runs the steps backwards; since the conditioning
 * half passes through unchanged, net_l(y * m) is the same in both directions:
 *   nice:     y <- y - (1 - m) * h
 *   realnvp:  y <- m * y + (1 - m) * (y - t) * exp(-s)
 *   actnorm:  y <- (y - bias) * exp(-logs)
 *
 * density: x -> logp = sum_d N(z_d; 0, 1) + logdet + logdet(pre)
 * encode:  x -> z;   sample: z -> x = post(inverse(z))
 * conditional (`base.mu` [C, D]): density x -> logpy [N, C] with N(z_d; mu[y, d], 1),
 *   sample (z, label) -> post(inverse(z + label mu)); encode unchanged (common.ts bijectionGraphs)
 * exp(logs) of actnorm/final are constants and are folded at export time.
 */
import { classCount, dataDim, type FlowSpec, type NamedWeight } from '../../core/spec';
import type { GraphBuilder } from '../onnx/graph';
import { BASE_MU, couplingNet as couplingMlp, FINAL_LOGS, stepNames } from '../../core/families';
import { bijectionGraphs, WeightTable, mlp, sliceLast, sumLast } from './common';
import type { Graph } from './types';

export function flowGraphs(spec: FlowSpec, w: WeightTable): Graph[] {
  const D = dataDim(spec);
  if (spec.masks.length !== spec.steps) throw new Error(`flow has ${spec.steps} steps but ${spec.masks.length} masks`);
  spec.masks.forEach((m, l) => {
    if (m.length !== D || m.some((v) => v !== 0 && v !== 1)) throw new Error(`mask ${l} must have ${D} entries of 0 or 1`);
  });
  const affine = spec.coupling === 'affine';
  const finalLogs = spec.finalScale ? Array.from(w.get(FINAL_LOGS, [D]).data) : null;

  /** Emits the coupling net of step l on (y * m); returns [s, t] for affine or [null, t] for additive. */
  const couplingNet = (g: GraphBuilder, l: number, ym: string): [string | null, string] => {
    const h = mlp(g, w, stepNames(l).net, couplingMlp(spec), ym);
    if (!affine) return [null, h];
    const scale = w.init(g, stepNames(l).scale);
    const s = g.node('Mul', [scale, g.node('Tanh', [sliceLast(g, h, 0, D)])]);
    return [s, sliceLast(g, h, D, 2 * D)];
  };

  const stepConsts = (g: GraphBuilder, l: number) => {
    const m = spec.masks[l];
    const mask = g.floats(`mask${l}`, [D], m);
    const inv = g.floats(`inv_mask${l}`, [D], m.map((v) => 1 - v));
    return { m, mask, inv };
  };

  /** x [N,D] -> (z [N,D], logdet [N] or null when it is a constant folded into `constLogdet`) */
  const forward = (g: GraphBuilder, y0: string): { z: string; logdet: string | null; constLogdet: number } => {
    let y = y0;
    let logdet: string | null = null;
    let constLogdet = 0;
    for (let l = 0; l < spec.steps; l++) {
      if (spec.actnorm) {
        const logs = Array.from(w.get(stepNames(l).anLogs, [D]).data);
        const bias = w.init(g, stepNames(l).anBias, [D]);
        y = g.node('Add', [g.node('Mul', [y, g.floats(`an${l}_exp`, [D], logs.map(Math.exp))]), bias]);
        constLogdet += logs.reduce((a, b) => a + b, 0);
      }
      const { mask, inv } = stepConsts(g, l);
      const [s, t] = couplingNet(g, l, g.node('Mul', [y, mask]));
      if (!s) {
        y = g.node('Add', [y, g.node('Mul', [inv, t])]);
      } else {
        const moved = g.node('Add', [g.node('Mul', [y, g.node('Exp', [s])]), t]);
        y = g.node('Add', [g.node('Mul', [mask, y]), g.node('Mul', [inv, moved])]);
        const ld = sumLast(g, g.node('Mul', [inv, s]));
        logdet = logdet ? g.node('Add', [logdet, ld]) : ld;
      }
    }
    if (finalLogs) {
      y = g.node('Mul', [y, g.floats('final_exp', [D], finalLogs.map(Math.exp))]);
      constLogdet += finalLogs.reduce((a, b) => a + b, 0);
    }
    return { z: y, logdet, constLogdet };
  };

  const inverse = (g: GraphBuilder, z: string): string => {
    let y = z;
    if (finalLogs) {
      y = g.node('Mul', [y, g.floats('final_inv', [D], finalLogs.map((v) => Math.exp(-v)))]);
    }
    for (let l = spec.steps - 1; l >= 0; l--) {
      const { mask, inv } = stepConsts(g, l);
      const [s, t] = couplingNet(g, l, g.node('Mul', [y, mask]));
      if (!s) {
        y = g.node('Sub', [y, g.node('Mul', [inv, t])]);
      } else {
        const back = g.node('Mul', [g.node('Sub', [y, t]), g.node('Exp', [g.node('Neg', [s])])]);
        y = g.node('Add', [g.node('Mul', [mask, y]), g.node('Mul', [inv, back])]);
      }
      if (spec.actnorm) {
        const logs = Array.from(w.get(stepNames(l).anLogs, [D]).data);
        const bias = w.init(g, stepNames(l).anBias, [D]);
        y = g.node('Mul', [g.node('Sub', [y, bias]), g.floats(`an${l}_inv`, [D], logs.map((v) => Math.exp(-v)))]);
      }
    }
    return y;
  };

  const C = classCount(spec);
  return bijectionGraphs('flow', spec.preprocess, D, { forward, inverse }, C ? w.get(BASE_MU, [C, D]) : undefined);
}
