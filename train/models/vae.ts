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
 *
 * `likelihood: 'logistic'` swaps the decoder for PixelCNN++'s discretised
 * logistic on the 0..255 pixels (Salimans et al. 2017), a mass per pixel whose
 * scale depends on z; `conditional` feeds the one-hot label to both nets, and
 * density() then scores every class (the same eps for each) and mixes them
 * over the prior.
 */
import * as tf from '@tensorflow/tfjs';
import {
  classCount, convOf, dataDim, paramShapes, VAE_LOGVAR_MAX, VAE_LOGVAR_MIN, VAE_MIN_LOG_WEIGHT,
  type NamedWeight, type Prng, type VaeSpec,
} from '../../core';
import { VAE_PRIOR_MU } from '../../core/families/vae';
import { down, downHead, downTrunk, up } from './conv';
import { Adam, checkLabel, hybridStep, LOG_2PI, logisticLogMass, logisticNoise, logisticOf, mlp, Params, post, pre, stdNormalLogProb } from './nn';
import type { TrainableModel } from './types';

export class Vae implements TrainableModel {
  private readonly p: Params;
  private opt?: Adam;
  private lr = 1e-3;
  private readonly C: number;
  private readonly logistic: boolean;

  constructor(readonly spec: VaeSpec, weights?: NamedWeight[], seed = 0) {
    this.p = new Params(paramShapes(spec), weights, seed, `vae ${spec.model}`);
    this.C = classCount(spec);
    this.logistic = spec.likelihood === 'logistic';
  }

  weights(): NamedWeight[] { return this.p.snapshot(); }
  parameterCount(): number { return this.p.count(); }
  initialize(): void {}

  private logstd(): tf.Tensor1D {
    return tf.maximum(this.p.get('dec.logstd'), this.spec.minLogStd) as tf.Tensor1D;
  }

  private checkLabel(label: tf.Tensor2D | undefined, n: number): void {
    checkLabel('vae', 'a class-conditional VAE', this.C, label, n);
  }


  /** x -> posterior mean and log-variance; a conditional spec needs the label, q(z | x, label). */
  encode(x: tf.Tensor2D, label?: tf.Tensor2D): { mu: tf.Tensor2D; logvar: tf.Tensor2D } {
    this.checkLabel(label, x.shape[0]);
    return tf.tidy(() => {
      const { y } = pre(this.spec.preprocess, x);
      return this.encodeY(y, label);
    }) as { mu: tf.Tensor2D; logvar: tf.Tensor2D };
  }

  private encodeY(y: tf.Tensor2D, label?: tf.Tensor2D): { mu: tf.Tensor2D; logvar: tf.Tensor2D } {
    const L = this.spec.latentDim;
    const conv = convOf(this.spec);
    const h = conv
      ? down(this.p, 'enc', this.spec.shape, conv, this.spec.encoder, y, label)
      : mlp(this.p, 'enc', this.spec.encoder, label ? tf.concat([y, label], 1) : y);
    const [mu, raw] = tf.split(h, [L, L], 1) as [tf.Tensor2D, tf.Tensor2D];
    return { mu, logvar: tf.clipByValue(raw, VAE_LOGVAR_MIN, VAE_LOGVAR_MAX) as tf.Tensor2D };
  }

  /** The prior's mean of z for one-hot labels [M, C] (`classPrior`): [M, L]; undefined where the prior is N(0, I). Not tidied. */
  private priorMean(label?: tf.Tensor2D): tf.Tensor2D | undefined {
    return this.spec.classPrior && label ? tf.matMul(label, this.p.get(VAE_PRIOR_MU)) : undefined;
  }

  /**
   * `classPrior`: each class's prior mean starts at the mean of the encoder's
   * mu over that class's rows (under their own labels), where the encoder,
   * trained or not, already puts them; the training moves them from there.
   */
  initializeClasses(x: tf.Tensor2D, label: tf.Tensor2D): void {
    if (!this.spec.classPrior) return;
    this.checkLabel(label, x.shape[0]);
    tf.tidy(() => {
      const { mu } = this.encodeY(pre(this.spec.preprocess, x).y, label);
      const counts = tf.maximum(tf.sum(label, 0).reshape([-1, 1]), 1);
      this.p.get(VAE_PRIOR_MU).assign(tf.div(tf.matMul(label, mu, true, false), counts));
    });
  }

  /** The decoder's output for z [M, L] (and the label [M, C]): [M, D] Gaussian means, [M, 2D] logistic (a, b). Not tidied. */
  private decode(z: tf.Tensor2D, label?: tf.Tensor2D): tf.Tensor2D {
    const conv = convOf(this.spec);
    const input = label ? tf.concat([z, label], 1) : z;
    return conv ? up(this.p, 'dec', this.spec.shape, conv, this.spec.decoder, input, this.logistic ? 2 : 1) : mlp(this.p, 'dec', this.spec.decoder, input);
  }

