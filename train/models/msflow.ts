/**
 * The multi-scale RealNVP (Dinh et al. 2017; core/flowspec.ts `MultiScaleFlowSpec`)
 * as steps of the one contract of train/models/steps.ts. Every step takes and
 * returns rows [N, h*w*c] (NHWC flattened row-major) and knows its geometry:
 *
 * - ChannelActNorm: per-channel actnorm, logdet h w sum logs
 * - ConvCoupling: checkerboard or channel-split affine coupling with a conv net
 * - Squeeze: 2x2 space-to-depth in the DepthToSpace (DCR) channel order, logdet 0
 * - MultiScale: the whole flow [N, H*W] -> latent [N, H*W] (factor-out included),
 *   itself a step, walking core's `msLayout`
 *
 * Conv layers need the Conv2D gradients (train/wasm-kernels.ts on wasm).
 */
import * as tf from '@tensorflow/tfjs';
import { checkerMask, msChannels, msCouplings, msLayout, msNames, type MsCoupling, type MsLayout, type MsPart, type MultiScaleFlowSpec } from '../../core';
import { activate, type Params } from './nn';
import type { FlowStep, StepOut } from './steps';

const perRow = (n: number, v: tf.Tensor): tf.Tensor1D => tf.add(tf.zeros([n]), v) as tf.Tensor1D;

/** Per-channel actnorm on rows of [h*w, c]. */
export class ChannelActNorm implements FlowStep {
  constructor(private readonly p: Params, private readonly logs: string, private readonly bias: string, private readonly hw: number, private readonly c: number) {}
  private rows(y: tf.Tensor2D): tf.Tensor3D { return tf.reshape(y, [y.shape[0], this.hw, this.c]); }
  forward(y: tf.Tensor2D): StepOut {
    const logs = this.p.get(this.logs);
    const out = tf.add(tf.mul(this.rows(y), tf.exp(logs)), this.p.get(this.bias));
    return { y: tf.reshape(out, y.shape) as tf.Tensor2D, logdet: perRow(y.shape[0], tf.mul(this.hw, tf.sum(logs))) };
  }
  inverse(y: tf.Tensor2D): StepOut {
    const logs = this.p.get(this.logs);
    const out = tf.mul(tf.sub(this.rows(y), this.p.get(this.bias)), tf.exp(tf.neg(logs)));
    return { y: tf.reshape(out, y.shape) as tf.Tensor2D, logdet: perRow(y.shape[0], tf.mul(-this.hw, tf.sum(logs))) };
  }
  /** Zero mean and unit variance per channel on the first batch. */
  initFrom(y: tf.Tensor2D): void {
    tf.tidy(() => {
      const { mean, variance } = tf.moments(this.rows(y), [0, 1]);
      const logs = tf.neg(tf.mul(0.5, tf.log(tf.add(variance, 1e-6))));
      this.p.get(this.logs).assign(logs as tf.Tensor1D);
      this.p.get(this.bias).assign(tf.neg(tf.mul(mean, tf.exp(logs))) as tf.Tensor1D);
    });
  }
}

/** 2x2 squeeze of rows [h*w*c] -> [(h/2)*(w/2)*4c]: out[a, b, (2p+q)c + k] = in[2a+p, 2b+q, k]. */
export class Squeeze implements FlowStep {
  constructor(private readonly h: number, private readonly w: number, private readonly c: number) {}
  forward(y: tf.Tensor2D): StepOut {
    const n = y.shape[0];
    // [n*h/2, p, w/2, (q, k)] -> [n*h/2, w/2, p, (q, k)]
    const t = tf.transpose(tf.reshape(y, [n * (this.h / 2), 2, this.w / 2, 2 * this.c]), [0, 2, 1, 3]);
    return { y: tf.reshape(t, [n, -1]) as tf.Tensor2D, logdet: tf.zeros([n]) };
  }
  inverse(y: tf.Tensor2D): StepOut {
    const n = y.shape[0];
    const t = tf.transpose(tf.reshape(y, [n * (this.h / 2), this.w / 2, 2, 2 * this.c]), [0, 2, 1, 3]);
    return { y: tf.reshape(t, [n, -1]) as tf.Tensor2D, logdet: tf.zeros([n]) };
  }
}

