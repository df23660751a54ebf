/**
 * The building blocks every family shares: a named parameter store, dense MLPs
 * with the activations of core/spec.ts, the Preprocess maps pre()/post() with
 * their log-determinant, and Adam.
 *
 * Weights are plain tf.Variables kept in a Map under the names core's
 * paramShapes(spec) gives them, so a snapshot of a model is exactly the list export/ expects.
 * Initial values come from the project PRNG, not tf.random*, so `--seed`
 * fixes a run on every backend.
 */
import * as tf from '@tensorflow/tfjs';
import { checkWeights, LEAKY_SLOPE, Prng, VAE_LOGISTIC_MAX_LOGSCALE, VAE_PHI_TAIL, type Activation, type MlpSpec, type NamedWeight, type ParamInit, type ParamShape, type Preprocess } from '../../core';

const LOG_2PI = Math.log(2 * Math.PI);

/**
 * Name of an optional fused Adam kernel: inputs { p, m, v, g }, attrs
 * { lr (bias-corrected), beta1, beta2, eps }, outputs [p', m', v'] with the
 * same maths as Adam.minimize below. train/wasm-kernels.ts registers it for
 * the wasm backend; elsewhere the elementwise ops run.
 */
export const ADAM_KERNEL = 'EdgegenAdam';

const size = (s: number[]): number => s.reduce((a, b) => a * b, 1);

/** Initial values for one weight, as core/params.ts `ParamInit` says, from the seeded PRNG. */
function initValues(init: ParamInit, rng: Prng, n: number): Float32Array {
  if (init === 'zeros') return new Float32Array(n);
  if (init === 'ones') return new Float32Array(n).fill(1);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (2 * rng.uniform() - 1) * init.uniform;
  return a;
}

/** Named tf.Variables; builds from declarations, either random or from given weights. */
export class Params {
  readonly vars = new Map<string, tf.Variable>();

  /** `shapes`: core's paramShapes(spec); given weights must match it exactly (core/params.ts `checkWeights`). */
  constructor(shapes: ParamShape[], weights: NamedWeight[] | undefined, seed: number, what: string) {
    const given = new Map((weights ?? []).map((w) => [w.name, w]));
    if (weights) checkWeights(shapes, weights, what);
    const rng = new Prng(seed >>> 0);
    for (const d of shapes) {
      const data = weights ? given.get(d.name)!.data : initValues(d.init, rng, size(d.shape));
      // No variable name: tfjs registers names globally, and two models of one spec must coexist.
      const init = tf.tensor(data, d.shape, 'float32');
      this.vars.set(d.name, tf.variable(init, true));
      init.dispose(); // the variable holds its own copy
    }
  }

  get(name: string): tf.Variable {
    const v = this.vars.get(name);
    if (!v) throw new Error(`internal: no parameter ${name}`);
    return v;
  }

  /** Variables whose names start with one of the prefixes (e.g. 'gen.'). */
  select(...prefixes: string[]): Map<string, tf.Variable> {
    return new Map([...this.vars].filter(([n]) => prefixes.some((p) => n.startsWith(p))));
  }

  snapshot(): NamedWeight[] {
    return [...this.vars].map(([name, v]) => ({ name, shape: [...v.shape], data: v.dataSync() as Float32Array }));
  }

  count(): number {
    let n = 0;
    for (const v of this.vars.values()) n += v.size;
    return n;
  }

  dispose(): void {
    for (const v of this.vars.values()) v.dispose();
    this.vars.clear();
  }
}

export function activate(x: tf.Tensor, a: Activation): tf.Tensor {
  switch (a) {
    case 'linear': return x;
    case 'relu': return tf.relu(x);
    case 'leakyRelu': return tf.leakyRelu(x, LEAKY_SLOPE);
    case 'tanh': return tf.tanh(x);
    case 'sigmoid': return tf.sigmoid(x);
    case 'elu': return tf.elu(x);
  }
}

