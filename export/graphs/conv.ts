/**
 * The conv nets of core/spec.ts `ConvSpec` as ONNX: the "down" net (stride-2
 * convs, flatten, dense; VAE encoder and GAN discriminator) and the "up" net
 * (dense, reshape, stride-2 transposed convs; VAE decoder and DCGAN generator).
 *
 * Layouts: the spec (and tfjs) is NHWC; ONNX Conv and ConvTranspose are NCHW.
 * Rows [M, H*W] enter as [M, 1, H, W] (one channel: the same bytes), the
 * bottom is transposed back to NHWC before it is flattened (the spec's
 * flatten is row-major over [h, w, c]), and the up net's [M, F] is reshaped
 * to NHWC and transposed to NCHW before its first transposed conv. Weights are
 * permuted once, here: conv [k, k, cin, cout] -> [cout, cin, k, k];
 * transposed conv [k, k, cout, cin] -> [cin, cout, k, k].
 *
 * SAME padding, stride 2 (the spec's formula): pad_total = max((out-1)*2 + k - in, 0),
 * pad_before = floor(pad_total / 2), the rest after; the transposed conv uses
 * the pads of the conv it is the transpose of, so its output is exactly 2 * in.
 */
import type { ConvSpec, MlpSpec } from '../../core/spec';
import type { GraphBuilder } from '../onnx/graph';
import { activation, type WeightTable } from './common';

interface Geom { n: number; h: number; w: number; F: number }

function geom(shape: number[], conv: ConvSpec): Geom {
  const n = conv.channels.length;
  const f = 2 ** n;
  if (shape.length !== 2 || shape[0] % f || shape[1] % f) throw new Error(`conv graphs need an image shape divisible by ${f}, got [${shape}]`);
  return { n, h: shape[0] / f, w: shape[1] / f, F: (shape[0] / f) * (shape[1] / f) * conv.channels[n - 1] };
}

/** [before_h, before_w, after_h, after_w] of a stride-2 SAME conv from size (inH, inW). */
function samePads(inH: number, inW: number, k: number): number[] {
  const total = (size: number) => Math.max((Math.ceil(size / 2) - 1) * 2 + k - size, 0);
  const [th, tw] = [total(inH), total(inW)];
  return [Math.floor(th / 2), Math.floor(tw / 2), th - Math.floor(th / 2), tw - Math.floor(tw / 2)];
}

/** Permutes a row-major tensor of `shape` by `perm` (export-time weight layout changes). */
export function permute(data: Float32Array, shape: number[], perm: number[]): { data: Float32Array; shape: number[] } {
  const outShape = perm.map((p) => shape[p]);
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  const out = new Float32Array(data.length);
  const idx = new Array(shape.length).fill(0);
  for (let o = 0; o < out.length; o++) {
    let src = 0;
    for (let d = 0; d < perm.length; d++) src += idx[d] * strides[perm[d]];
    out[o] = data[src];
    for (let d = perm.length - 1; d >= 0; d--) {
      if (++idx[d] < outShape[d]) break;
      idx[d] = 0;
    }
  }
  return { data: out, shape: outShape };
}

function dense(g: GraphBuilder, w: WeightTable, name: string, din: number, dout: number, x: string): string {
  return g.node('Add', [g.node('MatMul', [x, w.init(g, `${name}.W`, [din, dout])]), w.init(g, `${name}.b`, [dout])]);
}

/**
 * Rows [M, H*W] -> act_output(flatten(convs) W + b) [M, outDim]; with `extra`
 * ([M, E], a conditional VAE's label) the dense layer reads concat(flatten(convs), extra).
 */
export function downNet(g: GraphBuilder, w: WeightTable, prefix: string, shape: number[], conv: ConvSpec, net: MlpSpec, outDim: number, x: string, extra?: { name: string; size: number }): string {
  const { F } = geom(shape, conv);
  const k = conv.kernel;
  let h = g.node('Reshape', [x, g.ints([-1, 1, shape[0], shape[1]], 'nchw')]);
  let [hh, ww] = shape;
  conv.channels.forEach((cout, i) => {
    const cin = i === 0 ? 1 : conv.channels[i - 1];
    const W = w.get(`${prefix}.conv${i}.W`, [k, k, cin, cout]);
    const p = permute(W.data, W.shape, [3, 2, 0, 1]);
    const b = w.init(g, `${prefix}.conv${i}.b`, [cout]);
    h = g.node('Conv', [h, g.floats(`${prefix}_conv${i}_W`, p.shape, p.data), b], { kernel_shape: [k, k], strides: [2, 2], pads: samePads(hh, ww, k) });
    h = activation(g, h, net.hidden);
    [hh, ww] = [Math.ceil(hh / 2), Math.ceil(ww / 2)];
  });
  const flat = g.node('Reshape', [g.node('Transpose', [h], { perm: [0, 2, 3, 1] }), g.ints([-1, F], 'flat')]);
  if (!extra) return activation(g, dense(g, w, `${prefix}.out`, F, outDim, flat), net.output);
  const input = g.node('Concat', [flat, extra.name], { axis: 1 });
  return activation(g, dense(g, w, `${prefix}.out`, F + extra.size, outDim, input), net.output);
}

/**
 * Latents [M, L] -> rows [M, H*W*outChannels] through dense, reshape and transposed
 * convs; the rows are the spec's row-major flatten of [H, W, outChannels].
 */
export function upNet(g: GraphBuilder, w: WeightTable, prefix: string, shape: number[], conv: ConvSpec, net: MlpSpec, L: number, z: string, outChannels = 1): string {
  const { n, h: h0, w: w0, F } = geom(shape, conv);
  const ch = conv.channels;
  const k = conv.kernel;
  const d = activation(g, dense(g, w, `${prefix}.in`, L, F, z), net.hidden);
  let h = g.node('Transpose', [g.node('Reshape', [d, g.ints([-1, h0, w0, ch[n - 1]], 'nhwc')])], { perm: [0, 3, 1, 2] });
  let [hh, ww] = [h0, w0];
  for (let i = 0; i < n; i++) {
    const cin = ch[n - 1 - i];
    const cout = i === n - 1 ? outChannels : ch[n - 2 - i];
    const W = w.get(`${prefix}.deconv${i}.W`, [k, k, cout, cin]);
    const p = permute(W.data, W.shape, [3, 2, 0, 1]);
    const b = w.init(g, `${prefix}.deconv${i}.b`, [cout]);
    [hh, ww] = [hh * 2, ww * 2];
    h = g.node('ConvTranspose', [h, g.floats(`${prefix}_deconv${i}_W`, p.shape, p.data), b], { kernel_shape: [k, k], strides: [2, 2], pads: samePads(hh, ww, k) });
    h = activation(g, h, i === n - 1 ? net.output : net.hidden);
  }
  // one channel: NCHW and NHWC hold the same bytes, so no transpose
  if (outChannels > 1) h = g.node('Transpose', [h], { perm: [0, 2, 3, 1] });
  return g.node('Reshape', [h, g.ints([-1, shape[0] * shape[1] * outChannels], 'rows')]);
}
