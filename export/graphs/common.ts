/**
 * Building blocks shared by every family's graphs: weight lookup, MLPs,
 * activations, the data-space preprocessing of core/spec.ts, and Gaussian
 * log-densities. Each helper emits ONNX nodes into a GraphBuilder and returns
 * the name of the tensor it produced.
 */
import { LEAKY_SLOPE, VAE_LOGISTIC_MAX_LOGSCALE, VAE_PHI_TAIL, type Activation, type MlpSpec, type NamedWeight, type Preprocess } from '../../core/spec';
import { BATCH, float, GraphBuilder } from '../onnx/graph';
import type { Graph } from './types';

export const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

/**
 * Weights by name, with shape checks, so a mismatched checkpoint fails with the
 * weight's name. Records which weights the graphs read (`used`), so the
 * exporter can refuse a spec weight no graph consumes.
 */
export class WeightTable {
  private byName = new Map<string, NamedWeight>();
  readonly used = new Set<string>();
  constructor(weights: NamedWeight[]) {
    for (const w of weights) this.byName.set(w.name, w);
  }
  get(name: string, shape?: number[]): NamedWeight {
    const w = this.byName.get(name);
    if (!w) throw new Error(`missing weight ${name}`);
    this.used.add(name);
    if (shape && (w.shape.length !== shape.length || w.shape.some((d, i) => d !== shape[i]))) {
      throw new Error(`weight ${name} has shape [${w.shape}], the spec implies [${shape}]`);
    }
    return w;
  }
  /** Stores weight `name` as an initializer. */
  init(g: GraphBuilder, name: string, shape?: number[]): string {
    const w = this.get(name, shape);
    return g.floats(name.replace(/\W/g, '_'), w.shape, w.data);
  }
}

export function activation(g: GraphBuilder, x: string, act: Activation): string {
  switch (act) {
    case 'linear':
      return x;
    case 'relu':
      return g.node('Relu', [x]);
    case 'leakyRelu':
      return g.node('LeakyRelu', [x], { alpha: float(LEAKY_SLOPE) });
    case 'tanh':
      return g.node('Tanh', [x]);
    case 'sigmoid':
      return g.node('Sigmoid', [x]);
    case 'elu':
      return g.node('Elu', [x], { alpha: float(1) });
  }
}

/**
 * y = act(... act(x W0 + b0) ... ) W_{k-1} + b_{k-1}, then `output`.
 * MatMul broadcasts over leading axes, so x may be [N, in] or [N, K, in].
 */
export function mlp(g: GraphBuilder, w: WeightTable, prefix: string, spec: MlpSpec, x: string): string {
  let h = x;
  const k = spec.sizes.length - 1;
  for (let i = 0; i < k; i++) {
    const [din, dout] = [spec.sizes[i], spec.sizes[i + 1]];
    const W = w.init(g, `${prefix}.${i}.W`, [din, dout]);
    const b = w.init(g, `${prefix}.${i}.b`, [dout]);
    h = g.node('Add', [g.node('MatMul', [h, W]), b]);
    h = activation(g, h, i < k - 1 ? spec.hidden : spec.output);
  }
  return h;
}

/** Sum over the last axis, dropping it: [..., D] -> [...]. ReduceSum takes axes as an input from opset 13. */
export function sumLast(g: GraphBuilder, x: string): string {
  return g.node('ReduceSum', [x, g.ints([-1], 'axes')], { keepdims: 0 });
}

/** x[..., start:end] on the last axis. */
export function sliceLast(g: GraphBuilder, x: string, start: number, end: number): string {
  return g.node('Slice', [x, g.ints([start], 'starts'), g.ints([end], 'ends'), g.ints([-1], 'axes')]);
}

/** sum_d [-0.5 log 2pi - 0.5 z_d^2] over the last axis (standard normal log-density). */
export function stdNormalLogProb(g: GraphBuilder, z: string, dim: number): string {
  const sq = sumLast(g, g.node('Mul', [z, z]));
  return g.node('Sub', [g.scalar(-dim * HALF_LOG_2PI), g.node('Mul', [g.scalar(0.5), sq])]);
}

/** y = pre(x) per core/spec.ts `Preprocess`. */
export function pre(g: GraphBuilder, p: Preprocess, x: string, dim: number): string {
  switch (p.kind) {
    case 'affine':
      checkLen(p.shift, dim, 'preprocess.shift');
      checkLen(p.scale, dim, 'preprocess.scale');
      return g.node('Div', [g.node('Sub', [x, g.floats('shift', [dim], p.shift)]), g.floats('scale', [dim], p.scale)]);
    case 'unit':
      return g.node('Div', [x, g.scalar(256)]);
    case 'logit': {
      const prob = logitP(g, p.alpha, x);
      return g.node('Sub', [g.node('Log', [prob]), g.node('Log', [g.node('Sub', [g.scalar(1), prob])])]);
    }
  }
}

