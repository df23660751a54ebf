/**
 * VAE with a Gaussian posterior q(z|y) and a Gaussian decoder p(y|z) on model
 * space y = pre(x) (Kingma & Welling 2014, https://arxiv.org/abs/1312.6114),
 * plus the importance-weighted bound of Burda et al. 2016
 * (https://arxiv.org/abs/1509.00519). The maths is core/spec.ts `VaeSpec`:
 *
 *   w_k  = log p(y|z_k) + log p(z_k) - log q(z_k|y) + logdet(pre),  z_k = mu + sigma eps_k
 *   ELBO = mean_k w_k            IWAE_K = logsumexp_k w_k - log K
 *
 * Both bound log p(x) from below and IWAE_K >= ELBO (Jensen), tightening as K grows.
 */
import * as tf from '@tensorflow/tfjs';
import { convOf, dataDim, paramShapes, VAE_LOGVAR_MAX, VAE_LOGVAR_MIN, VAE_MIN_LOG_WEIGHT, type NamedWeight, type Prng, type VaeSpec } from '../../core';
import { down, up } from './conv';
import { Adam, LOG_2PI, mlp, Params, post, pre, stdNormalLogProb } from './nn';
import type { TrainableModel } from './types';

export class Vae implements TrainableModel {
  private readonly p: Params;
  private opt?: Adam;
  private lr = 1e-3;

  constructor(readonly spec: VaeSpec, weights?: NamedWeight[], seed = 0) {
    this.p = new Params(paramShapes(spec), weights, seed, `vae ${spec.model}`);
  }

  weights(): NamedWeight[] { return this.p.snapshot(); }
  parameterCount(): number { return this.p.count(); }
  initialize(): void {}

  private logstd(): tf.Tensor1D {
    return tf.maximum(this.p.get('dec.logstd'), this.spec.minLogStd) as tf.Tensor1D;
  }

  encode(x: tf.Tensor2D): { mu: tf.Tensor2D; logvar: tf.Tensor2D } {
    return tf.tidy(() => {
      const { y } = pre(this.spec.preprocess, x);
      return this.encodeY(y);
    }) as { mu: tf.Tensor2D; logvar: tf.Tensor2D };
  }

  private encodeY(y: tf.Tensor2D): { mu: tf.Tensor2D; logvar: tf.Tensor2D } {
    const L = this.spec.latentDim;
    const conv = convOf(this.spec);
    const h = conv ? down(this.p, 'enc', this.spec.shape, conv, this.spec.encoder, y) : mlp(this.p, 'enc', this.spec.encoder, y);
    const [mu, raw] = tf.split(h, [L, L], 1) as [tf.Tensor2D, tf.Tensor2D];
    return { mu, logvar: tf.clipByValue(raw, VAE_LOGVAR_MIN, VAE_LOGVAR_MAX) as tf.Tensor2D };
  }

  /** decoder mean m(z) in model space. Not tidied: callers are. */
  private decode(z: tf.Tensor2D): tf.Tensor2D {
    const conv = convOf(this.spec);
    return conv ? up(this.p, 'dec', this.spec.shape, conv, this.spec.decoder, z) : mlp(this.p, 'dec', this.spec.decoder, z);
  }

  sample(z: tf.Tensor2D, noise?: tf.Tensor2D): { x: tf.Tensor2D; xMean: tf.Tensor2D } {
    return tf.tidy(() => {
      const m = this.decode(z);
      const xMean = post(this.spec.preprocess, m);
      const x = noise ? post(this.spec.preprocess, tf.add(m, tf.mul(tf.exp(this.logstd()), noise)) as tf.Tensor2D) : xMean.clone();
      return { x, xMean };
    });
  }