/** y = act(x W + b) per layer, as core/spec.ts `MlpSpec` defines. */
export function mlp(p: Params, prefix: string, spec: MlpSpec, x: tf.Tensor2D): tf.Tensor2D {
  let h: tf.Tensor2D = x;
  const n = spec.sizes.length - 1;
  for (let i = 0; i < n; i++) {
    h = tf.add(tf.matMul(h, p.get(`${prefix}.${i}.W`)), p.get(`${prefix}.${i}.b`)) as tf.Tensor2D;
    h = activate(h, i + 1 === n ? spec.output : spec.hidden) as tf.Tensor2D;
  }
  return h;
}

/** y = pre(x) and log|det dy/dx| per row [N], exactly as core/spec.ts `Preprocess`. */
export function pre(p: Preprocess, x: tf.Tensor2D): { y: tf.Tensor2D; logdet: tf.Tensor1D } {
  const n = x.shape[0];
  const d = x.shape[1];
  switch (p.kind) {
    case 'affine': {
      const y = tf.div(tf.sub(x, tf.tensor1d(p.shift)), tf.tensor1d(p.scale)) as tf.Tensor2D;
      const c = -p.scale.reduce((s, v) => s + Math.log(v), 0);
      return { y, logdet: tf.fill([n], c) as tf.Tensor1D };
    }
    case 'unit':
      return { y: tf.div(x, 256) as tf.Tensor2D, logdet: tf.fill([n], -d * Math.log(256)) as tf.Tensor1D };
    case 'logit': {
      const a = p.alpha;
      const q = tf.add(a, tf.mul((1 - 2 * a) / 256, x));
      const logq = tf.log(q);
      const log1mq = tf.log(tf.sub(1, q));
      const y = tf.sub(logq, log1mq) as tf.Tensor2D;
      const c = d * (Math.log(1 - 2 * a) - Math.log(256));
      const logdet = tf.sub(c, tf.sum(tf.add(logq, log1mq), 1)) as tf.Tensor1D;
      return { y, logdet };
    }
  }
}

/** x = post(y): back to data space (clamped to pixel range for images). */
export function post(p: Preprocess, y: tf.Tensor2D): tf.Tensor2D {
  switch (p.kind) {
    case 'affine':
      return tf.add(tf.mul(y, tf.tensor1d(p.scale)), tf.tensor1d(p.shift)) as tf.Tensor2D;
    case 'unit':
      return tf.clipByValue(tf.mul(y, 256), 0, 255) as tf.Tensor2D;
    case 'logit':
      return tf.clipByValue(tf.mul(tf.sub(tf.sigmoid(y), p.alpha), 256 / (1 - 2 * p.alpha)), 0, 255) as tf.Tensor2D;
  }
}

/** sum_d log N(z_d; 0, 1) over the last axis. */
export function stdNormalLogProb(z: tf.Tensor, axis = -1): tf.Tensor {
  return tf.sub(tf.mul(-0.5, tf.sum(tf.square(z), axis)), 0.5 * LOG_2PI * z.shape[z.shape.length - 1]!);
}
export { LOG_2PI };

/** Half the pixel range: the logistic's mean and scale are a and exp(b) in these units around mid-grey. */
const HALF = 127.5;

/** The discretised logistic's mu and log s on the pixel scale from a net's raw (a, b) (core/spec.ts `VaeSpec`). Not tidied. */
export function logisticOf<T extends tf.Tensor>(a: T, b: T, minLogStd: number): { mu: T; logs: T } {
  return { mu: tf.mul(HALF, tf.add(1, a)) as T, logs: tf.add(Math.log(HALF), tf.clipByValue(b, minLogStd, VAE_LOGISTIC_MAX_LOGSCALE)) as T };
}

/**
 * log P(k) of the discretised logistic (core/spec.ts `VaeSpec`), elementwise
 * with broadcasting: x data-space pixels (dequantised, k = clamp(floor(x), 0,
 * 255)), mu and logs = log s on the pixel scale. Not tidied: callers are.
 */
