/**
 * The one contract of every invertible step (as in normflows): `forward`
 * (data -> latent) and `inverse` (latent -> data) each return the output and
 * log|det| of their own Jacobian per row, so that
 *   inverse(forward(y).y).y = y   and   forward.logdet + inverse.logdet = 0,
 * and steps compose by summing log-dets (`forwardAll`, `inverseAll`).
 * Outputs are not tidied: callers are.
 *
 * Steps here (maths in core/flowspec.ts `FlowSpec`):
 * - ActNorm (Kingma & Dhariwal 2018): y exp(logs) + bias, logdet sum logs
 * - Coupling, NICE (Dinh et al. 2014, https://arxiv.org/abs/1410.8516) additive:
 *   y + (1 - m) t(y m), logdet 0; RealNVP (Dinh et al. 2016,
 *   https://arxiv.org/abs/1605.08803) affine: m y + (1 - m)(y exp(s) + t),
 *   logdet sum (1 - m) s. Since y m passes through unchanged, s and t are the
 *   same in both directions, which makes the inverse exact.
 * - Scale: y exp(logs), logdet sum logs (NICE's final diagonal scaling)
 * NICE is the shift-only case of the affine coupling.
 */
import * as tf from '@tensorflow/tfjs';
import type { MlpSpec } from '../../core';
import { mlp, type Params } from './nn';

export interface StepOut {
  y: tf.Tensor2D;
  /** log |det d out / d in| per row [N] */
  logdet: tf.Tensor1D;
}

export interface FlowStep {
  forward(y: tf.Tensor2D): StepOut;
  inverse(y: tf.Tensor2D): StepOut;
  /** data-dependent initialisation from a batch arriving at this step (actnorm) */
  initFrom?(y: tf.Tensor2D): void;
  /** frees constant tensors the step holds (masks) */
  dispose?(): void;
}

const perRow = (y: tf.Tensor2D, v: tf.Tensor): tf.Tensor1D => tf.add(tf.zeros([y.shape[0]]), v) as tf.Tensor1D;

export class ActNorm implements FlowStep {
  constructor(private readonly p: Params, private readonly logs: string, private readonly bias: string) {}
  forward(y: tf.Tensor2D): StepOut {
    const logs = this.p.get(this.logs);
    return { y: tf.add(tf.mul(y, tf.exp(logs)), this.p.get(this.bias)) as tf.Tensor2D, logdet: perRow(y, tf.sum(logs)) };
  }
  inverse(y: tf.Tensor2D): StepOut {
    const logs = this.p.get(this.logs);
    return { y: tf.mul(tf.sub(y, this.p.get(this.bias)), tf.exp(tf.neg(logs))) as tf.Tensor2D, logdet: perRow(y, tf.neg(tf.sum(logs))) };
  }
  /** Glow's init: zero mean and unit variance per dimension on the first batch. */
  initFrom(y: tf.Tensor2D): void {
    tf.tidy(() => {
      const { mean, variance } = tf.moments(y, 0);
      const logs = tf.neg(tf.mul(0.5, tf.log(tf.add(variance, 1e-6))));
      this.p.get(this.logs).assign(logs as tf.Tensor1D);
      this.p.get(this.bias).assign(tf.neg(tf.mul(mean, tf.exp(logs))) as tf.Tensor1D);
    });
  }
}

export class Scale implements FlowStep {
  constructor(private readonly p: Params, private readonly logs: string) {}
  forward(y: tf.Tensor2D): StepOut {
    const logs = this.p.get(this.logs);
    return { y: tf.mul(y, tf.exp(logs)) as tf.Tensor2D, logdet: perRow(y, tf.sum(logs)) };
  }
  inverse(y: tf.Tensor2D): StepOut {
    const logs = this.p.get(this.logs);
    return { y: tf.mul(y, tf.exp(tf.neg(logs))) as tf.Tensor2D, logdet: perRow(y, tf.neg(tf.sum(logs))) };
  }
}

export class Coupling implements FlowStep {
  private readonly mask: tf.Tensor2D;
  private readonly inv: tf.Tensor2D;
  /** `scale`: the RealNVP per-dimension bound of tanh(s); absent for NICE (additive) */
  constructor(private readonly p: Params, private readonly net: string, private readonly spec: MlpSpec, mask: number[], private readonly scale?: string) {
    this.mask = tf.tensor2d(mask, [1, mask.length]);
    this.inv = tf.tensor2d(mask.map((v) => 1 - v), [1, mask.length]);
  }
  /** log-scale s (zero for NICE) and shift t, from the conditioning half y m */
  private st(y: tf.Tensor2D): { s?: tf.Tensor2D; t: tf.Tensor2D } {
    const h = mlp(this.p, this.net, this.spec, tf.mul(y, this.mask) as tf.Tensor2D);
    if (!this.scale) return { t: h };
    const D = y.shape[1];
    const [hs, t] = tf.split(h, [D, D], 1) as [tf.Tensor2D, tf.Tensor2D];
    return { s: tf.mul(this.p.get(this.scale), tf.tanh(hs)) as tf.Tensor2D, t };
  }
  forward(y: tf.Tensor2D): StepOut {
    const { s, t } = this.st(y);
    if (!s) return { y: tf.add(y, tf.mul(this.inv, t)) as tf.Tensor2D, logdet: tf.zeros([y.shape[0]]) };
    const moved = tf.add(tf.mul(y, tf.exp(s)), t);
    return { y: tf.add(tf.mul(this.mask, y), tf.mul(this.inv, moved)) as tf.Tensor2D, logdet: tf.sum(tf.mul(this.inv, s), 1) as tf.Tensor1D };
  }
  inverse(y: tf.Tensor2D): StepOut {
    const { s, t } = this.st(y);
    if (!s) return { y: tf.sub(y, tf.mul(this.inv, t)) as tf.Tensor2D, logdet: tf.zeros([y.shape[0]]) };
    const back = tf.mul(tf.sub(y, t), tf.exp(tf.neg(s)));
    return { y: tf.add(tf.mul(this.mask, y), tf.mul(this.inv, back)) as tf.Tensor2D, logdet: tf.neg(tf.sum(tf.mul(this.inv, s), 1)) as tf.Tensor1D };
  }
  dispose(): void {
    tf.dispose([this.mask, this.inv]);
  }
}

/** Steps in order, data -> latent, with the summed log-det. */
export function forwardAll(steps: FlowStep[], y0: tf.Tensor2D): StepOut {
  let y = y0;
  let logdet: tf.Tensor1D = tf.zeros([y0.shape[0]]);
  for (const s of steps) {
    const o = s.forward(y);
    y = o.y;
    logdet = tf.add(logdet, o.logdet) as tf.Tensor1D;
  }
  return { y, logdet };
}

/** Steps in reverse order, latent -> data, with the summed log-det. */
export function inverseAll(steps: FlowStep[], z: tf.Tensor2D): StepOut {
  let y = z;
  let logdet: tf.Tensor1D = tf.zeros([z.shape[0]]);
  for (let i = steps.length - 1; i >= 0; i--) {
    const o = steps[i].inverse(y);
    y = o.y;
    logdet = tf.add(logdet, o.logdet) as tf.Tensor1D;
  }
  return { y, logdet };
}
