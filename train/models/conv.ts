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
import { convGeom, type ConvSpec, type MlpSpec } from '../../core';
import { activate, type Params } from './nn';

export { convGeom, type ConvGeom } from '../../core';

/** Where a net reads its weights: the model's Params, or a view that swaps some (spectral norm). */
export type Weights = Pick<Params, 'get'> | { get(name: string): tf.Tensor };

/**
 * y [N, H*W] -> act_output(flatten(convs(y)) W + b) [N, outDim]; with `extra` [N, E]
 * (a conditional VAE's label), the dense layer reads concat(flatten(convs(y)), extra).
 */
export function down(p: Weights, prefix: string, shape: number[], conv: ConvSpec, net: MlpSpec, y: tf.Tensor2D, extra?: tf.Tensor2D): tf.Tensor2D {
  return downWithFeatures(p, prefix, shape, conv, net, y, extra).out;
}

/** `down`, also answering the flattened features [N, F] that enter `P.out` (the projection discriminator reads them). */
export function downWithFeatures(p: Weights, prefix: string, shape: number[], conv: ConvSpec, net: MlpSpec, y: tf.Tensor2D, extra?: tf.Tensor2D): { out: tf.Tensor2D; features: tf.Tensor2D } {
  const features = downTrunk(p, prefix, shape, conv, net, y);
  return { out: downHead(p, prefix, net, features, extra), features };
}

/** `down` before its last layer: the strided convs' flattened features [N, F]. */
export function downTrunk(p: Weights, prefix: string, shape: number[], conv: ConvSpec, net: MlpSpec, y: tf.Tensor2D): tf.Tensor2D {
  const N = y.shape[0];
  let h: tf.Tensor4D = tf.reshape(y, [N, shape[0], shape[1], 1]);
  for (let i = 0; i < conv.channels.length; i++) {
    h = tf.add(tf.conv2d(h, p.get(`${prefix}.conv${i}.W`) as tf.Tensor4D, 2, 'same'), p.get(`${prefix}.conv${i}.b`));
    h = activate(h, net.hidden) as tf.Tensor4D;
  }
  return tf.reshape(h, [N, -1]) as tf.Tensor2D;
}

/** The last, dense layer of `down` on its flattened features [N, F] (and the extra input [N, E] joined to them). */
export function downHead(p: Weights, prefix: string, net: MlpSpec, features: tf.Tensor2D, extra?: tf.Tensor2D): tf.Tensor2D {
  const input = extra ? tf.concat([features, extra], 1) : features;
  return activate(tf.add(tf.matMul(input, p.get(`${prefix}.out.W`)), p.get(`${prefix}.out.b`)), net.output) as tf.Tensor2D;
}

/** z [N, L] -> [N, H*W*outChannels] (the row-major flatten of [H, W, outChannels]) through dense, reshape and transposed convs. */
export function up(p: Weights, prefix: string, shape: number[], conv: ConvSpec, net: MlpSpec, z: tf.Tensor2D, outChannels = 1): tf.Tensor2D {
  const N = z.shape[0];
  const g = convGeom(shape, conv);
  const ch = conv.channels;
  const dense = activate(tf.add(tf.matMul(z, p.get(`${prefix}.in.W`)), p.get(`${prefix}.in.b`)), net.hidden);
  let h: tf.Tensor4D = tf.reshape(dense, [N, g.h, g.w, ch[g.n - 1]]);
  let [hh, ww] = [g.h, g.w];
  for (let i = 0; i < g.n; i++) {
    const cout = i === g.n - 1 ? outChannels : ch[g.n - 2 - i];
    [hh, ww] = [hh * 2, ww * 2];
    h = tf.add(tf.conv2dTranspose(h, p.get(`${prefix}.deconv${i}.W`) as tf.Tensor4D, [N, hh, ww, cout], 2, 'same'), p.get(`${prefix}.deconv${i}.b`));
    h = activate(h, i === g.n - 1 ? net.output : net.hidden) as tf.Tensor4D;
  }
  return tf.reshape(h, [N, shape[0] * shape[1] * outChannels]) as tf.Tensor2D;
}