export function logisticLogMass(x: tf.Tensor, mu: tf.Tensor, logs: tf.Tensor): tf.Tensor {
  const k = tf.clipByValue(tf.floor(x), 0, 255);
  const inv = tf.exp(tf.neg(logs));
  const c = tf.sub(k, mu);
  const a = tf.mul(tf.add(c, 0.5), inv);
  const b = tf.mul(tf.sub(c, 0.5), inv);
  // [k > 0] and [k < 255] for integer k in [0, 255]
  const hasBelow = tf.clipByValue(k, 0, 1);
  const hasAbove = tf.clipByValue(tf.sub(255, k), 0, 1);
  const logWidth = tf.log(tf.sub(1, tf.exp(tf.neg(inv))));
  return tf.add(tf.neg(tf.add(tf.mul(hasAbove, tf.softplus(tf.neg(a))), tf.mul(hasBelow, tf.softplus(b)))), tf.mul(tf.mul(hasBelow, hasAbove), logWidth));
}

/** g(n) = logit(Phi(n)) of core/spec.ts `VaeSpec`: standard normals in, standard logistic draws out. Not tidied. */
export function logisticNoise(n: tf.Tensor): tf.Tensor {
  const a = tf.abs(n);
  const t = tf.div(1, tf.add(1, tf.mul(VAE_PHI_TAIL.p, a)));
  let poly: tf.Tensor = tf.scalar(VAE_PHI_TAIL.b[4]);
  for (let i = 3; i >= 0; i--) poly = tf.add(tf.mul(poly, t), VAE_PHI_TAIL.b[i]);
  const logq = tf.add(tf.sub(tf.mul(-0.5, tf.square(a)), 0.5 * LOG_2PI), tf.log(tf.mul(poly, t)));
  return tf.mul(tf.sign(n), tf.sub(tf.log(tf.sub(1, tf.exp(logq))), logq));
}

/**
 * Adam (Kingma & Ba) with bias correction. Its moments are named after the
 * parameter they belong to (`${prefix}${name}.m` / `.v`) and the step count is
 * `${prefix}t`, so optimizer state goes into a checkpoint next to the weights.
 */
export class Adam {
  private m = new Map<string, tf.Variable>();
  private v = new Map<string, tf.Variable>();
  private t = 0;

  constructor(
    private readonly vars: Map<string, tf.Variable>,
    public lr: number,
    private readonly prefix = 'opt.',
    private readonly beta1 = 0.9,
    private readonly beta2 = 0.999,
    private readonly eps = 1e-8,
  ) {
    for (const [n, w] of vars) {
      this.m.set(n, tf.tidy(() => tf.variable(tf.zerosLike(w), false)));
      this.v.set(n, tf.tidy(() => tf.variable(tf.zerosLike(w), false)));
    }
  }

  /**
   * One step minimising `f` over this optimizer's variables. Returns the loss
   * (computed before the update) as a tensor the caller owns and reads when
   * it wants: reading it every step would stall an asynchronous backend
   * (webgpu, CUDA) on every step. Leaves no other tensors behind.
   */
  minimize(f: () => tf.Scalar): tf.Scalar {
    this.t += 1;
    const names = [...this.vars.keys()];
    const list = names.map((n) => this.vars.get(n)!);
    const lrT = (this.lr * Math.sqrt(1 - this.beta2 ** this.t)) / (1 - this.beta1 ** this.t);
    const loss = tf.tidy(() => {
      const { value, grads } = tf.variableGrads(f, list);
      const fused = tf.getKernel(ADAM_KERNEL, tf.getBackend());
      names.forEach((n, i) => {
        const g = grads[list[i].name];
        const m = this.m.get(n)!;
        const v = this.v.get(n)!;
        if (fused) {
          // one pass over the parameter instead of a dozen elementwise kernels (train/wasm-kernels.ts)
          const [p1, m1, v1] = tf.engine().runKernel(ADAM_KERNEL, { p: list[i], m, v, g }, { lr: lrT, beta1: this.beta1, beta2: this.beta2, eps: this.eps }) as tf.Tensor[];
          list[i].assign(p1);
          m.assign(m1);
          v.assign(v1);
          return;
        }
        m.assign(tf.add(tf.mul(this.beta1, m), tf.mul(1 - this.beta1, g)));
        v.assign(tf.add(tf.mul(this.beta2, v), tf.mul(1 - this.beta2, tf.square(g))));
        list[i].assign(tf.sub(list[i], tf.mul(lrT, tf.div(m, tf.add(tf.sqrt(v), this.eps)))));
      });
      return value;
    });
    return loss;
  }

