/**
 * MADE, a masked autoencoder for distribution estimation (Germain et al. 2015,
 * https://arxiv.org/abs/1502.03509), with Gaussian, mixture-of-Gaussians or
 * discretised-logistic conditionals, exactly as core/spec.ts `MadeSpec`:
 *
 *   [mu, alpha', logit] = masked MLP(y),  alpha = max(alpha', minLogStd)
 *   log p(y) = sum_d logsumexp_k [log softmax_k(logit_dk) - 0.5 log 2pi - alpha_dk
 *                                 - 0.5 ((y_d - mu_dk) exp(-alpha_dk))^2]
 *
 * Seen as a step (train/models/steps.ts), forward y -> u = (y - mu) exp(-alpha)
 * with log-det -sum alpha is a one-step MAF (Papamakarios et al. 2017,
 * https://arxiv.org/abs/1705.07057); its inverse is sampling, D passes.
 *
 * The discretised logistic (`likelihood: 'logistic'`) reads the same two columns
 * as the logistic's (a, b) and scores the pixel bin of x; it is no step. With
 * K > 1 it is a mixture of K logistics, laid out as the Gaussian mixture is.
 *
 * Conditional specs add the one-hot label to every layer, l V_i, unmasked;
 * training maximises log p(x | y) of each row's own label, and density answers
 * logpy [N, C] (the net run once per class) with logp their mixture over the prior.
 */
import * as tf from '@tensorflow/tfjs';
import { classCount, dataDim, madeComponents, madeMasks, madeNet, paramShapes, preSupport, type MadeSpec, type MlpSpec, type NamedWeight, type Prng } from '../../core';
import { madeLabelWeight } from '../../core/families/made';
import { activate, Adam, checkLabel, hybridStep, LOG_2PI, logisticLogMass, logisticNoise, logisticOf, Params, post, pre, stdNormalLogProb } from './nn';
import type { FlowStep, StepOut } from './steps';
import type { TrainableModel } from './types';

/**
 * y with dimension d taken from `next` (y is 0 there): pass d fixes dimension d.
 * Only fixed dimensions are fed back, since not-yet-fixed outputs can overflow
 * and NaN times a masked-out zero weight is still NaN.
 */
function fix(y: tf.Tensor2D, next: tf.Tensor2D, d: number): tf.Tensor2D {
  const D = y.shape[1];
  const e = tf.tensor2d(Array.from({ length: D }, (_, i) => (i === d ? 1 : 0)), [1, D]);
  return tf.add(y, tf.mul(next, e)) as tf.Tensor2D;
}

/** What the net needs for many passes over the same rows (AutoregressiveStep.frozen). */
interface Frozen {
  W: tf.Tensor2D[];
  c: tf.Tensor[];
}

/** The autoregressive step: u = (y - mu(y)) exp(-alpha(y)); inverse by D passes. */
export class AutoregressiveStep implements FlowStep {
  private readonly masks: tf.Tensor2D[];
  constructor(private readonly p: Params, private readonly spec: MadeSpec, private readonly net: MlpSpec = madeNet(spec)) {
    this.masks = madeMasks(spec).map((m, i) => tf.tensor2d(m, [net.sizes[i], net.sizes[i + 1]]));
  }

  /**
   * The masked weights and each layer's constant term (b, plus label V for a
   * one-hot `label` [N, C]), for many passes over the same rows: sampling's D
   * passes then mask the weights once, not once a pass. Not tidied.
   */
  frozen(label?: tf.Tensor2D): Frozen {
    const n = this.net.sizes.length - 1;
    const W = Array.from({ length: n }, (_, i) => tf.mul(this.p.get(`made.${i}.W`), this.masks[i]) as tf.Tensor2D);
    const c = Array.from({ length: n }, (_, i) => (label ? tf.add(this.p.get(`made.${i}.b`), tf.matMul(label, this.p.get(madeLabelWeight(i)))) : this.p.get(`made.${i}.b`)));
    return { W, c };
  }

  /**
   * The masked net's output [N, P], every column of dimension d depending on y_<d
   * (and on the one-hot `label` [N, C] of a conditional spec) only. Not tidied.
   */
  out(y: tf.Tensor2D, label?: tf.Tensor2D, frozen = this.frozen(label)): tf.Tensor2D {
    const n = this.net.sizes.length - 1;
    let h: tf.Tensor2D = y;
    for (let i = 0; i < n; i++) h = activate(tf.add(tf.matMul(h, frozen.W[i]), frozen.c[i]), i + 1 === n ? this.net.output : this.net.hidden) as tf.Tensor2D;
    return h;
  }

