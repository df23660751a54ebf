/**
 * Coupling flows: NICE and RealNVP (core/flowspec.ts `FlowSpec`), a list of steps
 * with the one contract of train/models/steps.ts:
 *
 *   per step l: [actnorm] then coupling with mask l;  after the last: [scale]
 *   log p(x) = log N(z; 0, I) + sum of the steps' log-dets + logdet(pre)
 *
 * The multi-scale RealNVP (core/flowspec.ts `MultiScaleFlowSpec`) is one
 * composite step here (models/msflow.ts), so this class serves both.
 * Weight names come from core's paramShapes(spec) (core/families/flow.ts).
 *
 * Conditional specs (FlowGMM) keep the steps and move the base: N(mu_y, I)
 * with one mean `base.mu` per class, so log p(x | y) swaps log N(z; 0, I) for
 * log N(z; mu_y, I), training maximises the conditional likelihood of each
 * row's own label, and log p(x) is the mixture over the prior.
 */
import * as tf from '@tensorflow/tfjs';
import { BASE_MU, classCount, couplingNet, FINAL_LOGS, isMultiScale, paramShapes, stepNames, type FlowSpec, type MultiScaleFlowSpec, type NamedWeight, type Prng } from '../../core';
import { MultiScale } from './msflow';
import { Adam, checkLabel, hybridStep, Params, post, pre, stdNormalLogProb } from './nn';
import { ActNorm, Coupling, forwardAll, inverseAll, Scale, type FlowStep } from './steps';
import type { TrainableModel } from './types';

/** The steps of a flow spec over the parameters `p`, in data -> latent order. */
export function flowSteps(spec: FlowSpec | MultiScaleFlowSpec, p: Params): FlowStep[] {
  if (isMultiScale(spec)) return [new MultiScale(p, spec)];
  const steps: FlowStep[] = [];
  const net = couplingNet(spec);
  for (let l = 0; l < spec.steps; l++) {
    const n = stepNames(l);
    if (spec.actnorm) steps.push(new ActNorm(p, n.anLogs, n.anBias));
    steps.push(new Coupling(p, n.net, net, spec.masks[l], spec.coupling === 'affine' ? n.scale : undefined));
  }
  if (spec.finalScale) steps.push(new Scale(p, FINAL_LOGS));
  return steps;
}

export class Flow implements TrainableModel {
  private readonly p: Params;
  private readonly steps: FlowStep[];
  private opt?: Adam;
  private lr = 1e-3;

  constructor(readonly spec: FlowSpec | MultiScaleFlowSpec, weights?: NamedWeight[], seed = 0) {
    this.p = new Params(paramShapes(spec), weights, seed, `flow ${spec.model}`);
    this.steps = flowSteps(spec, this.p);
  }

  weights(): NamedWeight[] { return this.p.snapshot(); }
  parameterCount(): number { return this.p.count(); }

  /** z [N, D] and the log-det of x -> z [N] (the steps' and pre's), not tidied. */
  private toLatent(x: tf.Tensor2D): { z: tf.Tensor2D; logdet: tf.Tensor1D } {
    const { y, logdet: ldPre } = pre(this.spec.preprocess, x);
    const { y: z, logdet } = forwardAll(this.steps, y);
    return { z, logdet: tf.add(logdet, ldPre) as tf.Tensor1D };
  }

  private checkLabel(label: tf.Tensor2D | undefined, n: number): tf.Tensor2D | undefined {
    return checkLabel('flow', 'a class-conditional flow', classCount(this.spec), label, n);
  }

  /** log p(x), or log p(x | y) for each row's label (one-hot [N, C]) of a conditional spec; not tidied. */
  private logProb(x: tf.Tensor2D, label?: tf.Tensor2D): tf.Tensor1D {
    const { z, logdet } = this.toLatent(x);
    const y = this.checkLabel(label, x.shape[0]);
    const base = y ? tf.sub(z, tf.matMul(y, this.p.get(BASE_MU))) : z;
    return tf.add(stdNormalLogProb(base, 1), logdet) as tf.Tensor1D;
  }

  /**
   * log p(x); conditional specs also answer log p(x | y) for every class,
   * `logpy` [N, C] = -0.5 |z|^2 + z mu^T - 0.5 |mu_y|^2 - (D/2) log 2pi + logdet
   * (one matMul for all classes, as the density graph has it), and logp is
   * then logsumexp_y (log prior_y + logpy).
   */
  density(x: tf.Tensor2D): { logp: tf.Tensor1D; logpy?: tf.Tensor2D } {
    const c = this.spec.conditional;
    if (!c) return { logp: tf.tidy(() => this.logProb(x)) };
    return tf.tidy(() => {
      const mu = this.p.get(BASE_MU);
      const { z, logdet } = this.toLatent(x);
      const common = tf.add(stdNormalLogProb(z, 1), logdet);
      const logpy = tf.add(tf.add(tf.matMul(z, mu, false, true), tf.mul(-0.5, tf.sum(tf.square(mu), 1))), tf.expandDims(common, 1)) as tf.Tensor2D;
      const logp = tf.logSumExp(tf.add(logpy, tf.tensor1d(c.prior.map(Math.log))), 1) as tf.Tensor1D;
      return { logp, logpy };
    });
  }

