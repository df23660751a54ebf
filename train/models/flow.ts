/**
 * Coupling flows: NICE (Dinh et al. 2014, https://arxiv.org/abs/1410.8516) and
 * RealNVP (Dinh et al. 2016, https://arxiv.org/abs/1605.08803), exactly as
 * core/spec.ts `FlowSpec`. Each step, data -> latent:
 *
 *   actnorm  y <- y exp(logs) + bias                         logdet += sum logs
 *   h = net(y m)           (m = 1 passes through and conditions the rest)
 *   nice     y <- y + (1 - m) h                                logdet += 0
 *   realnvp  s = scale tanh(h[:, :D]), t = h[:, D:]
 *            y <- m y + (1 - m)(y exp(s) + t)                 logdet += sum (1 - m) s
 *   final    z = y exp(final.logs)                             logdet += sum final.logs
 *
 * log p(x) = log N(z; 0, I) + logdet(steps) + logdet(pre). The inverse runs the
 * steps backwards; since the conditioning half is unchanged by a step, h can
 * be recomputed from the output, which makes the inverse exact.
 *
 * Weight shapes: step{l}.net.{i}.W/b (MLP [D, ...hidden, D or 2D], output
 * linear, last layer zero so every step starts as the identity),
 * step{l}.scale [D] (init 1), step{l}.an.logs/bias [D], final.logs [D].
 */
import * as tf from '@tensorflow/tfjs';
import { dataDim, type FlowSpec, type MlpSpec, type NamedWeight, type Prng } from '../../core';
import { Adam, mlp, mlpDecls, ones, Params, post, pre, stdNormalLogProb, zeros, type ParamDecl } from './nn';
import type { TrainableModel } from './types';

export function couplingNet(spec: FlowSpec): MlpSpec {
  const D = dataDim(spec);
  return { sizes: [D, ...spec.hidden, spec.coupling === 'affine' ? 2 * D : D], hidden: spec.activation, output: 'linear' };
}

export function flowDecls(spec: FlowSpec): ParamDecl[] {
  const D = dataDim(spec);
  if (spec.masks.length !== spec.steps || spec.masks.some((m) => m.length !== D)) {
    throw new Error(`flow: need ${spec.steps} masks of length ${D}`);
  }
  const out: ParamDecl[] = [];
  for (let l = 0; l < spec.steps; l++) {
    if (spec.actnorm) {
      out.push({ name: `step${l}.an.logs`, shape: [D], init: zeros }, { name: `step${l}.an.bias`, shape: [D], init: zeros });
    }
    out.push(...mlpDecls(`step${l}.net`, couplingNet(spec), true));
    if (spec.coupling === 'affine') out.push({ name: `step${l}.scale`, shape: [D], init: ones });
  }
  if (spec.finalScale) out.push({ name: 'final.logs', shape: [D], init: zeros });
  return out;
}

export class Flow implements TrainableModel {
  private readonly p: Params;
  private readonly masks: tf.Tensor2D[];
  private readonly net: MlpSpec;
  private opt?: Adam;
  private lr = 1e-3;

  constructor(readonly spec: FlowSpec, weights?: NamedWeight[], seed = 0) {
    this.p = new Params(flowDecls(spec), weights, seed, `flow ${spec.model}`);
    this.masks = spec.masks.map((m) => tf.tensor2d(m, [1, m.length]));
    this.net = couplingNet(spec);
  }

  weights(): NamedWeight[] { return this.p.snapshot(); }
  parameterCount(): number { return this.p.count(); }

  /** shift t and log-scale s (zero for NICE) of step l, from the conditioning half. */
  private st(l: number, y: tf.Tensor2D): { s?: tf.Tensor2D; t: tf.Tensor2D } {
    const D = dataDim(this.spec);
    const h = mlp(this.p, `step${l}.net`, this.net, tf.mul(y, this.masks[l]) as tf.Tensor2D);
    if (this.spec.coupling === 'additive') return { t: h };
    const [hs, t] = tf.split(h, [D, D], 1) as [tf.Tensor2D, tf.Tensor2D];
    return { s: tf.mul(this.p.get(`step${l}.scale`), tf.tanh(hs)) as tf.Tensor2D, t };
  }

