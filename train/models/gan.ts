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
 *
 * A spec with a `recipe` (the conditional DCGAN's default) trains the way
 * small-budget GANs are trained now: the hinge loss, spectral norm on every
 * discriminator weight (its `sn.*` power-iteration vectors are saved, so a
 * resumed run continues the iteration), Adam with betas (0, 0.9), and the
 * shipped generator `gen.*` an exponential moving average of the trained one
 * (`raw.gen.*`). Conditional specs feed the batch's labels to both nets (the
 * projection discriminator of core/spec.ts `GanSpec`).
 */
import * as tf from '@tensorflow/tfjs';
import { classCount, convOf, dataDim, isImageGan, paramShapes, snName, type GanSpec, type NamedWeight, type Prng } from '../../core';
import { down, downWithFeatures, up, type Weights } from './conv';
import { Adam, mlp, Params, post, pre } from './nn';
import type { TrainableModel } from './types';

export class Gan implements TrainableModel {
  private readonly p: Params;
  private optG?: Adam;
  private optD?: Adam;
  private lr = 2e-4;
  /** the prefix of the generator that training updates: `raw.gen` when `gen` is its average */
  private readonly trained: string;

  constructor(readonly spec: GanSpec, weights?: NamedWeight[], seed = 0) {
    this.p = new Params(paramShapes(spec), weights, seed, `gan ${spec.model}`);
    this.trained = spec.recipe?.ema !== undefined ? 'raw.gen' : 'gen';
    // a fresh average starts at the trained generator
    if (!weights && this.trained !== 'gen') this.copyTrainedToAverage(1);
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
      this.p.get(conv ? `${this.trained}.deconv${conv.channels.length - 1}.b` : `${this.trained}.${last}.b`).assign(tf.sub(tf.log(m), tf.log(tf.sub(1, m))) as tf.Tensor1D);
    });
    if (this.trained !== 'gen') this.copyTrainedToAverage(1);
  }

  sample(z: tf.Tensor2D, _noise?: tf.Tensor2D, label?: tf.Tensor2D): { x: tf.Tensor2D } {
    return tf.tidy(() => ({ x: post(this.spec.preprocess, this.G(this.p, 'gen', z, label)) }));
  }

  /** z [N, L], plus the label [N, C] for a conditional spec: the generator's input. */
  private input(z: tf.Tensor2D, label?: tf.Tensor2D): tf.Tensor2D {
    const C = classCount(this.spec);
    if (!C) {
      if (label) throw new Error('gan: this model is not class-conditional; it takes no label');
      return z;
    }
    if (!label || label.shape[1] !== C) throw new Error(`gan: a class-conditional generator needs one-hot labels [N, ${C}]`);
    return tf.concat([z, label], 1);
  }

  /** generator in model space (not tidied), with the weights under `prefix` */
  private G(w: Weights, prefix: string, z: tf.Tensor2D, label?: tf.Tensor2D): tf.Tensor2D {
    const conv = convOf(this.spec);
    const h = this.input(z, label);
    return conv ? up(w, prefix, this.spec.shape, conv, this.spec.generator, h) : mlp(this.p, prefix, this.spec.generator, h);
  }

  /** discriminator logit [N, 1] on model space (not tidied); `w` may hold spectrally normalised weights */
  private D(y: tf.Tensor2D, label?: tf.Tensor2D, w: Weights = this.p): tf.Tensor2D {
    const conv = convOf(this.spec);
    if (!conv) return mlp(this.p, 'disc', this.spec.discriminator, y);
    if (!label) return down(w, 'disc', this.spec.shape, conv, this.spec.discriminator, y);
    // projection: + <h, label embed>
    const { out, features } = downWithFeatures(w, 'disc', this.spec.shape, conv, this.spec.discriminator, y);
    return tf.add(out, tf.sum(tf.mul(features, tf.matMul(label, this.p.get('disc.embed'))), 1, true));
  }

  /** Discriminator logit for data-space x (exposed for tests and diagnostics). */
  discriminate(x: tf.Tensor2D, label?: tf.Tensor2D): tf.Tensor1D {
    const vecs = this.powerIteration();
    try {
      return tf.tidy(() => tf.reshape(this.D(pre(this.spec.preprocess, x).y, label, this.normalised(vecs)), [-1]) as tf.Tensor1D);
    } finally {
      for (const { u, v } of vecs.values()) tf.dispose([u, v]);
    }
  }

  /**
   * Spectral norm, step 1: one power iteration per discriminator weight W (as a
   * matrix M [fan-in, out]) from its saved vector u: v = M u / |M u|,
   * u' = M^T v / |M^T v|; u' is saved for the next step. Computed outside the
   * optimizer's gradient, so u and v are constants to it. Empty without the recipe.
   */
  private powerIteration(): Map<string, { u: tf.Tensor2D; v: tf.Tensor2D }> {
    const vecs = new Map<string, { u: tf.Tensor2D; v: tf.Tensor2D }>();
    if (!this.spec.recipe?.spectralNorm) return vecs;
    for (const [name, W] of this.p.select('disc.')) {
      if (!name.endsWith('.W')) continue;
      const uVar = this.p.get(snName(name));
      const out = W.shape.at(-1)!;
      const [u, v] = tf.tidy(() => {
        const M = tf.reshape(W, [-1, out]);
        const mv = tf.matMul(M, tf.reshape(uVar, [out, 1]));
        const vn = tf.div(mv, tf.add(tf.norm(mv), 1e-12)) as tf.Tensor2D;
        const mu = tf.matMul(M, vn, true, false);
        return [tf.div(mu, tf.add(tf.norm(mu), 1e-12)) as tf.Tensor2D, vn];
      });
      uVar.assign(tf.reshape(u, [out]) as tf.Tensor1D);
      vecs.set(name, { u, v });
    }
    return vecs;
  }

  /** Spectral norm, step 2: the weights with every W divided by sigma = v^T M u (W keeps its gradient through sigma). */
  private normalised(vecs: Map<string, { u: tf.Tensor2D; v: tf.Tensor2D }>): Weights {
    if (!vecs.size) return this.p;
    const swapped = new Map<string, tf.Tensor>();
    for (const [name, { u, v }] of vecs) {
      const W = this.p.get(name);
      swapped.set(name, tf.div(W, tf.sum(tf.mul(v, tf.matMul(tf.reshape(W, [-1, W.shape.at(-1)!]), u)))));
    }
    return { get: (name: string) => swapped.get(name) ?? this.p.get(name) };
  }

  /** gen = a gen + (1 - a) raw.gen, for every generator weight (a = 1 - `mix`). */
  private copyTrainedToAverage(mix: number): void {
    tf.tidy(() => {
      for (const [name, avg] of this.p.select('gen.')) {
        const raw = this.p.get(`raw.${name}`);
        avg.assign(mix === 1 ? raw : tf.add(tf.mul(1 - mix, avg), tf.mul(mix, raw)));
      }
    });
  }

  private opts(): [Adam, Adam] {
    const b1 = this.spec.recipe ? 0 : 0.5;
    const b2 = this.spec.recipe ? 0.9 : 0.999;
    // spectral-norm vectors are not trained: the discriminator's Adam takes disc.* only
    this.optD ??= new Adam(this.p.select('disc.'), this.lr, 'optD.', b1, b2);
    this.optG ??= new Adam(this.p.select(`${this.trained}.`), this.lr, 'optG.', b1, b2);
    return [this.optD, this.optG];
  }

  trainStep(x: tf.Tensor2D, rng: Prng, label?: tf.Tensor2D): Record<string, tf.Scalar> {
    const [optD, optG] = this.opts();
    const N = x.shape[0];
    const L = this.spec.latentDim;
    const hinge = this.spec.recipe?.loss === 'hinge';
    const t = isImageGan(this.spec) && !hinge ? 0.9 : 1;
    const yReal = tf.tidy(() => pre(this.spec.preprocess, x).y);
    const z1 = tf.tensor2d(rng.normals(N * L), [N, L]);
    const vecs = this.powerIteration();
    const lossD = optD.minimize(() => {
      const w = this.normalised(vecs);
      const fake = this.G(this.p, this.trained, z1, label);
      const dReal = this.D(yReal, label, w);
      const dFake = this.D(fake, label, w);
      if (hinge) return tf.add(tf.mean(tf.relu(tf.sub(1, dReal))), tf.mean(tf.relu(tf.add(1, dFake)))) as tf.Scalar;
      // real target t (0.9 for images, one-sided smoothing): t softplus(-d) + (1 - t) softplus(d)
      const lossReal = t === 1 ? tf.softplus(tf.neg(dReal)) : tf.add(tf.mul(t, tf.softplus(tf.neg(dReal))), tf.mul(1 - t, tf.softplus(dReal)));
      return tf.add(tf.mean(lossReal), tf.mean(tf.softplus(dFake))) as tf.Scalar;
    });
    const z2 = tf.tensor2d(rng.normals(N * L), [N, L]);
    const lossG = optG.minimize(() => {
      const dFake = this.D(this.G(this.p, this.trained, z2, label), label, this.normalised(vecs));
      return (hinge ? tf.neg(tf.mean(dFake)) : tf.mean(tf.softplus(tf.neg(dFake)))) as tf.Scalar;
    });
    if (this.spec.recipe?.ema !== undefined) this.copyTrainedToAverage(1 - this.spec.recipe.ema);
    for (const { u, v } of vecs.values()) tf.dispose([u, v]);
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