  /** mu and alpha of every dimension (one Gaussian per conditional). Not tidied. */
  conditionals(y: tf.Tensor2D, label?: tf.Tensor2D, frozen?: Frozen): { mu: tf.Tensor2D; alpha: tf.Tensor2D } {
    if (madeComponents(this.spec) !== 1 || this.spec.likelihood === 'logistic') throw new Error('made: the flow step needs one Gaussian per conditional');
    const D = dataDim(this.spec);
    const [mu, a] = tf.split(this.out(y, label, frozen), [D, D], 1) as [tf.Tensor2D, tf.Tensor2D];
    return { mu, alpha: tf.maximum(a, this.spec.minLogStd) as tf.Tensor2D };
  }

  forward(y: tf.Tensor2D): StepOut {
    const { mu, alpha } = this.conditionals(y);
    return { y: tf.mul(tf.sub(y, mu), tf.exp(tf.neg(alpha))) as tf.Tensor2D, logdet: tf.neg(tf.sum(alpha, 1)) as tf.Tensor1D };
  }

  /** One pass of sampling: y' = mu(y) + exp(alpha(y)) u; dimensions < d + 1 of y' are final once those < d of y are. */
  pass(y: tf.Tensor2D, u: tf.Tensor2D, label?: tf.Tensor2D, frozen?: Frozen): { y: tf.Tensor2D; alpha: tf.Tensor2D } {
    const { mu, alpha } = this.conditionals(y, label, frozen);
    return { y: tf.add(mu, tf.mul(tf.exp(alpha), u)) as tf.Tensor2D, alpha };
  }