  /** The logistic's mu and log s [M, D] from the decoder's output: MLP columns [a | b], conv channels (a, b) per pixel. Not tidied. */
  private logisticParams(out: tf.Tensor2D): { mu: tf.Tensor2D; logs: tf.Tensor2D } {
    const D = dataDim(this.spec);
    const M = out.shape[0];
    let a: tf.Tensor2D, b: tf.Tensor2D;
    if (convOf(this.spec)) {
      const [ca, cb] = tf.split(tf.reshape(out, [M, D, 2]), 2, 2);
      [a, b] = [tf.reshape(ca, [M, D]), tf.reshape(cb, [M, D])];
    } else {
      [a, b] = tf.split(out, 2, 1) as [tf.Tensor2D, tf.Tensor2D];
    }
    return logisticOf(a, b, this.spec.minLogStd);
  }

  sample(z: tf.Tensor2D, noise?: tf.Tensor2D, label?: tf.Tensor2D): { x: tf.Tensor2D; xMean: tf.Tensor2D } {
    this.checkLabel(label, z.shape[0]);
    return tf.tidy(() => {
      const m = this.priorMean(label);
      const out = this.decode(m ? tf.add(z, m) : z, label);
      if (this.logistic) {
        const { mu, logs } = this.logisticParams(out);
        const xMean = tf.clipByValue(mu, 0, 255) as tf.Tensor2D;
        const x = noise ? (tf.clipByValue(tf.add(mu, tf.mul(tf.exp(logs), logisticNoise(noise))), 0, 255) as tf.Tensor2D) : xMean.clone();
        return { x, xMean };
      }
      const xMean = post(this.spec.preprocess, out);
      const x = noise ? post(this.spec.preprocess, tf.add(out, tf.mul(tf.exp(this.logstd()), noise)) as tf.Tensor2D) : xMean.clone();
      return { x, xMean };
    });
  }

  /**
   * The encoder's answer for every row under every class, row n * C + c for
   * row n under class c: a conv encoder runs its trunk once per row and only
   * its last dense layer, where the label joins, per class. Not tidied.
   */
  private encodeEveryClass(y: tf.Tensor2D, labels: tf.Tensor2D): { mu: tf.Tensor2D; logvar: tf.Tensor2D } {
    const C = this.C;
    const tileRows = (t: tf.Tensor2D) => tf.reshape(tf.tile(tf.expandDims(t, 1), [1, C, 1]), [t.shape[0] * C, t.shape[1]]) as tf.Tensor2D;
    const conv = convOf(this.spec);
    if (!conv) return this.encodeY(tileRows(y), labels);
    const L = this.spec.latentDim;
    const trunk = downTrunk(this.p, 'enc', this.spec.shape, conv, this.spec.encoder, y);
    const [mu, raw] = tf.split(downHead(this.p, 'enc', this.spec.encoder, tileRows(trunk), labels), [L, L], 1) as [tf.Tensor2D, tf.Tensor2D];
    return { mu, logvar: tf.clipByValue(raw, VAE_LOGVAR_MIN, VAE_LOGVAR_MAX) as tf.Tensor2D };
  }