/** Affine coupling of core/flowspec.ts `MultiScaleFlowSpec` with a conv net (no actnorm: that is its own step). */
export class ConvCoupling implements FlowStep {
  private readonly mask?: tf.Tensor4D;
  private readonly inv?: tf.Tensor4D;
  private readonly names: ReturnType<typeof msNames>;
  private readonly cout: number;

  constructor(private readonly p: Params, private readonly cp: MsCoupling, private readonly spec: MultiScaleFlowSpec) {
    this.names = msNames(cp.prefix, spec.multiscale.filters.length + 1);
    this.cout = msChannels(cp).cout;
    if (cp.kind === 'checker') {
      const m = checkerMask(cp.h, cp.w, cp.j);
      this.mask = tf.tensor4d(m, [1, cp.h, cp.w, 1]);
      this.inv = tf.tensor4d(m.map((v) => 1 - v), [1, cp.h, cp.w, 1]);
    }
  }

  /** s and t [N, h, w, c'] from the conditioning input u. */
  private st(u: tf.Tensor4D): { s: tf.Tensor4D; t: tf.Tensor4D } {
    let h = u;
    const last = this.names.conv.length - 1;
    this.names.conv.forEach((cv, i) => {
      h = tf.add(tf.conv2d(h, this.p.get(cv.W) as tf.Tensor4D, 1, 'same'), this.p.get(cv.b));
      if (i < last) h = activate(h, this.spec.activation) as tf.Tensor4D;
    });
    const [hs, t] = tf.split(h, [this.cout, this.cout], 3) as [tf.Tensor4D, tf.Tensor4D];
    return { s: tf.mul(this.p.get(this.names.scale), tf.tanh(hs)) as tf.Tensor4D, t };
  }

  private run(y: tf.Tensor2D, dir: 1 | -1): StepOut {
    const { h, w, c, j } = this.cp;
    const n = y.shape[0];
    const x = tf.reshape(y, [n, h, w, c]) as tf.Tensor4D;
    const affine = (v: tf.Tensor4D, s: tf.Tensor4D, t: tf.Tensor4D) =>
      (dir === 1 ? tf.add(tf.mul(v, tf.exp(s)), t) : tf.mul(tf.sub(v, t), tf.exp(tf.neg(s)))) as tf.Tensor4D;
    let out: tf.Tensor4D;
    let ld: tf.Tensor1D;
    if (this.mask && this.inv) {
      const { s, t } = this.st(tf.mul(x, this.mask) as tf.Tensor4D);
      out = tf.add(tf.mul(this.mask, x), tf.mul(this.inv, affine(x, s, t))) as tf.Tensor4D;
      ld = tf.sum(tf.mul(this.inv, s), [1, 2, 3]) as tf.Tensor1D;
    } else {
      const [a, b] = tf.split(x, [c / 2, c / 2], 3) as [tf.Tensor4D, tf.Tensor4D];
      const [cond, moved] = j % 2 === 0 ? [a, b] : [b, a];
      const { s, t } = this.st(cond);
      const m2 = affine(moved, s, t);
      out = tf.concat(j % 2 === 0 ? [a, m2] : [m2, b], 3) as tf.Tensor4D;
      ld = tf.sum(s, [1, 2, 3]) as tf.Tensor1D;
    }
    return { y: tf.reshape(out, [n, -1]) as tf.Tensor2D, logdet: dir === 1 ? ld : (tf.neg(ld) as tf.Tensor1D) };
  }

  forward(y: tf.Tensor2D): StepOut { return this.run(y, 1); }
  inverse(y: tf.Tensor2D): StepOut { return this.run(y, -1); }
  dispose(): void { tf.dispose([this.mask, this.inv].filter((t): t is tf.Tensor4D => !!t)); }
}

