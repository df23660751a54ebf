/**
 * Multi-scale RealNVP graphs (core/flowspec.ts `MultiScaleFlowSpec`): sample,
 * density and encode, walking core's `msLayout` exactly as train/models/msflow.ts.
 *
 * Layout: every tensor inside is NCHW [N, c, h, w] (ONNX Conv's layout); the spec
 * and tfjs are NHWC. Rows [N, H*W] enter as [N, 1, H, W] (one channel: same
 * bytes); each latent part is transposed back to NHWC before its row-major
 * flatten, and the sample graph reads them the other way. Conv weights are
 * permuted at export, [k, k, cin, cout] -> [cout, cin, k, k]; stride 1, SAME
 * pads floor((k-1)/2) before and the rest after (k = 1 for the middle convs). Actnorm enters as constants
 * exp(logs) and bias of shape [c, 1, 1]; its log-det h w sum logs is folded.
 *
 * squeeze: Reshape [N, c, h/2, 2, w/2, 2] -> Transpose [0, 3, 5, 1, 2, 4] ->
 * Reshape [N, 4c, h/2, w/2]: channel (2p + q) c + k, which is ONNX SpaceToDepth's
 * order (and DepthToSpace DCR's for the inverse). Written as Reshape + Transpose
 * because onnxruntime-web's WebGPU provider has DepthToSpace but no SpaceToDepth
 * (its docs/webgpu-operators.md), and these two ops run on every provider.
 *
 * Conditional specs add the class-conditional base on the rows of z (common.ts
 * bijectionGraphs): density answers logpy [N, C], sample takes `label`.
 */
import { BASE_MU, checkerMask, msChannels, msKernel, msLayout, msNames, type MsCoupling, type MsPart } from '../../core/families';
import { classCount, dataDim, type MultiScaleFlowSpec } from '../../core/spec';
import type { GraphBuilder } from '../onnx/graph';
import { activation, bijectionGraphs, type WeightTable } from './common';
import { permute } from './conv';
import type { Graph } from './types';