  /** w [N, K] of the file comment, for eps [N, K, L] (and the label [N, C]); `enc`, the encoder's answer when the caller has it. Not tidied: callers are. */
  private logWeights(x: tf.Tensor2D, eps: tf.Tensor3D, label?: tf.Tensor2D, enc?: { mu: tf.Tensor2D; logvar: tf.Tensor2D }): tf.Tensor2D {
    const [N, K, L] = eps.shape;
    if (L !== this.spec.latentDim) throw new Error(`vae: eps must be [N, K, ${this.spec.latentDim}], got [${eps.shape}]`);
    if (N !== x.shape[0]) throw new Error(`vae: eps has ${N} rows, x has ${x.shape[0]}`);
    const D = dataDim(this.spec);
    const { y, logdet } = pre(this.spec.preprocess, x);
    const { mu, logvar } = enc ?? this.encodeY(y, label);
    const z = tf.add(tf.expandDims(mu, 1), tf.mul(tf.exp(tf.mul(0.5, tf.expandDims(logvar, 1))), eps)); // [N,K,L]
    // each of the K latents of a row decodes with that row's label
    const labels = label ? (tf.reshape(tf.tile(tf.expandDims(label, 1), [1, K, 1]), [N * K, this.C]) as tf.Tensor2D) : undefined;
    const out = this.decode(tf.reshape(z, [N * K, L]) as tf.Tensor2D, labels);
    const prior = this.priorMean(label);
    const logPz = stdNormalLogProb(prior ? tf.sub(z, tf.expandDims(prior, 1)) : z, 2);
    // log q(z|y) = sum_l [-0.5 log 2pi - 0.5 logvar_l - 0.5 eps_l^2]
    const logQ = tf.sub(tf.sub(tf.mul(-0.5, tf.sum(tf.square(eps), 2)), 0.5 * LOG_2PI * L), tf.expandDims(tf.mul(0.5, tf.sum(logvar, 1)), 1));
    if (this.logistic) {
      // a mass of x's pixels, already a density of dequantised x: no logdet(pre)
      const { mu: m, logs } = this.logisticParams(out);
      const logPx = tf.sum(logisticLogMass(tf.expandDims(x, 1), tf.reshape(m, [N, K, D]), tf.reshape(logs, [N, K, D])), 2);
      return tf.maximum(tf.sub(tf.add(logPx, logPz), logQ), VAE_MIN_LOG_WEIGHT) as tf.Tensor2D;
    }
    const m = tf.reshape(out, [N, K, D]);
    const logstd = this.logstd();
    const r = tf.div(tf.sub(tf.expandDims(y, 1), m), tf.exp(logstd));
    // log p(y|z) = sum_d [-0.5 log 2pi - logstd_d - 0.5 r_d^2]
    const logPyz = tf.sub(tf.sub(tf.mul(-0.5, tf.sum(tf.square(r), 2)), 0.5 * LOG_2PI * D), tf.sum(logstd));
    return tf.maximum(tf.add(tf.sub(tf.add(logPyz, logPz), logQ), tf.expandDims(logdet, 1)), VAE_MIN_LOG_WEIGHT) as tf.Tensor2D;
  }

  /**
   * ELBO and IWAE of every row. Conditional: each row is scored under every
   * class with the same eps, giving `elboy` and `iwaey` [N, C] (bounds on
   * log p(x | y)), and `elbo` / `iwae` are logsumexp_y (log p(y) + value_y), still
   * bounds on log p(x), the mixture of core/protocol.ts `classMarginal`.
   */
  density(x: tf.Tensor2D, eps?: tf.Tensor3D): { elbo: tf.Tensor1D; iwae: tf.Tensor1D; elboy?: tf.Tensor2D; iwaey?: tf.Tensor2D } {
    if (!eps) throw new Error('vae: density needs eps [N, K, latentDim] (draw it from core/prng.ts)');
    const K = eps.shape[1];
    if (!this.C) {
      return tf.tidy(() => {
        const w = this.logWeights(x, eps);
        return { elbo: tf.mean(w, 1) as tf.Tensor1D, iwae: tf.sub(tf.logSumExp(w, 1), Math.log(K)) as tf.Tensor1D };
      });
    }
    const C = this.C;
    const prior = this.spec.conditional!.prior;
    return tf.tidy(() => {
      const w = this.classLogWeights(x, eps);
      const elboy = tf.mean(w, 2) as tf.Tensor2D;
      const iwaey = tf.sub(tf.logSumExp(w, 2), Math.log(K)) as tf.Tensor2D;
      const logPrior = tf.tensor1d(prior.map((p) => Math.log(p)));
      const mix = (v: tf.Tensor2D) => tf.logSumExp(tf.add(v, logPrior), 1) as tf.Tensor1D;
      return { elbo: mix(elboy), iwae: mix(iwaey), elboy, iwaey };
    });
  }

  /** w [N, C, K]: every row under every class, with the same eps [N, K, L] for each. Not tidied. */
  private classLogWeights(x: tf.Tensor2D, eps: tf.Tensor3D): tf.Tensor3D {
    const C = this.C;
    const [N, D] = x.shape;
    const [K, L] = [eps.shape[1], eps.shape[2]];
    // row n * C + c: row n under class c
    const xs = tf.reshape(tf.tile(tf.expandDims(x, 1), [1, C, 1]), [N * C, D]) as tf.Tensor2D;
    const labels = tf.reshape(tf.tile(tf.expandDims(tf.eye(C), 0), [N, 1, 1]), [N * C, C]) as tf.Tensor2D;
    const epss = tf.reshape(tf.tile(tf.expandDims(eps, 1), [1, C, 1, 1]), [N * C, K, L]) as tf.Tensor3D;
    const enc = this.encodeEveryClass(pre(this.spec.preprocess, x).y, labels);
    return tf.reshape(this.logWeights(xs, epss, labels, enc), [N, C, K]) as tf.Tensor3D;
  }