/** p = alpha + (1 - 2 alpha) x / 256 */
function logitP(g: GraphBuilder, alpha: number, x: string): string {
  return g.node('Add', [g.scalar(alpha), g.node('Mul', [g.scalar(1 - 2 * alpha), g.node('Div', [x, g.scalar(256)])])]);
}

/**
 * log |det d pre / dx| per row: a scalar constant for affine and unit (it
 * broadcasts when added to a [N] log-density), a [N] tensor for logit.
 */
export function preLogDet(g: GraphBuilder, p: Preprocess, x: string, dim: number): string {
  switch (p.kind) {
    case 'affine': {
      const c = -p.scale.reduce((s, v) => s + Math.log(v), 0);
      return g.scalar(c, 'logdet_pre');
    }
    case 'unit':
      return g.scalar(-dim * Math.log(256), 'logdet_pre');
    case 'logit': {
      // sum_d [log(1 - 2 alpha) - log 256 - log p_d - log(1 - p_d)]
      const prob = logitP(g, p.alpha, x);
      const terms = g.node('Add', [g.node('Log', [prob]), g.node('Log', [g.node('Sub', [g.scalar(1), prob])])]);
      const c = dim * (Math.log(1 - 2 * p.alpha) - Math.log(256));
      return g.node('Sub', [g.scalar(c), sumLast(g, terms)]);
    }
  }
}

/** x = post(y) per core/spec.ts. */
export function post(g: GraphBuilder, p: Preprocess, y: string, dim: number): string {
  switch (p.kind) {
    case 'affine':
      return g.node('Add', [g.node('Mul', [y, g.floats('scale', [dim], p.scale)]), g.floats('shift', [dim], p.shift)]);
    case 'unit':
      return clip255(g, g.node('Mul', [y, g.scalar(256)]));
    case 'logit': {
      const u = g.node('Div', [g.node('Sub', [g.node('Sigmoid', [y]), g.scalar(p.alpha)]), g.scalar(1 - 2 * p.alpha)]);
      return clip255(g, g.node('Mul', [u, g.scalar(256)]));
    }
  }
}

function clip255(g: GraphBuilder, x: string): string {
  return g.node('Clip', [x, g.scalar(0), g.scalar(255)]);
}

function checkLen(v: number[], dim: number, what: string): void {
  if (v.length !== dim) throw new Error(`${what} has ${v.length} entries, the data has ${dim} dimensions`);
}

/** What a bijection contributes to its graphs: model space y -> z with its log-det, and back. */
export interface Bijection {
  forward(g: GraphBuilder, y: string): { z: string; logdet: string | null; constLogdet: number };
  inverse(g: GraphBuilder, z: string): string;
}

/**
 * The three graphs every flow ships, from its forward and inverse:
 * density x -> log p(x) = log N(z) + logdet + logdet(pre); encode x -> z;
 * sample z -> x = post(inverse(z)).
 * With class means `mu` [C, D] (a conditional flow, core/flowspec.ts `FlowSpec`) the
 * base is N(mu_y, I): density answers logpy [N, C], the log-density above plus
 * z . mu_y - 0.5 |mu_y|^2 (z mu^T is one MatMul, |mu_y|^2 folded), and sample
 * takes a one-hot `label` [N, C] and inverts z + label mu.
 */
export function bijectionGraphs(name: string, preprocess: Preprocess, D: number, f: Bijection, mu?: NamedWeight): Graph[] {
  const C = mu?.shape[0] ?? 0;
  if (mu && (mu.shape.length !== 2 || mu.shape[1] !== D)) throw new Error(`class means have shape [${mu.shape}], need [C, ${D}]`);
  const density = new GraphBuilder(`${name}_density`);
  {
    const g = density;
    const x = g.input('x', [BATCH, D]);
    const { z, logdet, constLogdet } = f.forward(g, pre(g, preprocess, x, D));
    let logp = stdNormalLogProb(g, z, D);
    if (logdet) logp = g.node('Add', [logp, logdet]);
    if (constLogdet !== 0) logp = g.node('Add', [logp, g.scalar(constLogdet, 'logdet_const')]);
    logp = g.node('Add', [logp, preLogDet(g, preprocess, x, D)]);
    if (!mu) {
      g.output(logp, 'logp', [BATCH]);
    } else {
      const muT = new Float32Array(D * C);
      const halfSq = new Array<number>(C).fill(0);
      for (let c = 0; c < C; c++) {
        for (let d = 0; d < D; d++) {
          const v = mu.data[c * D + d];
          muT[d * C + c] = v;
          halfSq[c] -= 0.5 * v * v;
        }
      }
      const cross = g.node('Add', [g.node('MatMul', [z, g.floats('base_mu_t', [D, C], muT)]), g.floats('base_half_sq', [C], halfSq)]);
      g.output(g.node('Add', [cross, g.node('Unsqueeze', [logp, g.ints([1], 'axes')])]), 'logpy', [BATCH, C]);
    }
  }
  const encode = new GraphBuilder(`${name}_encode`);
  {
    const g = encode;
    const x = g.input('x', [BATCH, D]);
    g.output(f.forward(g, pre(g, preprocess, x, D)).z, 'z', [BATCH, D]);
  }
  const sample = new GraphBuilder(`${name}_sample`);
  {
    const g = sample;
    const z = g.input('z', [BATCH, D]);
    const base = mu ? g.node('Add', [z, g.node('MatMul', [g.input('label', [BATCH, C]), g.floats('base_mu', [C, D], mu.data)])]) : z;
    g.output(post(g, preprocess, f.inverse(g, base), D), 'x', [BATCH, D]);
  }
  return [
    { capability: 'sample', builder: sample },
    { capability: 'density', builder: density },
    { capability: 'encode', builder: encode },
  ];
}