  state(): NamedWeight[] {
    const out: NamedWeight[] = [{ name: `${this.prefix}t`, shape: [1], data: Float32Array.of(this.t) }];
    for (const [n, m] of this.m) out.push({ name: `${this.prefix}${n}.m`, shape: [...m.shape], data: m.dataSync() as Float32Array });
    for (const [n, v] of this.v) out.push({ name: `${this.prefix}${n}.v`, shape: [...v.shape], data: v.dataSync() as Float32Array });
    return out;
  }

  /** Restores moments saved by state(); entries for other prefixes are ignored. */
  load(saved: NamedWeight[]): void {
    const by = new Map(saved.map((w) => [w.name, w]));
    const t = by.get(`${this.prefix}t`);
    if (!t) throw new Error(`optimizer state ${this.prefix}t missing from checkpoint`);
    this.t = t.data[0];
    for (const [kind, store] of [['m', this.m], ['v', this.v]] as const) {
      for (const [n, variable] of store) {
        const w = by.get(`${this.prefix}${n}.${kind}`);
        if (!w || w.data.length !== variable.size) throw new Error(`optimizer state ${this.prefix}${n}.${kind} missing or wrong size`);
        tf.tidy(() => variable.assign(tf.tensor(w.data, variable.shape)));
      }
    }
  }

  dispose(): void {
    for (const v of [...this.m.values(), ...this.v.values()]) v.dispose();
  }
}

/**
 * The label a model takes: one-hot [n, C] for a class-conditional spec (C > 0),
 * none for an unconditional one, which refuses a label. `who` names the model
 * in errors ('flow', 'made', ...), `what` says what it is ('a class-conditional flow').
 */
export function checkLabel(who: string, what: string, C: number, label: tf.Tensor2D | undefined, n: number): tf.Tensor2D | undefined {
  if (!C) {
    if (label) throw new Error(`${who}: this model is not class-conditional; it takes no label`);
    return undefined;
  }
  if (!label || label.shape[0] !== n || label.shape[1] !== C) throw new Error(`${who}: ${what} needs one-hot labels [${n}, ${C}]`);
  return label;
}

/**
 * The label term of the hybrid objective (Nalisnick et al. 2019): the mean
 * cross-entropy of Bayes' posterior softmax_c(score_c + log p(c)) against the
 * one-hot labels y [N, C], for per-class scores [N, C] that are log p(x | c) up
 * to a term common to all classes. Not tidied.
 */
export function posteriorCrossEntropy(scores: tf.Tensor2D, y: tf.Tensor2D, prior: number[]): tf.Scalar {
  const joint = tf.add(scores, tf.tensor1d(prior.map(Math.log)));
  return tf.mean(tf.sub(tf.logSumExp(joint, 1), tf.sum(tf.mul(joint, y), 1))) as tf.Scalar;
}

/**
 * One Adam step on the hybrid objective: nll + weight x the posterior's
 * cross-entropy, for a model's `terms()` (its nll and per-class scores, built
 * inside the step so their gradients flow). Answers the loss and the
 * cross-entropy, both measured before the step.
 */
export function hybridStep(opt: Adam, weight: number, y: tf.Tensor2D, prior: number[], terms: () => { nll: tf.Scalar; scores: tf.Tensor2D }): { loss: tf.Scalar; ce: tf.Scalar } {
  let ce: tf.Scalar | undefined;
  const loss = opt.minimize(() => {
    const { nll, scores } = terms();
    const xent = posteriorCrossEntropy(scores, y, prior);
    ce = tf.keep(tf.clone(xent));
    return tf.add(nll, tf.mul(weight, xent)) as tf.Scalar;
  });
  return { loss, ce: ce! };
}