  /** w [N, K] of the file comment, for eps [N, K, L]. Not tidied: callers are. */
  private logWeights(x: tf.Tensor2D, eps: tf.Tensor3D): tf.Tensor2D {
    const [N, K, L] = eps.shape;
    if (L !== this.spec.latentDim) throw new Error(`vae: eps must be [N, K, ${this.spec.latentDim}], got [${eps.shape}]`);
    if (N !== x.shape[0]) throw new Error(`vae: eps has ${N} rows, x has ${x.shape[0]}`);
    const D = dataDim(this.spec);
    const { y, logdet } = pre(this.spec.preprocess, x);
    const { mu, logvar } = this.encodeY(y);
    const z = tf.add(tf.expandDims(mu, 1), tf.mul(tf.exp(tf.mul(0.5, tf.expandDims(logvar, 1))), eps)); // [N,K,L]
    const m = tf.reshape(this.decode(tf.reshape(z, [N * K, L]) as tf.Tensor2D), [N, K, D]);
    const logstd = this.logstd();
    const r = tf.div(tf.sub(tf.expandDims(y, 1), m), tf.exp(logstd));
    // log p(y|z) = sum_d [-0.5 log 2pi - logstd_d - 0.5 r_d^2]
    const logPyz = tf.sub(tf.sub(tf.mul(-0.5, tf.sum(tf.square(r), 2)), 0.5 * LOG_2PI * D), tf.sum(logstd));
    const logPz = stdNormalLogProb(z, 2);
    // log q(z|y) = sum_l [-0.5 log 2pi - 0.5 logvar_l - 0.5 eps_l^2]
    const logQ = tf.sub(tf.sub(tf.mul(-0.5, tf.sum(tf.square(eps), 2)), 0.5 * LOG_2PI * L), tf.expandDims(tf.mul(0.5, tf.sum(logvar, 1)), 1));
    return tf.maximum(tf.add(tf.sub(tf.add(logPyz, logPz), logQ), tf.expandDims(logdet, 1)), VAE_MIN_LOG_WEIGHT) as tf.Tensor2D;
  }

  density(x: tf.Tensor2D, eps?: tf.Tensor3D): { elbo: tf.Tensor1D; iwae: tf.Tensor1D } {
    if (!eps) throw new Error('vae: density needs eps [N, K, latentDim] (draw it from core/prng.ts)');
    return tf.tidy(() => {
      const w = this.logWeights(x, eps);
      const K = eps.shape[1];
      return { elbo: tf.mean(w, 1) as tf.Tensor1D, iwae: tf.sub(tf.logSumExp(w, 1), Math.log(K)) as tf.Tensor1D };
    });
  }

  /**
   * -mean_n w_n for one sample per row (K = 1), the training loss: the same
   * w as logWeights, rearranged so the graph has fewer ops (each op costs a
   * kernel dispatch forward and several backward, which on wasm weighed as
   * much as the arithmetic). With K = 1 everything stays 2-D, and the terms
   * without a parameter fold into one per-row constant computed from eps here:
   *
   *   w = c - 0.5 (sum_d r_d^2 + sum_l (z_l^2 - logvar_l)) - sum_d logstd_d
   *   c = logdet(pre) + 0.5 sum_l eps_l^2 - 0.5 D log 2pi
   *
   * (the 0.5 L log 2pi of log p(z) and log q(z|y) cancel). Equal to
   * -mean(logWeights(x, eps)) to float rounding, gradients too
   * (train/tests/vae.test.ts).
   */
  trainLoss(x: tf.Tensor2D, eps: Float32Array): tf.Scalar {
    const N = x.shape[0];
    const L = this.spec.latentDim;
    if (eps.length !== N * L) throw new Error(`vae: eps must hold ${N} x ${L} values, got ${eps.length}`);
    const D = dataDim(this.spec);
    const c = new Float32Array(N);
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let l = 0; l < L; l++) s += eps[n * L + l] ** 2;
      c[n] = 0.5 * s - 0.5 * LOG_2PI * D;
    }
    const { y, logdet } = pre(this.spec.preprocess, x);
    const { mu, logvar } = this.encodeY(y);
    const z = tf.add(mu, tf.mul(tf.exp(tf.mul(0.5, logvar)), tf.tensor2d(eps, [N, L]))) as tf.Tensor2D;
    const logstd = this.logstd();
    const r = tf.mul(tf.sub(y, this.decode(z)), tf.exp(tf.neg(logstd)));
    const q = tf.add(tf.sum(tf.square(r), 1), tf.sum(tf.sub(tf.square(z), logvar), 1));
    const w = tf.sub(tf.add(tf.add(logdet, tf.tensor1d(c)), tf.mul(-0.5, q)), tf.sum(logstd));
    return tf.neg(tf.mean(tf.maximum(w, VAE_MIN_LOG_WEIGHT))) as tf.Scalar;
  }

  /** Maximise the single-sample ELBO (the reparameterisation trick). */
  trainStep(x: tf.Tensor2D, rng: Prng): Record<string, tf.Scalar> {
    this.opt ??= new Adam(this.p.vars, this.lr);
    const eps = rng.normals(x.shape[0] * this.spec.latentDim);
    const loss = this.opt.minimize(() => this.trainLoss(x, eps));
    return { loss };
  }

  setLearningRate(lr: number): void { this.lr = lr; if (this.opt) this.opt.lr = lr; }
  optimizerState(): NamedWeight[] { return this.opt?.state() ?? []; }
  loadOptimizerState(s: NamedWeight[]): void { this.opt ??= new Adam(this.p.vars, this.lr); this.opt.load(s); }
  dispose(): void { this.p.dispose(); this.opt?.dispose(); }
}