  encode(x: tf.Tensor2D): { z: tf.Tensor2D } {
    return { z: tf.tidy(() => this.toLatent(x).z) };
  }

  /** z -> data space, undoing the steps in reverse order; conditional: from z + label base.mu, the class's base. */
  sample(z: tf.Tensor2D, _noise?: tf.Tensor2D, label?: tf.Tensor2D): { x: tf.Tensor2D } {
    const y = this.checkLabel(label, z.shape[0]);
    return { x: tf.tidy(() => post(this.spec.preprocess, inverseAll(this.steps, y ? tf.add(z, tf.matMul(y, this.p.get(BASE_MU))) : z).y)) };
  }

  /** Data-dependent init (actnorm): the first batch flows through, each step initialising from what reaches it. */
  initialize(x: tf.Tensor2D): void {
    if (!isMultiScale(this.spec) && !this.spec.actnorm) return;
    tf.tidy(() => {
      let y = pre(this.spec.preprocess, x).y;
      for (const s of this.steps) {
        s.initFrom?.(y);
        y = s.forward(y).y;
      }
    });
  }

  /**
   * Conditional: each class's base mean starts at the mean of z = f(x) over
   * that class's rows, the maximum-likelihood mean for the flow as it is, so a
   * flow started from trained weights classifies from its first step instead of
   * waiting for Adam to move 784 means from zero at ~lr per step.
   */
  initializeClasses(x: tf.Tensor2D, label: tf.Tensor2D): void {
    if (!classCount(this.spec)) return;
    tf.tidy(() => {
      const z = forwardAll(this.steps, pre(this.spec.preprocess, x).y).y;
      // [C, D] sums over each class's rows, divided by the counts (an absent class keeps 0)
      const sums = tf.matMul(label, z, true, false);
      const counts = tf.maximum(tf.sum(label, 0).reshape([-1, 1]), 1);
      this.p.get(BASE_MU).assign(tf.div(sums, counts));
    });
  }

  /**
   * Exact maximum likelihood: minimise the mean negative log-density (conditional: of log p(x | y), each row's own label).
   * With a label weight w > 0 (a hybrid objective, Nalisnick et al. 2019), the loss adds
   * w x the cross-entropy of Bayes' posterior p(y | x): the label is worth at most log C
   * nats against ~1000 of log p(x | y), so likelihood alone barely separates the classes
   * (FlowGMM-style flows trained so classified ~72% of MNIST here); the weight makes the
   * flow move each class towards its own mean.
   */
  trainStep(x: tf.Tensor2D, _rng: Prng, label?: tf.Tensor2D): Record<string, tf.Scalar> {
    const y = this.checkLabel(label, x.shape[0]);
    this.opt ??= new Adam(this.p.vars, this.lr);
    if (!y || !this.labelWeight) return { loss: this.opt.minimize(() => tf.neg(tf.mean(this.logProb(x, label))) as tf.Scalar) };
    return hybridStep(this.opt, this.labelWeight, y, this.spec.conditional!.prior, () => {
      const mu = this.p.get(BASE_MU);
      const { z, logdet } = this.toLatent(x);
      // per class, up to a term common to all classes: z mu_y - |mu_y|^2 / 2
      const scores = tf.add(tf.matMul(z, mu, false, true), tf.mul(-0.5, tf.sum(tf.square(mu), 1))) as tf.Tensor2D;
      const own = tf.sum(tf.mul(scores, y), 1);
      return { nll: tf.neg(tf.mean(tf.add(tf.add(own, stdNormalLogProb(z, 1)), logdet))) as tf.Scalar, scores };
    });
  }

  private labelWeight = 0;
  /** The hybrid objective's weight on the label's cross-entropy (0: likelihood alone). */
  setLabelWeight(w: number): void {
    if (!classCount(this.spec)) throw new Error('flow: a label weight needs a class-conditional model (--conditional)');
    this.labelWeight = w;
  }

  setLearningRate(lr: number): void { this.lr = lr; if (this.opt) this.opt.lr = lr; }
  optimizerState(): NamedWeight[] { return this.opt?.state() ?? []; }
  loadOptimizerState(s: NamedWeight[]): void { this.opt ??= new Adam(this.p.vars, this.lr); this.opt.load(s); }
  dispose(): void {
    this.p.dispose();
    this.opt?.dispose();
    for (const s of this.steps) s.dispose?.();
  }
}