  /** y (model space) -> z with the summed log-determinant [N]. Not tidied. */
  private forward(y0: tf.Tensor2D): { z: tf.Tensor2D; logdet: tf.Tensor1D } {
    let y = y0;
    let logdet: tf.Tensor = tf.zeros([y0.shape[0]]);
    for (let l = 0; l < this.spec.steps; l++) {
      if (this.spec.actnorm) {
        const logs = this.p.get(`step${l}.an.logs`);
        y = tf.add(tf.mul(y, tf.exp(logs)), this.p.get(`step${l}.an.bias`)) as tf.Tensor2D;
        logdet = tf.add(logdet, tf.sum(logs));
      }
      const inv = tf.sub(1, this.masks[l]);
      const { s, t } = this.st(l, y);
      if (s) {
        y = tf.add(tf.mul(this.masks[l], y), tf.mul(inv, tf.add(tf.mul(y, tf.exp(s)), t))) as tf.Tensor2D;
        logdet = tf.add(logdet, tf.sum(tf.mul(inv, s), 1));
      } else {
        y = tf.add(y, tf.mul(inv, t)) as tf.Tensor2D;
      }
    }
    if (this.spec.finalScale) {
      const logs = this.p.get('final.logs');
      y = tf.mul(y, tf.exp(logs)) as tf.Tensor2D;
      logdet = tf.add(logdet, tf.sum(logs));
    }
    return { z: y, logdet: logdet as tf.Tensor1D };
  }

  private logProb(x: tf.Tensor2D): tf.Tensor1D {
    const { y, logdet: ldPre } = pre(this.spec.preprocess, x);
    const { z, logdet } = this.forward(y);
    return tf.add(tf.add(stdNormalLogProb(z, 1), logdet), ldPre) as tf.Tensor1D;
  }

  density(x: tf.Tensor2D): { logp: tf.Tensor1D } {
    return { logp: tf.tidy(() => this.logProb(x)) };
  }

  encode(x: tf.Tensor2D): { z: tf.Tensor2D } {
    return { z: tf.tidy(() => this.forward(pre(this.spec.preprocess, x).y).z) };
  }

  /** z -> data space, undoing the steps in reverse order. */
  sample(z: tf.Tensor2D): { x: tf.Tensor2D } {
    return {
      x: tf.tidy(() => {
        let y = z;
        if (this.spec.finalScale) y = tf.mul(y, tf.exp(tf.neg(this.p.get('final.logs')))) as tf.Tensor2D;
        for (let l = this.spec.steps - 1; l >= 0; l--) {
          const inv = tf.sub(1, this.masks[l]);
          const { s, t } = this.st(l, y); // y*m is unchanged by step l
          if (s) y = tf.add(tf.mul(this.masks[l], y), tf.mul(inv, tf.mul(tf.sub(y, t), tf.exp(tf.neg(s))))) as tf.Tensor2D;
          else y = tf.sub(y, tf.mul(inv, t)) as tf.Tensor2D;
          if (this.spec.actnorm) {
            y = tf.mul(tf.sub(y, this.p.get(`step${l}.an.bias`)), tf.exp(tf.neg(this.p.get(`step${l}.an.logs`)))) as tf.Tensor2D;
          }
        }
        return post(this.spec.preprocess, y);
      }),
    };
  }

  /**
   * Actnorm's data-dependent init (Kingma & Dhariwal 2018, Glow): run the first
   * batch through the flow and set each actnorm so its output has zero mean and
   * unit variance per dimension.
   */
  initialize(x: tf.Tensor2D): void {
    if (!this.spec.actnorm) return;
    tf.tidy(() => {
      let y = pre(this.spec.preprocess, x).y;
      for (let l = 0; l < this.spec.steps; l++) {
        const { mean, variance } = tf.moments(y, 0);
        const logs = tf.neg(tf.mul(0.5, tf.log(tf.add(variance, 1e-6))));
        this.p.get(`step${l}.an.logs`).assign(logs as tf.Tensor1D);
        this.p.get(`step${l}.an.bias`).assign(tf.neg(tf.mul(mean, tf.exp(logs))) as tf.Tensor1D);
        y = tf.add(tf.mul(y, tf.exp(logs)), tf.neg(tf.mul(mean, tf.exp(logs)))) as tf.Tensor2D;
        const inv = tf.sub(1, this.masks[l]);
        const { s, t } = this.st(l, y);
        y = s
          ? (tf.add(tf.mul(this.masks[l], y), tf.mul(inv, tf.add(tf.mul(y, tf.exp(s)), t))) as tf.Tensor2D)
          : (tf.add(y, tf.mul(inv, t)) as tf.Tensor2D);
      }
    });
  }

  /** Exact maximum likelihood: minimise the mean negative log-density. */
  trainStep(x: tf.Tensor2D, _rng: Prng): Record<string, tf.Scalar> {
    this.opt ??= new Adam(this.p.vars, this.lr);
    return { loss: this.opt.minimize(() => tf.neg(tf.mean(this.logProb(x))) as tf.Scalar) };
  }

  setLearningRate(lr: number): void { this.lr = lr; if (this.opt) this.opt.lr = lr; }
  optimizerState(): NamedWeight[] { return this.opt?.state() ?? []; }
  loadOptimizerState(s: NamedWeight[]): void { this.opt ??= new Adam(this.p.vars, this.lr); this.opt.load(s); }
  dispose(): void { this.p.dispose(); this.opt?.dispose(); tf.dispose(this.masks); }
}