  /**
   * -mean_n w_n for one sample per row (K = 1), the training loss. For the
   * Gaussian decoder, the same w as logWeights, rearranged so the graph has
   * fewer ops (each op costs a kernel dispatch forward and several backward,
   * which on wasm weighed as much as the arithmetic). With K = 1 everything
   * stays 2-D, and the terms without a parameter fold into one per-row
   * constant computed from eps here:
   *
   *   w = c - 0.5 (sum_d r_d^2 + sum_l (z_l^2 - logvar_l)) - sum_d logstd_d
   *   c = logdet(pre) + 0.5 sum_l eps_l^2 - 0.5 D log 2pi
   *
   * (the 0.5 L log 2pi of log p(z) and log q(z|y) cancel). Equal to
   * -mean(logWeights(x, eps)) to float rounding, gradients too
   * (train/tests/vae.test.ts). The logistic decoder takes logWeights as it is.
   */
  trainLoss(x: tf.Tensor2D, eps: Float32Array, label?: tf.Tensor2D): tf.Scalar {
    const N = x.shape[0];
    const L = this.spec.latentDim;
    if (eps.length !== N * L) throw new Error(`vae: eps must hold ${N} x ${L} values, got ${eps.length}`);
    this.checkLabel(label, N);
    if (this.logistic) return tf.neg(tf.mean(this.logWeights(x, tf.tensor3d(eps, [N, 1, L]), label))) as tf.Scalar;
    const D = dataDim(this.spec);
    const c = new Float32Array(N);
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let l = 0; l < L; l++) s += eps[n * L + l] ** 2;
      c[n] = 0.5 * s - 0.5 * LOG_2PI * D;
    }
    const { y, logdet } = pre(this.spec.preprocess, x);
    const { mu, logvar } = this.encodeY(y, label);
    const z = tf.add(mu, tf.mul(tf.exp(tf.mul(0.5, logvar)), tf.tensor2d(eps, [N, L]))) as tf.Tensor2D;
    const logstd = this.logstd();
    const r = tf.mul(tf.sub(y, this.decode(z, label)), tf.exp(tf.neg(logstd)));
    const prior = this.priorMean(label);
    const q = tf.add(tf.sum(tf.square(r), 1), tf.sum(tf.sub(tf.square(prior ? tf.sub(z, prior) : z), logvar), 1));
    const w = tf.sub(tf.add(tf.add(logdet, tf.tensor1d(c)), tf.mul(-0.5, q)), tf.sum(logstd));
    return tf.neg(tf.mean(tf.maximum(w, VAE_MIN_LOG_WEIGHT))) as tf.Scalar;
  }

  /**
   * Maximise the single-sample ELBO (the reparameterisation trick); a
   * conditional spec's with the batch's labels. With a label weight w > 0 (the
   * hybrid objective of train/models/flow.ts), each row's ELBO is taken under
   * every class with one eps, and the loss adds w x the cross-entropy of the
   * posterior those ELBOs give, softmax_y(ELBO_y + log p(y)): what /classify
   * computes, so training pushes the wrong classes' bounds down. It costs a
   * decoder pass per class.
   */
  trainStep(x: tf.Tensor2D, rng: Prng, label?: tf.Tensor2D): Record<string, tf.Scalar> {
    this.opt ??= new Adam(this.p.vars, this.lr);
    const [N, L] = [x.shape[0], this.spec.latentDim];
    const eps = rng.normals(N * L);
    if (!this.labelWeight) return { loss: this.opt.minimize(() => this.trainLoss(x, eps, label)) };
    this.checkLabel(label, N);
    const y = label!;
    return hybridStep(this.opt, this.labelWeight, y, this.spec.conditional!.prior, () => {
      const w = tf.reshape(this.classLogWeights(x, tf.tensor3d(eps, [N, 1, L])), [N, this.C]) as tf.Tensor2D;
      return { nll: tf.neg(tf.mean(tf.sum(tf.mul(w, y), 1))) as tf.Scalar, scores: w };
    });
  }

  private labelWeight = 0;
  /** The hybrid objective's weight on the label's cross-entropy (0: likelihood alone). */
  setLabelWeight(w: number): void {
    if (!this.C) throw new Error('vae: a label weight needs a class-conditional model (--conditional)');
    this.labelWeight = w;
  }

  setLearningRate(lr: number): void { this.lr = lr; if (this.opt) this.opt.lr = lr; }
  optimizerState(): NamedWeight[] { return this.opt?.state() ?? []; }
  loadOptimizerState(s: NamedWeight[]): void { this.opt ??= new Adam(this.p.vars, this.lr); this.opt.load(s); }
  dispose(): void { this.p.dispose(); this.opt?.dispose(); }
}