  inverse(u: tf.Tensor2D): StepOut {
    let y: tf.Tensor2D = tf.zerosLike(u);
    for (let d = 0; d < dataDim(this.spec); d++) y = fix(y, this.pass(y, u).y, d);
    return { y, logdet: tf.sum(this.conditionals(y).alpha, 1) as tf.Tensor1D };
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

  private checkLabel(label: tf.Tensor2D | undefined, n: number): tf.Tensor2D | undefined {
    return checkLabel('made', 'a class-conditional MADE', classCount(this.spec), label, n);
  }


  /** The discretised logistic's mu and log s [N, D] on the pixel scale. Not tidied. */
  private logistic(y: tf.Tensor2D, label?: tf.Tensor2D, frozen?: Frozen): { mu: tf.Tensor2D; logs: tf.Tensor2D } {
    const D = dataDim(this.spec);
    const [a, b] = tf.split(this.step.out(y, label, frozen), [D, D], 1) as [tf.Tensor2D, tf.Tensor2D];
    return logisticOf(a, b, this.spec.minLogStd);
  }

  /** One sampling pass of the logistic: y_next = clamp((mu + s g + 0.5) / 256, 0, 1), g the logistic draws [N, D]. Not tidied. */
  private logisticPass(y: tf.Tensor2D, g: tf.Tensor2D, frozen: Frozen): tf.Tensor2D {
    const { mu, logs } = this.logistic(y, undefined, frozen);
    return tf.div(tf.add(tf.add(mu, tf.mul(tf.exp(logs), g)), 0.5), 256) as tf.Tensor2D;
  }

  /** The net's K > 1 output as its three [N, K, D] blocks: the first two as they are, the third as log mixture weights. Not tidied. */
  private blocks(y: tf.Tensor2D, label?: tf.Tensor2D, frozen?: Frozen): [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D] {
    const K = madeComponents(this.spec);
    const D = dataDim(this.spec);
    const N = y.shape[0];
    const [a, b, l] = tf.split(this.step.out(y, label, frozen), [K * D, K * D, K * D], 1).map((t) => tf.reshape(t, [N, K, D]) as tf.Tensor3D);
    return [a, b, tf.sub(l, tf.logSumExp(l, 1, true)) as tf.Tensor3D];
  }

  /** Mixture parameters [N, K, D]: means, log-stds (bounded below) and log mixture weights. Not tidied. */
  private mixture(y: tf.Tensor2D, label?: tf.Tensor2D, frozen?: Frozen): { mu: tf.Tensor3D; alpha: tf.Tensor3D; logw: tf.Tensor3D } {
    const [mu, a, logw] = this.blocks(y, label, frozen);
    return { mu, alpha: tf.maximum(a, this.spec.minLogStd) as tf.Tensor3D, logw };
  }

  /** A mixture of K discretised logistics [N, K, D]: mu and log s on the pixel scale, and log mixture weights. Not tidied. */
  private logisticMixture(y: tf.Tensor2D, label?: tf.Tensor2D, frozen?: Frozen): { mu: tf.Tensor3D; logs: tf.Tensor3D; logw: tf.Tensor3D } {
    const [a, b, logw] = this.blocks(y, label, frozen);
    return { ...logisticOf(a, b, this.spec.minLogStd), logw };
  }

  /** log p(x), or log p(x | y) for each row's label (one-hot [N, C]) of a conditional spec. Not tidied. */
  private logProb(x: tf.Tensor2D, label?: tf.Tensor2D): tf.Tensor1D {
    const l = this.checkLabel(label, x.shape[0]);
    const { y, logdet: ldPre } = pre(this.spec.preprocess, x);
    if (this.spec.likelihood === 'logistic' && madeComponents(this.spec) > 1) {
      const { mu, logs, logw } = this.logisticMixture(y, l);
      return tf.sum(tf.logSumExp(tf.add(logw, logisticLogMass(tf.expandDims(x, 1), mu, logs)), 1), 1) as tf.Tensor1D;
    }
    if (this.spec.likelihood === 'logistic') {
      const { mu, logs } = this.logistic(y, l);
      // a density of dequantised x already: no logdet(pre)
      return tf.sum(logisticLogMass(x, mu, logs), 1) as tf.Tensor1D;
    }
    if (madeComponents(this.spec) === 1) {
      const { mu, alpha } = this.step.conditionals(y, l);
      const u = tf.mul(tf.sub(y, mu), tf.exp(tf.neg(alpha)));
      return tf.add(tf.sub(stdNormalLogProb(u, 1), tf.sum(alpha, 1)), ldPre) as tf.Tensor1D;
    }
    const { mu, alpha, logw } = this.mixture(y, l);
    const r = tf.mul(tf.sub(tf.expandDims(y, 1), mu), tf.exp(tf.neg(alpha)));
    const comp = tf.sub(tf.sub(tf.sub(logw, alpha), tf.mul(0.5, tf.square(r))), 0.5 * LOG_2PI); // [N, K, D]
    return tf.add(tf.sum(tf.logSumExp(comp, 1), 1), ldPre) as tf.Tensor1D;
  }

  /**
   * One sampling pass for K > 1 (core/spec.ts): y_next from y with noise g [N, D] (the logistic's: its
   * draws) and component picks u [N, D]. Not tidied.
   */
  private mixturePass(y: tf.Tensor2D, g: tf.Tensor2D, u: tf.Tensor2D, frozen: Frozen): tf.Tensor2D {
    const K = madeComponents(this.spec);
    let logw: tf.Tensor3D;
    let draw: tf.Tensor;
    if (this.spec.likelihood === 'logistic') {
      const m = this.logisticMixture(y, undefined, frozen);
      logw = m.logw;
      draw = tf.div(tf.add(tf.add(m.mu, tf.mul(tf.exp(m.logs), tf.expandDims(g, 1))), 0.5), 256);
    } else {
      const m = this.mixture(y, undefined, frozen);
      logw = m.logw;
      draw = tf.add(m.mu, tf.mul(tf.exp(m.alpha), tf.expandDims(g, 1)));
    }
    const cdf = tf.cumsum(tf.exp(logw), 1); // [N, K, D]
    // below_k = [u < cdf_k], the last component's bound lifted to 1e30 so rounding cannot leave u unassigned
    const lift = tf.tensor3d(Array.from({ length: K }, (_, k) => (k === K - 1 ? 1e30 : 0)), [1, K, 1]);
    const below = tf.cast(tf.less(tf.expandDims(u, 1), tf.add(cdf, lift)), 'float32');
    // the first k where it holds: below_k - below_{k-1}
    const prev = tf.concat([tf.zerosLike(tf.slice(below, [0, 0, 0], [-1, 1, -1])), tf.slice(below, [0, 0, 0], [-1, K - 1, -1])], 1);
    const pick = tf.sub(below, prev);
    return tf.sum(tf.mul(pick, draw), 1) as tf.Tensor2D;
  }

  /**
   * log p(x); conditional specs also answer log p(x | y) for every class, `logpy`
   * [N, C] (row n repeated once per class, as the density graph does), and logp
   * is then logsumexp_y (log prior_y + logpy).
   */
  density(x: tf.Tensor2D): { logp: tf.Tensor1D; logpy?: tf.Tensor2D } {
    const c = this.spec.conditional;
    if (!c) return { logp: tf.tidy(() => this.logProb(x)) };
    return tf.tidy(() => {
      const [N, D] = x.shape;
      const C = c.names.length;
      // row n * C + c is row n under class c
      const rows = tf.reshape(tf.tile(tf.expandDims(x, 1), [1, C, 1]), [N * C, D]) as tf.Tensor2D;
      const labels = tf.tile(tf.eye(C), [N, 1]) as tf.Tensor2D;
      const logpy = tf.reshape(this.logProb(rows, labels), [N, C]) as tf.Tensor2D;
      const logp = tf.logSumExp(tf.add(logpy, tf.tensor1d(c.prior.map(Math.log))), 1) as tf.Tensor1D;
      return { logp, logpy };
    });
  }

  /**
   * z [N, L] -> x in D sequential passes (core/spec.ts `MadeSpec`, sampling), of the
   * one-hot classes `label` [N, C] for a conditional spec; also y, the state before
   * post (and its clamp), which export/verify.ts feeds one ONNX pass to check it teacher-forced.
   */
  sample(z: tf.Tensor2D, _noise?: tf.Tensor2D, label?: tf.Tensor2D): { x: tf.Tensor2D; y: tf.Tensor2D } {
    const l = this.checkLabel(label, z.shape[0]);
    const D = dataDim(this.spec);
    const mixture = madeComponents(this.spec) > 1;
    const logistic = this.spec.likelihood === 'logistic';
    return tf.tidy(() => {
      const normals = mixture ? (tf.slice(z, [0, 0], [-1, D]) as tf.Tensor2D) : z;
      const g = logistic ? (logisticNoise(normals) as tf.Tensor2D) : normals;
      // u = Phi(z2) = (1 + erf(z2 / sqrt 2)) / 2
      const u = mixture ? (tf.mul(0.5, tf.add(1, tf.erf(tf.mul(tf.slice(z, [0, D], [-1, D]), Math.SQRT1_2)))) as tf.Tensor2D) : g;
      // images: each y_d held to the pixels' support (core/spec.ts preSupport)
      const support = preSupport(this.spec.preprocess);
      const held = (t: tf.Tensor2D): tf.Tensor2D => (support ? tf.clipByValue(t, support[0], support[1]) : t);
      const frozen = this.step.frozen(l);
      let y: tf.Tensor2D = tf.zerosLike(g);
      for (let d = 0; d < D; d++) {
        const next = tf.tidy(() => fix(y, held(mixture ? this.mixturePass(y, g, u, frozen) : logistic ? this.logisticPass(y, g, frozen) : this.step.pass(y, g, undefined, frozen).y), d));
        y.dispose();
        y = next;
      }
      return { x: post(this.spec.preprocess, y), y };
    });
  }

  /**
   * Exact maximum likelihood: minimise the mean negative log-density (conditional: of log p(x | y), each row's own label).
   * With a label weight w > 0, the hybrid objective the flows and VAEs train with (train/models/nn.ts hybridStep):
   * every row's log p(x | y) under every class (the rows tiled once per class, as `density` does, so a step
   * costs about C times one), and w x the cross-entropy of the posterior they give, added to the likelihood.
   */
  trainStep(x: tf.Tensor2D, _rng: Prng, label?: tf.Tensor2D): Record<string, tf.Scalar> {
    const l = this.checkLabel(label, x.shape[0]);
    this.opt ??= new Adam(this.p.vars, this.lr);
    if (!l || !this.labelWeight) return { loss: this.opt.minimize(() => tf.neg(tf.mean(this.logProb(x, label))) as tf.Scalar) };
    const [N, D] = x.shape;
    const C = l.shape[1];
    return hybridStep(this.opt, this.labelWeight, l, this.spec.conditional!.prior, () => {
      const rows = tf.reshape(tf.tile(tf.expandDims(x, 1), [1, C, 1]), [N * C, D]) as tf.Tensor2D;
      const scores = tf.reshape(this.logProb(rows, tf.tile(tf.eye(C), [N, 1]) as tf.Tensor2D), [N, C]) as tf.Tensor2D;
      return { nll: tf.neg(tf.mean(tf.sum(tf.mul(scores, l), 1))) as tf.Scalar, scores };
    });
  }

  private labelWeight = 0;
  /** The hybrid objective's weight on the label's cross-entropy (0: likelihood alone). */
  setLabelWeight(w: number): void {
    if (!this.spec.conditional) throw new Error('made: a label weight needs a class-conditional model (--conditional)');
    this.labelWeight = w;
  }

  setLearningRate(lr: number): void { this.lr = lr; if (this.opt) this.opt.lr = lr; }
  optimizerState(): NamedWeight[] { return this.opt?.state() ?? []; }
  loadOptimizerState(s: NamedWeight[]): void { this.opt ??= new Adam(this.p.vars, this.lr); this.opt.load(s); }
  dispose(): void { this.p.dispose(); this.opt?.dispose(); this.step.dispose(); }
}