export function msFlowGraphs(spec: MultiScaleFlowSpec, w: WeightTable): Graph[] {
  const L = msLayout(spec);
  const D = dataDim(spec);
  const [H, W] = spec.shape;
  const ms = spec.multiscale;
  const k = ms.kernel;

  const sliceC = (g: GraphBuilder, x: string, a: number, b: number) =>
    g.node('Slice', [x, g.ints([a], 'starts'), g.ints([b], 'ends'), g.ints([1], 'axes')]);

  /** s [N, c', h, w] and t from the conditioning input u (NCHW). */
  const net = (g: GraphBuilder, cp: MsCoupling, u: string): [string, string] => {
    const n = msNames(cp.prefix, ms.filters.length + 1);
    const { cin, cout } = msChannels(cp);
    const sizes = [cin, ...ms.filters, 2 * cout];
    let h = u;
    n.conv.forEach((cv, i) => {
      const ki = msKernel(k, i, n.conv.length);
      const Wt = w.get(cv.W, [ki, ki, sizes[i], sizes[i + 1]]);
      const p = permute(Wt.data, Wt.shape, [3, 2, 0, 1]);
      const pb = Math.floor((ki - 1) / 2);
      const pads = [pb, pb, ki - 1 - pb, ki - 1 - pb];
      h = g.node('Conv', [h, g.floats(cv.W.replace(/\W/g, '_'), p.shape, p.data), w.init(g, cv.b, [sizes[i + 1]])], { kernel_shape: [ki, ki], strides: [1, 1], pads });
      if (i < n.conv.length - 1) h = activation(g, h, spec.activation);
    });
    const scale = w.get(n.scale, [cout]);
    const s = g.node('Mul', [g.floats(n.scale.replace(/\W/g, '_'), [cout, 1, 1], scale.data), g.node('Tanh', [sliceC(g, h, 0, cout)])]);
    return [s, sliceC(g, h, cout, 2 * cout)];
  };

  const actnormConsts = (g: GraphBuilder, cp: MsCoupling, inverse: boolean) => {
    const n = msNames(cp.prefix, 0);
    const logs = Array.from(w.get(n.anLogs, [cp.c]).data);
    const bias = w.get(n.anBias, [cp.c]);
    return {
      mul: g.floats(`${cp.prefix}_an_${inverse ? 'inv' : 'exp'}`.replace(/\W/g, '_'), [cp.c, 1, 1], logs.map((v) => Math.exp(inverse ? -v : v))),
      bias: g.floats(n.anBias.replace(/\W/g, '_'), [cp.c, 1, 1], bias.data),
      logdet: cp.h * cp.w * logs.reduce((a, b) => a + b, 0),
    };
  };

  const masks = (g: GraphBuilder, cp: MsCoupling) => {
    const m = checkerMask(cp.h, cp.w, cp.j);
    return { mask: g.floats(`${cp.prefix}_mask`.replace(/\W/g, '_'), [1, cp.h, cp.w], m), inv: g.floats(`${cp.prefix}_inv`.replace(/\W/g, '_'), [1, cp.h, cp.w], m.map((v) => 1 - v)) };
  };

  /** actnorm + coupling, forward; returns the new tensor, the log-det tensor [N] and the folded constant. */
  const couplingForward = (g: GraphBuilder, cp: MsCoupling, y0: string): { y: string; ld: string; c: number } => {
    const an = actnormConsts(g, cp, false);
    const y = g.node('Add', [g.node('Mul', [y0, an.mul]), an.bias]);
    const axes = g.ints([1, 2, 3], 'axes');
    if (cp.kind === 'checker') {
      const { mask, inv } = masks(g, cp);
      const [s, t] = net(g, cp, g.node('Mul', [y, mask]));
      const moved = g.node('Add', [g.node('Mul', [y, g.node('Exp', [s])]), t]);
      const out = g.node('Add', [g.node('Mul', [mask, y]), g.node('Mul', [inv, moved])]);
      return { y: out, ld: g.node('ReduceSum', [g.node('Mul', [inv, s]), axes], { keepdims: 0 }), c: an.logdet };
    }
    const [a, b] = [sliceC(g, y, 0, cp.c / 2), sliceC(g, y, cp.c / 2, cp.c)];
    const even = cp.j % 2 === 0;
    const [s, t] = net(g, cp, even ? a : b);
    const moved = g.node('Add', [g.node('Mul', [even ? b : a, g.node('Exp', [s])]), t]);
    const out = g.node('Concat', even ? [a, moved] : [moved, b], { axis: 1 });
    return { y: out, ld: g.node('ReduceSum', [s, axes], { keepdims: 0 }), c: an.logdet };
  };

  const couplingInverse = (g: GraphBuilder, cp: MsCoupling, y: string): string => {
    let out: string;
    if (cp.kind === 'checker') {
      const { mask, inv } = masks(g, cp);
      const [s, t] = net(g, cp, g.node('Mul', [y, mask]));
      const back = g.node('Mul', [g.node('Sub', [y, t]), g.node('Exp', [g.node('Neg', [s])])]);
      out = g.node('Add', [g.node('Mul', [mask, y]), g.node('Mul', [inv, back])]);
    } else {
      const [a, b] = [sliceC(g, y, 0, cp.c / 2), sliceC(g, y, cp.c / 2, cp.c)];
      const even = cp.j % 2 === 0;
      const [s, t] = net(g, cp, even ? a : b);
      const back = g.node('Mul', [g.node('Sub', [even ? b : a, t]), g.node('Exp', [g.node('Neg', [s])])]);
      out = g.node('Concat', even ? [a, back] : [back, b], { axis: 1 });
    }
    const an = actnormConsts(g, cp, true);
    return g.node('Mul', [g.node('Sub', [out, an.bias]), an.mul]);
  };

  const squeeze = (g: GraphBuilder, y: string, h: number, w2: number, c: number) => {
    const t = g.node('Transpose', [g.node('Reshape', [y, g.ints([-1, c, h / 2, 2, w2 / 2, 2], 'shape')])], { perm: [0, 3, 5, 1, 2, 4] });
    return g.node('Reshape', [t, g.ints([-1, 4 * c, h / 2, w2 / 2], 'shape')]);
  };
  const unsqueeze = (g: GraphBuilder, y: string, h: number, w2: number, c: number) => {
    const t = g.node('Transpose', [g.node('Reshape', [y, g.ints([-1, 2, 2, c, h / 2, w2 / 2], 'shape')])], { perm: [0, 3, 4, 1, 5, 2] });
    return g.node('Reshape', [t, g.ints([-1, c, h, w2], 'shape')]);
  };
  /** NCHW part -> NHWC rows, and back. */
  const toRows = (g: GraphBuilder, x: string, p: MsPart) =>
    g.node('Reshape', [g.node('Transpose', [x], { perm: [0, 2, 3, 1] }), g.ints([-1, p.h * p.w * p.c], 'shape')]);
  const fromRows = (g: GraphBuilder, z: string, p: MsPart) => {
    const cols = g.node('Slice', [z, g.ints([p.offset], 'starts'), g.ints([p.offset + p.h * p.w * p.c], 'ends'), g.ints([1], 'axes')]);
    return g.node('Transpose', [g.node('Reshape', [cols, g.ints([-1, p.h, p.w, p.c], 'shape')])], { perm: [0, 3, 1, 2] });
  };

  /** model-space rows [N, D] -> (z [N, D], logdet [N], folded constant log-det) */
  const forward = (g: GraphBuilder, y0: string) => {
    let y = g.node('Reshape', [y0, g.ints([-1, 1, H, W], 'nchw')]);
    const acc = { logdet: null as string | null, constLogdet: 0 };
    const apply = (cp: MsCoupling) => {
      const o = couplingForward(g, cp, y);
      y = o.y;
      acc.logdet = acc.logdet ? g.node('Add', [acc.logdet, o.ld]) : o.ld;
      acc.constLogdet += o.c;
    };
    const parts: string[] = [];
    for (const sc of L.scales) {
      sc.checker.forEach(apply);
      y = squeeze(g, y, sc.h, sc.w, sc.c);
      sc.channel.forEach(apply);
      parts.push(toRows(g, sliceC(g, y, sc.out.c, 2 * sc.out.c), sc.out));
      y = sliceC(g, y, 0, sc.out.c);
    }
    L.final.forEach(apply);
    parts.push(toRows(g, y, L.last));
    return { z: g.node('Concat', parts, { axis: 1 }), ...acc };
  };

  const inverse = (g: GraphBuilder, z: string): string => {
    let y = fromRows(g, z, L.last);
    for (let j = L.final.length - 1; j >= 0; j--) y = couplingInverse(g, L.final[j], y);
    for (let i = L.scales.length - 1; i >= 0; i--) {
      const sc = L.scales[i];
      y = g.node('Concat', [y, fromRows(g, z, sc.out)], { axis: 1 });
      for (let j = sc.channel.length - 1; j >= 0; j--) y = couplingInverse(g, sc.channel[j], y);
      y = unsqueeze(g, y, sc.h, sc.w, sc.c);
      for (let j = sc.checker.length - 1; j >= 0; j--) y = couplingInverse(g, sc.checker[j], y);
    }
    return g.node('Reshape', [y, g.ints([-1, D], 'rows')]);
  };

  const C = classCount(spec);
  return bijectionGraphs('msflow', spec.preprocess, D, { forward, inverse }, C ? w.get(BASE_MU, [C, D]) : undefined);
}