/** Actnorm then coupling, for one `MsCoupling`. */
function couplingSteps(p: Params, cp: MsCoupling, spec: MultiScaleFlowSpec): FlowStep[] {
  const n = msNames(cp.prefix, 0);
  return [new ChannelActNorm(p, n.anLogs, n.anBias, cp.h * cp.w, cp.c), new ConvCoupling(p, cp, spec)];
}

/** Columns of a latent part, as rows [N, h*w*c]. */
const partOf = (z: tf.Tensor2D, part: MsPart) => tf.slice(z, [0, part.offset], [-1, part.h * part.w * part.c]) as tf.Tensor2D;

/** The whole multi-scale flow as one step: rows [N, H*W] (model space) <-> latent [N, H*W]. */
export class MultiScale implements FlowStep {
  readonly layout: MsLayout;
  /** per scale: checker steps, squeeze, channel steps; then the final steps */
  private readonly scales: Array<{ before: FlowStep[]; squeeze: Squeeze; after: FlowStep[] }>;
  private readonly final: FlowStep[];

  constructor(p: Params, spec: MultiScaleFlowSpec) {
    this.layout = msLayout(spec);
    this.scales = this.layout.scales.map((s) => ({
      before: s.checker.flatMap((cp) => couplingSteps(p, cp, spec)),
      squeeze: new Squeeze(s.h, s.w, s.c),
      after: s.channel.flatMap((cp) => couplingSteps(p, cp, spec)),
    }));
    this.final = this.layout.final.flatMap((cp) => couplingSteps(p, cp, spec));
  }

  /** Forward with optional data-dependent init of each step from what reaches it. */
  private walk(y0: tf.Tensor2D, init: boolean): StepOut {
    const n = y0.shape[0];
    let y = y0;
    let logdet: tf.Tensor1D = tf.zeros([n]);
    const apply = (s: FlowStep) => {
      if (init) s.initFrom?.(y);
      const o = s.forward(y);
      y = o.y;
      logdet = tf.add(logdet, o.logdet) as tf.Tensor1D;
    };
    const parts: tf.Tensor2D[] = [];
    this.scales.forEach((sc, i) => {
      [...sc.before, sc.squeeze, ...sc.after].forEach(apply);
      // factor-out: channels [2c, 4c) of the squeezed [h/2, w/2, 4c] leave for the latent
      const { h, w, c } = this.layout.scales[i].out;
      const [keep, out] = tf.split(tf.reshape(y, [n, h * w, 2 * c]), [c, c], 2);
      parts.push(tf.reshape(out, [n, -1]) as tf.Tensor2D);
      y = tf.reshape(keep, [n, -1]) as tf.Tensor2D;
    });
    this.final.forEach(apply);
    parts.push(y);
    return { y: tf.concat(parts, 1) as tf.Tensor2D, logdet };
  }

  forward(y: tf.Tensor2D): StepOut { return this.walk(y, false); }

  inverse(z: tf.Tensor2D): StepOut {
    const n = z.shape[0];
    let logdet: tf.Tensor1D = tf.zeros([n]);
    let y = partOf(z, this.layout.last);
    const undo = (steps: FlowStep[]) => {
      for (let k = steps.length - 1; k >= 0; k--) {
        const o = steps[k].inverse(y);
        y = o.y;
        logdet = tf.add(logdet, o.logdet) as tf.Tensor1D;
      }
    };
    undo(this.final);
    for (let i = this.scales.length - 1; i >= 0; i--) {
      const part = this.layout.scales[i].out;
      const hw = part.h * part.w;
      y = tf.reshape(tf.concat([tf.reshape(y, [n, hw, part.c]), tf.reshape(partOf(z, part), [n, hw, part.c])], 2), [n, -1]) as tf.Tensor2D;
      const sc = this.scales[i];
      undo([...sc.before, sc.squeeze, ...sc.after]);
    }
    return { y, logdet };
  }

  initFrom(y: tf.Tensor2D): void { tf.tidy(() => { this.walk(y, true); }); }

  dispose(): void {
    for (const s of [...this.scales.flatMap((sc) => [...sc.before, ...sc.after]), ...this.final]) (s as { dispose?(): void }).dispose?.();
  }
}

