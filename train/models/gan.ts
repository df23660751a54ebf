/**
 * GAN with MLP generator and discriminator (Goodfellow et al. 2014,
 * https://arxiv.org/abs/1406.2661), trained with the non-saturating loss of
 * core/spec.ts `GanSpec`:
 *
 *   L_D = softplus(-D(y_real)) + softplus(D(G(z)))      (= -log s(D) - log(1 - s(D)))
 *   L_G = softplus(-D(G(z)))                            (non-saturating: -log s(D(G(z))))
 *
 * The discriminator sees model space y = pre(x). One D step then one G step per
 * trainStep, each with its own Adam (beta1 0.5, the usual GAN choice: momentum
 * that remembers less of a moving target).
 *
 * Image GANs (sigmoid generator output, model space [0, 1]) collapsed with the
 * plain recipe on this CPU's budget (~1500 steps in 8 minutes): every sample
 * was the same speckled blob (MMD 0.42). Measured in 80-90 s runs: the
 * generator starts as flat grey 0.5, the discriminator separates that from
 * black backgrounds within 50 steps, and the samples' spread across z (mean
 * per-pixel std, model space) falls to 0.02 by step 50; the speckle is the
 * random per-pixel pattern of the output layer applied to one shared hidden
 * vector. Training-only measures (the spec and the exported maths are
 * unchanged), each measured by MMD after ~250 steps (plain: 0.40):
 *  - initialize(): the generator's output bias starts at logit(per-pixel mean
 *    of the 1024 init rows), so G begins at the mean digit, not flat grey, and
 *  - one-sided label smoothing, real targets 0.9 in L_D (Salimans et al.
 *    2016): 0.27 with both;
 *  - He-uniform init of the generator's hidden layers (variance-preserving
 *    through leakyRelu, so the output depends on z from the first step) and
 *    leakyRelu hidden units (core/families/gan.ts): 0.22, spread 0.04.
 * Adam at lr 5e-4 instead of 2e-4 gave no gain (0.23).
 */
import * as tf from '@tensorflow/tfjs';
import { convOf, dataDim, isImageGan, paramShapes, type GanSpec, type NamedWeight, type Prng } from '../../core';
import { down, up } from './conv';
import { Adam, mlp, Params, post, pre } from './nn';
import type { TrainableModel } from './types';

export class Gan implements TrainableModel {
  private readonly p: Params;
  private optG?: Adam;
  private optD?: Adam;
  private lr = 2e-4;

  constructor(readonly spec: GanSpec, weights?: NamedWeight[], seed = 0) {
    this.p = new Params(paramShapes(spec), weights, seed, `gan ${spec.model}`);
  }

  weights(): NamedWeight[] { return this.p.snapshot(); }
  parameterCount(): number { return this.p.count(); }
  /** Image GANs: output bias = logit(per-pixel mean of the first rows in model space), clamped to [0.01, 0.99]. */
  initialize(x: tf.Tensor2D): void {
    if (!isImageGan(this.spec)) return;
    const conv = convOf(this.spec);
    const last = this.spec.generator.sizes.length - 2;
    tf.tidy(() => {
      // conv: the last deconv has one bias for every pixel, so it starts at the logit of the overall mean
      const m = tf.clipByValue(conv ? tf.mean(pre(this.spec.preprocess, x).y).reshape([1]) : tf.mean(pre(this.spec.preprocess, x).y, 0), 0.01, 0.99);
      this.p.get(conv ? `gen.deconv${conv.channels.length - 1}.b` : `gen.${last}.b`).assign(tf.sub(tf.log(m), tf.log(tf.sub(1, m))) as tf.Tensor1D);
    });
  }

  sample(z: tf.Tensor2D): { x: tf.Tensor2D } {
    return tf.tidy(() => ({ x: post(this.spec.preprocess, this.G(z)) }));
  }

  /** generator in model space (not tidied) */
  private G(z: tf.Tensor2D): tf.Tensor2D {
    const conv = convOf(this.spec);
    return conv ? up(this.p, 'gen', this.spec.shape, conv, this.spec.generator, z) : mlp(this.p, 'gen', this.spec.generator, z);
  }

  /** discriminator logit [N, 1] on model space (not tidied) */
  private D(y: tf.Tensor2D): tf.Tensor2D {
    const conv = convOf(this.spec);
    return conv ? down(this.p, 'disc', this.spec.shape, conv, this.spec.discriminator, y) : mlp(this.p, 'disc', this.spec.discriminator, y);
  }

  /** Discriminator logit for data-space x (exposed for tests and diagnostics). */
  discriminate(x: tf.Tensor2D): tf.Tensor1D {
    return tf.tidy(() => tf.reshape(this.D(pre(this.spec.preprocess, x).y), [-1]) as tf.Tensor1D);
  }

  private opts(): [Adam, Adam] {
    this.optD ??= new Adam(this.p.select('disc.'), this.lr, 'optD.', 0.5, 0.999);
    this.optG ??= new Adam(this.p.select('gen.'), this.lr, 'optG.', 0.5, 0.999);
    return [this.optD, this.optG];
  }

  trainStep(x: tf.Tensor2D, rng: Prng): Record<string, tf.Scalar> {
    const [optD, optG] = this.opts();
    const N = x.shape[0];
    const L = this.spec.latentDim;
    const t = isImageGan(this.spec) ? 0.9 : 1;
    const yReal = tf.tidy(() => pre(this.spec.preprocess, x).y);
    const z1 = tf.tensor2d(rng.normals(N * L), [N, L]);
    const lossD = optD.minimize(() => {
      const fake = this.G(z1);
      const dReal = this.D(yReal);
      const dFake = this.D(fake);
      // real target t (0.9 for images, one-sided smoothing): t softplus(-d) + (1 - t) softplus(d)
      const lossReal = t === 1 ? tf.softplus(tf.neg(dReal)) : tf.add(tf.mul(t, tf.softplus(tf.neg(dReal))), tf.mul(1 - t, tf.softplus(dReal)));
      return tf.add(tf.mean(lossReal), tf.mean(tf.softplus(dFake))) as tf.Scalar;
    });
    const z2 = tf.tensor2d(rng.normals(N * L), [N, L]);
    const lossG = optG.minimize(() => {
      const dFake = this.D(this.G(z2));
      return tf.mean(tf.softplus(tf.neg(dFake))) as tf.Scalar;
    });
    tf.dispose([yReal, z1, z2]);
    return { loss: tf.add(lossD, lossG) as tf.Scalar, lossD, lossG };
  }

  setLearningRate(lr: number): void {
    this.lr = lr;
    if (this.optD) this.optD.lr = lr;
    if (this.optG) this.optG.lr = lr;
  }
  optimizerState(): NamedWeight[] { return this.optD && this.optG ? [...this.optD.state(), ...this.optG.state()] : []; }
  loadOptimizerState(s: NamedWeight[]): void {
    const [d, g] = this.opts();
    d.load(s);
    g.load(s);
  }
  dispose(): void { this.p.dispose(); this.optD?.dispose(); this.optG?.dispose(); }
}
