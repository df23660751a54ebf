/**
 * Convolutional nets of core/spec.ts `ConvSpec` (arch 'conv'): the "down" net
 * (stride-2 convs -> flatten -> dense; VAE encoder, GAN discriminator) and the
 * "up" net (dense -> reshape -> stride-2 transposed convs; VAE decoder, DCGAN
 * generator). NHWC, SAME padding, weights named `P.conv{i}`, `P.out`, `P.in`,
 * `P.deconv{i}` with the shapes the spec comment gives.
 *
 * Training them needs the Conv2D, Conv2DBackpropFilter and
 * Conv2DBackpropInput kernels; the tfjs wasm backend lacks
 * Conv2DBackpropFilter (see train/backend.ts `assertConvTrainable`).
 */
import * as tf from '@tensorflow/tfjs';
import type { ConvSpec, MlpSpec, Prng } from '../../core';
import { activate, glorot, zeros, type ParamDecl, type Params } from './nn';

export interface ConvGeom {
  n: number;
  /** spatial size at the bottom */
  h: number;
  w: number;
  /** flattened size at the bottom, h * w * channels[n-1] */
  F: number;
}

export function convGeom(shape: number[], conv: ConvSpec): ConvGeom {
  const n = conv.channels.length;
  if (shape.length !== 2) throw new Error(`conv architectures need image data (shape [H, W]), got shape [${shape}]`);
  if (n < 1 || conv.channels.some((c) => !Number.isInteger(c) || c < 1)) throw new Error(`conv: channels must be positive integers, got [${conv.channels}]`);
  if (!Number.isInteger(conv.kernel) || conv.kernel < 1) throw new Error(`conv: kernel must be a positive integer, got ${conv.kernel}`);
  const f = 2 ** n;
  if (shape[0] % f || shape[1] % f) throw new Error(`conv: image [${shape}] must be divisible by 2^${n} for ${n} stride-2 layers`);
  const h = shape[0] / f;
  const w = shape[1] / f;
  return { n, h, w, F: h * w * conv.channels[n - 1] };
}

const uniform = (lim: number) => (rng: Prng, n: number): Float32Array => {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (2 * rng.uniform() - 1) * lim;
  return a;
};

/** Stride-2 convs then a dense layer to `outDim`. `net.sizes` must be [F, outDim]. */
export function downDecls(prefix: string, shape: number[], conv: ConvSpec, net: MlpSpec, outDim: number): ParamDecl[] {
  const g = convGeom(shape, conv);
  if (net.sizes.length !== 2 || net.sizes[0] !== g.F || net.sizes[1] !== outDim) {
    throw new Error(`conv ${prefix}: sizes must be [${g.F}, ${outDim}] (flattened bottom -> output), got [${net.sizes}]`);
  }
  const k = conv.kernel;
  const out: ParamDecl[] = [];
  conv.channels.forEach((cout, i) => {
    const cin = i === 0 ? 1 : conv.channels[i - 1];
    out.push({ name: `${prefix}.conv${i}.W`, shape: [k, k, cin, cout], init: glorot(k * k * cin, k * k * cout) });
    out.push({ name: `${prefix}.conv${i}.b`, shape: [cout], init: zeros });
  });
  out.push({ name: `${prefix}.out.W`, shape: [g.F, outDim], init: glorot(g.F, outDim) });
  out.push({ name: `${prefix}.out.b`, shape: [outDim], init: zeros });
  return out;
}

/**
 * Dense from L then stride-2 transposed convs up to [H, W, 1]. `net.sizes`
 * must be [L, F]. `he`: He-uniform init for layers followed by the hidden
 * activation (the image GAN's choice, models/gan.ts).
 */
export function upDecls(prefix: string, shape: number[], conv: ConvSpec, net: MlpSpec, L: number, he = false): ParamDecl[] {
  const g = convGeom(shape, conv);
  if (net.sizes.length !== 2 || net.sizes[0] !== L || net.sizes[1] !== g.F) {
    throw new Error(`conv ${prefix}: sizes must be [${L}, ${g.F}] (latent -> flattened bottom), got [${net.sizes}]`);
  }
  const k = conv.kernel;
  const ch = conv.channels;
  const out: ParamDecl[] = [{ name: `${prefix}.in.W`, shape: [L, g.F], init: he ? uniform(Math.sqrt(6 / L)) : glorot(L, g.F) }, { name: `${prefix}.in.b`, shape: [g.F], init: zeros }];
  for (let i = 0; i < g.n; i++) {
    const cin = ch[g.n - 1 - i];
    const cout = i === g.n - 1 ? 1 : ch[g.n - 2 - i];
    const last = i === g.n - 1;
    out.push({ name: `${prefix}.deconv${i}.W`, shape: [k, k, cout, cin], init: he && !last ? uniform(Math.sqrt(6 / (k * k * cin / 4))) : glorot(k * k * cin / 4, k * k * cout / 4) });
    out.push({ name: `${prefix}.deconv${i}.b`, shape: [cout], init: zeros });
  }
  return out;
}

/** y [N, H*W] -> act_output(flatten(convs(y)) W + b) [N, outDim]. */
export function down(p: Params, prefix: string, shape: number[], conv: ConvSpec, net: MlpSpec, y: tf.Tensor2D): tf.Tensor2D {
  const N = y.shape[0];
  let h: tf.Tensor4D = tf.reshape(y, [N, shape[0], shape[1], 1]);
  for (let i = 0; i < conv.channels.length; i++) {
    h = tf.add(tf.conv2d(h, p.get(`${prefix}.conv${i}.W`) as tf.Tensor4D, 2, 'same'), p.get(`${prefix}.conv${i}.b`));
    h = activate(h, net.hidden) as tf.Tensor4D;
  }
  const flat = tf.reshape(h, [N, -1]) as tf.Tensor2D;
  return activate(tf.add(tf.matMul(flat, p.get(`${prefix}.out.W`)), p.get(`${prefix}.out.b`)), net.output) as tf.Tensor2D;
}

/** z [N, L] -> [N, H*W] through dense, reshape and transposed convs. */
export function up(p: Params, prefix: string, shape: number[], conv: ConvSpec, net: MlpSpec, z: tf.Tensor2D): tf.Tensor2D {
  const N = z.shape[0];
  const g = convGeom(shape, conv);
  const ch = conv.channels;
  const dense = activate(tf.add(tf.matMul(z, p.get(`${prefix}.in.W`)), p.get(`${prefix}.in.b`)), net.hidden);
  let h: tf.Tensor4D = tf.reshape(dense, [N, g.h, g.w, ch[g.n - 1]]);
  let [hh, ww] = [g.h, g.w];
  for (let i = 0; i < g.n; i++) {
    const cout = i === g.n - 1 ? 1 : ch[g.n - 2 - i];
    [hh, ww] = [hh * 2, ww * 2];
    h = tf.add(tf.conv2dTranspose(h, p.get(`${prefix}.deconv${i}.W`) as tf.Tensor4D, [N, hh, ww, cout], 2, 'same'), p.get(`${prefix}.deconv${i}.b`));
    h = activate(h, i === g.n - 1 ? net.output : net.hidden) as tf.Tensor4D;
  }
  return tf.reshape(h, [N, shape[0] * shape[1]]) as tf.Tensor2D;
}