/** Half the pixel range: the logistic's mean and scale are a and exp(b) in these units around mid-grey. */
/** Half the pixel range: the discretised logistic's mu = HALF (1 + a), s = HALF exp(b) (core/spec.ts `VaeSpec`). */
export const HALF = 127.5;

/** The discretised logistic's mu and log s on the pixel scale from a net's raw (a, b) (core/spec.ts `VaeSpec`). */
export function logisticOf(g: GraphBuilder, a: string, b: string, minLogStd: number): { mu: string; logs: string } {
  return {
    mu: g.node('Mul', [g.scalar(HALF), g.node('Add', [g.scalar(1), a])]),
    logs: g.node('Add', [g.scalar(Math.log(HALF)), g.node('Clip', [b, g.scalar(minLogStd), g.scalar(VAE_LOGISTIC_MAX_LOGSCALE)])]),
  };
}

/**
 * log P(k) of the discretised logistic (core/spec.ts `VaeSpec`), elementwise with
 * broadcasting: x dequantised pixels, k = clamp(floor(x), 0, 255); mu and logs on the pixel scale.
 */
export function logisticLogMass(g: GraphBuilder, x: string, mu: string, logs: string): string {
  const k = g.node('Clip', [g.node('Floor', [x]), g.scalar(0), g.scalar(255)]);
  const inv = g.node('Exp', [g.node('Neg', [logs])]);
  const c = g.node('Sub', [k, mu]);
  const a = g.node('Mul', [g.node('Add', [c, g.scalar(0.5)]), inv]);
  const b = g.node('Mul', [g.node('Sub', [c, g.scalar(0.5)]), inv]);
  // [k > 0] and [k < 255] for integer k in [0, 255]
  const hasBelow = g.node('Clip', [k, g.scalar(0), g.scalar(1)]);
  const hasAbove = g.node('Clip', [g.node('Sub', [g.scalar(255), k]), g.scalar(0), g.scalar(1)]);
  const logWidth = g.node('Log', [g.node('Sub', [g.scalar(1), g.node('Exp', [g.node('Neg', [inv])])])]);
  const tails = g.node('Add', [g.node('Mul', [hasAbove, g.node('Softplus', [g.node('Neg', [a])])]), g.node('Mul', [hasBelow, g.node('Softplus', [b])])]);
  return g.node('Sub', [g.node('Mul', [g.node('Mul', [hasBelow, hasAbove]), logWidth]), tails]);
}

/** g(n) = logit(Phi(n)) of core/spec.ts `VaeSpec` (Abramowitz & Stegun 26.2.17 for the tail): standard normals to standard logistic draws. */
export function logisticNoise(g: GraphBuilder, n: string): string {
  const a = g.node('Abs', [n]);
  const t = g.node('Div', [g.scalar(1), g.node('Add', [g.scalar(1), g.node('Mul', [g.scalar(VAE_PHI_TAIL.p), a])])]);
  let poly = g.scalar(VAE_PHI_TAIL.b[4]);
  for (let i = 3; i >= 0; i--) poly = g.node('Add', [g.node('Mul', [poly, t]), g.scalar(VAE_PHI_TAIL.b[i])]);
  const logq = g.node('Add', [g.node('Sub', [g.node('Mul', [g.scalar(-0.5), g.node('Mul', [a, a])]), g.scalar(HALF_LOG_2PI)]), g.node('Log', [g.node('Mul', [poly, t])])]);
  return g.node('Mul', [g.node('Sign', [n]), g.node('Sub', [g.node('Log', [g.node('Sub', [g.scalar(1), g.node('Exp', [logq])])]), logq])]);
}
