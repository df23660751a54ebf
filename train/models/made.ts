/**
 * MADE, a masked autoencoder for distribution estimation (Germain et al. 2015,
 * https://arxiv.org/abs/1502.03509), with Gaussian conditionals, exactly as
 * core/spec.ts `MadeSpec`:
 *
 *   [mu, alpha'] = masked MLP(y),  alpha = max(alpha', minLogStd)
 *   log p(y) = sum_d [-0.5 log 2pi - alpha_d - 0.5 ((y_d - mu_d) exp(-alpha_d))^2]
 *
 * Seen as a step (train/models/steps.ts), forward y -> u = (y - mu) exp(-alpha)
 * with log-det -sum alpha is a one-step MAF (Papamakarios et al. 2017,
 * https://arxiv.org/abs/1705.07057); its inverse is sampling, D passes.
 */
import * as tf from '@tensorflow/tfjs';
import { dataDim, madeMasks, madeNet, paramShapes, type MadeSpec, type MlpSpec, type NamedWeight, type Prng } from '../../core';
import { activate, Adam, Params, post, pre, stdNormalLogProb } from './nn';
import type { FlowStep, StepOut } from './steps';
import type { TrainableModel } from './types';

/** The autoregressive step: u = (y - mu(y)) exp(-alpha(y)); inverse by D passes. */
export class AutoregressiveStep implements FlowStep {
  private readonly masks: tf.Tensor2D[];
  constructor(private readonly p: Params, private readonly spec: MadeSpec, private readonly net: MlpSpec = madeNet(spec)) {
    this.masks = madeMasks(spec).map((m, i) => tf.tensor2d(m, [net.sizes[i], net.sizes[i + 1]]));
  }

  /** mu and alpha of every dimension, each depending on y_<d only. Not tidied. */
  conditionals(y: tf.Tensor2D): { mu: tf.Tensor2D; alpha: tf.Tensor2D } {
    const n = this.net.sizes.length - 1;
    let h: tf.Tensor2D = y;
    for (let i = 0; i < n; i++) {
      const W = tf.mul(this.p.get(`made.${i}.W`), this.masks[i]);
      h = activate(tf.add(tf.matMul(h, W), this.p.get(`made.${i}.b`)), i + 1 === n ? this.net.output : this.net.hidden) as tf.Tensor2D;
    }
    const D = dataDim(this.spec);
    const [mu, a] = tf.split(h, [D, D], 1) as [tf.Tensor2D, tf.Tensor2D];
    return { mu, alpha: tf.maximum(a, this.spec.minLogStd) as tf.Tensor2D };
  }

  forward(y: tf.Tensor2D): StepOut {
    const { mu, alpha } = this.conditionals(y);
    return { y: tf.mul(tf.sub(y, mu), tf.exp(tf.neg(alpha))) as tf.Tensor2D, logdet: tf.neg(tf.sum(alpha, 1)) as tf.Tensor1D };
  }

  /** One pass of sampling: y' = mu(y) + exp(alpha(y)) u; dimensions < d + 1 of y' are final once those < d of y are. */
  pass(y: tf.Tensor2D, u: tf.Tensor2D): { y: tf.Tensor2D; alpha: tf.Tensor2D } {
    const { mu, alpha } = this.conditionals(y);
    return { y: tf.add(mu, tf.mul(tf.exp(alpha), u)) as tf.Tensor2D, alpha };
  }

  inverse(u: tf.Tensor2D): StepOut {
    let y: tf.Tensor2D = tf.zerosLike(u);
    let alpha: tf.Tensor2D = tf.zerosLike(u);
    for (let d = 0; d < dataDim(this.spec); d++) ({ y, alpha } = this.pass(y, u));
    return { y, logdet: tf.sum(alpha, 1) as tf.Tensor1D };
  }

  dispose(): void {
    tf.dispose(this.masks);
  }
}

export class Made implements TrainableModel {
  private readonly p: Params;
  readonly step: AutoregressiveStep;
  private opt?: Adam;
  private lr = 1e-3;

  constructor(readonly spec: MadeSpec, weights?: NamedWeight[], seed = 0) {
    this.p = new Params(paramShapes(spec), weights, seed, `made ${spec.model}`);
    this.step = new AutoregressiveStep(this.p, spec);
  }

  weights(): NamedWeight[] { return this.p.snapshot(); }
  parameterCount(): number { return this.p.count(); }
  initialize(): void {}

  private logProb(x: tf.Tensor2D): tf.Tensor1D {
    const { y, logdet: ldPre } = pre(this.spec.preprocess, x);
    const { y: u, logdet } = this.step.forward(y);
    return tf.add(tf.add(stdNormalLogProb(u, 1), logdet), ldPre) as tf.Tensor1D;
  }

  density(x: tf.Tensor2D): { logp: tf.Tensor1D } {
    return { logp: tf.tidy(() => this.logProb(x)) };
  }

  /** z [N, D] -> x: y_d = mu_d + exp(alpha_d) z_d in D sequential passes. */
  sample(z: tf.Tensor2D): { x: tf.Tensor2D } {
    return {
      x: tf.tidy(() => {
        let y: tf.Tensor2D = tf.zerosLike(z);
        for (let d = 0; d < dataDim(this.spec); d++) {
          const next = tf.tidy(() => this.step.pass(y, z).y);
          y.dispose();
          y = next;
        }
        return post(this.spec.preprocess, y);
      }),
    };
  }

  /** Exact maximum likelihood: minimise the mean negative log-density. */
  trainStep(x: tf.Tensor2D, _rng: Prng): Record<string, tf.Scalar> {
    this.opt ??= new Adam(this.p.vars, this.lr);
    return { loss: this.opt.minimize(() => tf.neg(tf.mean(this.logProb(x))) as tf.Scalar) };
  }

  setLearningRate(lr: number): void { this.lr = lr; if (this.opt) this.opt.lr = lr; }
  optimizerState(): NamedWeight[] { return this.opt?.state() ?? []; }
  loadOptimizerState(s: NamedWeight[]): void { this.opt ??= new Adam(this.p.vars, this.lr); this.opt.load(s); }
  dispose(): void { this.p.dispose(); this.opt?.dispose(); this.step.dispose(); }
}
