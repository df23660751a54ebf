/**
 * Coupling flows: NICE and RealNVP (core/spec.ts `FlowSpec`), a list of steps
 * with the one contract of train/models/steps.ts:
 *
 *   per step l: [actnorm] then coupling with mask l;  after the last: [scale]
 *   log p(x) = log N(z; 0, I) + sum of the steps' log-dets + logdet(pre)
 *
 * Weight names come from core's paramShapes(spec) (core/families/flow.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { couplingNet, FINAL_LOGS, paramShapes, stepNames, type FlowSpec, type NamedWeight, type Prng } from '../../core';
import { Adam, Params, post, pre, stdNormalLogProb } from './nn';
import { ActNorm, Coupling, forwardAll, inverseAll, Scale, type FlowStep } from './steps';
import type { TrainableModel } from './types';

/** The steps of a flow spec over the parameters `p`, in data -> latent order. */
export function flowSteps(spec: FlowSpec, p: Params): FlowStep[] {
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

  constructor(readonly spec: FlowSpec, weights?: NamedWeight[], seed = 0) {
    this.p = new Params(paramShapes(spec), weights, seed, `flow ${spec.model}`);
    this.steps = flowSteps(spec, this.p);
  }

  weights(): NamedWeight[] { return this.p.snapshot(); }
  parameterCount(): number { return this.p.count(); }

  private logProb(x: tf.Tensor2D): tf.Tensor1D {
    const { y, logdet: ldPre } = pre(this.spec.preprocess, x);
    const { y: z, logdet } = forwardAll(this.steps, y);
    return tf.add(tf.add(stdNormalLogProb(z, 1), logdet), ldPre) as tf.Tensor1D;
  }

  density(x: tf.Tensor2D): { logp: tf.Tensor1D } {
    return { logp: tf.tidy(() => this.logProb(x)) };
  }

  encode(x: tf.Tensor2D): { z: tf.Tensor2D } {
    return { z: tf.tidy(() => forwardAll(this.steps, pre(this.spec.preprocess, x).y).y) };
  }

  /** z -> data space, undoing the steps in reverse order. */
  sample(z: tf.Tensor2D): { x: tf.Tensor2D } {
    return { x: tf.tidy(() => post(this.spec.preprocess, inverseAll(this.steps, z).y)) };
  }

  /** Data-dependent init (actnorm): the first batch flows through, each step initialising from what reaches it. */
  initialize(x: tf.Tensor2D): void {
    if (!this.spec.actnorm) return;
    tf.tidy(() => {
      let y = pre(this.spec.preprocess, x).y;
      for (const s of this.steps) {
        s.initFrom?.(y);
        y = s.forward(y).y;
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
  dispose(): void {
    this.p.dispose();
    this.opt?.dispose();
    for (const s of this.steps) if (s instanceof Coupling) s.dispose();
  }
}
