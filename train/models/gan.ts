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
 */
import * as tf from '@tensorflow/tfjs';
import { dataDim, type GanSpec, type NamedWeight, type Prng } from '../../core';
import { Adam, mlp, mlpDecls, Params, post, pre, type ParamDecl } from './nn';
import type { TrainableModel } from './types';

export function ganDecls(spec: GanSpec): ParamDecl[] {
  const D = dataDim(spec);
  const L = spec.latentDim;
  if (spec.generator.sizes[0] !== L || spec.generator.sizes.at(-1) !== D) {
    throw new Error(`gan: generator sizes must run ${L} -> ... -> ${D}, got [${spec.generator.sizes}]`);
  }
  if (spec.discriminator.sizes[0] !== D || spec.discriminator.sizes.at(-1) !== 1) {
    throw new Error(`gan: discriminator sizes must run ${D} -> ... -> 1, got [${spec.discriminator.sizes}]`);
  }
  return [...mlpDecls('gen', spec.generator), ...mlpDecls('disc', spec.discriminator)];
}

export class Gan implements TrainableModel {
  private readonly p: Params;
  private optG?: Adam;
  private optD?: Adam;
  private lr = 2e-4;

  constructor(readonly spec: GanSpec, weights?: NamedWeight[], seed = 0) {
    this.p = new Params(ganDecls(spec), weights, seed, `gan ${spec.model}`);
  }

  weights(): NamedWeight[] { return this.p.snapshot(); }
  parameterCount(): number { return this.p.count(); }
  initialize(): void {}

  sample(z: tf.Tensor2D): { x: tf.Tensor2D } {
    return tf.tidy(() => ({ x: post(this.spec.preprocess, mlp(this.p, 'gen', this.spec.generator, z)) }));
  }

  /** Discriminator logit for data-space x (exposed for tests and diagnostics). */
  discriminate(x: tf.Tensor2D): tf.Tensor1D {
    return tf.tidy(() => tf.reshape(mlp(this.p, 'disc', this.spec.discriminator, pre(this.spec.preprocess, x).y), [-1]) as tf.Tensor1D);
  }

  private opts(): [Adam, Adam] {
    this.optD ??= new Adam(this.p.select('disc.'), this.lr, 'optD.', 0.5, 0.999);
    this.optG ??= new Adam(this.p.select('gen.'), this.lr, 'optG.', 0.5, 0.999);
    return [this.optD, this.optG];
  }

  trainStep(x: tf.Tensor2D, rng: Prng): Record<string, number> {
    const [optD, optG] = this.opts();
    const N = x.shape[0];
    const L = this.spec.latentDim;
    const yReal = tf.tidy(() => pre(this.spec.preprocess, x).y);
    const z1 = tf.tensor2d(rng.normals(N * L), [N, L]);
    const lossD = optD.minimize(() => {
      const fake = mlp(this.p, 'gen', this.spec.generator, z1);
      const dReal = mlp(this.p, 'disc', this.spec.discriminator, yReal);
      const dFake = mlp(this.p, 'disc', this.spec.discriminator, fake);
      return tf.add(tf.mean(tf.softplus(tf.neg(dReal))), tf.mean(tf.softplus(dFake))) as tf.Scalar;
    });
    const z2 = tf.tensor2d(rng.normals(N * L), [N, L]);
    const lossG = optG.minimize(() => {
      const dFake = mlp(this.p, 'disc', this.spec.discriminator, mlp(this.p, 'gen', this.spec.generator, z2));
      return tf.mean(tf.softplus(tf.neg(dFake))) as tf.Scalar;
    });
    tf.dispose([yReal, z1, z2]);
    return { loss: lossD + lossG, lossD, lossG };
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
