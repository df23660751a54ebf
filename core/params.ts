/**
 * Weight names and shapes, derived from a spec: the one list train/ initialises
 * from, export/ consumes and the test fixtures randomise. Each family's
 * `paramShapes` (core/families/) builds its list from the helpers below.
 *
 * `init` says how training starts a weight (train/models/nn.ts reads it):
 * `zeros`, `ones`, or `{ uniform: a }`, i.i.d. U(-a, a) from the seeded PRNG
 * (Glorot: a = sqrt(6 / (fanIn + fanOut)); He: a = sqrt(6 / fanIn)).
 * `trainingOnly` marks weights no exported graph reads (the GAN discriminator).
 */
import type { ConvSpec, MlpSpec } from './spec';

export type ParamInit = 'zeros' | 'ones' | { uniform: number };

export interface ParamShape {
  name: string;
  shape: number[];
  init: ParamInit;
  trainingOnly?: boolean;
}

export const glorotInit = (fanIn: number, fanOut: number): ParamInit => ({ uniform: Math.sqrt(6 / (fanIn + fanOut)) });
export const heInit = (fanIn: number): ParamInit => ({ uniform: Math.sqrt(6 / fanIn) });

/**
 * Dense layers `${prefix}.${i}.W` [s_i, s_{i+1}] and `.b` [s_{i+1}].
 * zeroLast: the last W starts at zero (flow couplings start as the identity).
 * he: He init for the layers followed by the hidden activation.
 */
export function mlpShapes(prefix: string, mlp: Pick<MlpSpec, 'sizes'>, opts: { zeroLast?: boolean; he?: boolean } = {}): ParamShape[] {
  const out: ParamShape[] = [];
  const k = mlp.sizes.length - 1;
  for (let i = 0; i < k; i++) {
    const [a, b] = [mlp.sizes[i], mlp.sizes[i + 1]];
    const last = i === k - 1;
    const init: ParamInit = last && opts.zeroLast ? 'zeros' : opts.he && !last ? heInit(a) : glorotInit(a, b);
    out.push({ name: `${prefix}.${i}.W`, shape: [a, b], init }, { name: `${prefix}.${i}.b`, shape: [b], init: 'zeros' });
  }
  return out;
}

export interface ConvGeom {
  n: number;
  /** spatial size at the bottom */
  h: number;
  w: number;
  /** flattened size at the bottom, h * w * channels[n-1] */
  F: number;
}

/** Geometry of core/spec.ts `ConvSpec` on an [H, W] image. */
export function convGeom(shape: number[], conv: ConvSpec): ConvGeom {
  const n = conv.channels.length;
  if (shape.length !== 2) throw new Error(`conv architectures need image data (shape [H, W]), got shape [${shape}]`);
  if (n < 1 || conv.channels.some((c) => !Number.isInteger(c) || c < 1)) throw new Error(`conv: channels must be positive integers, got [${conv.channels}]`);
  if (!Number.isInteger(conv.kernel) || conv.kernel < 1) throw new Error(`conv: kernel must be a positive integer, got ${conv.kernel}`);
  const f = 2 ** n;
  if (shape[0] % f || shape[1] % f) throw new Error(`conv: image [${shape}] must be divisible by 2^${n} for ${n} stride-2 layers`);
  const h = shape[0] / f;
  const w = shape[1] / f;
  return { n, h, w, F: h * w * conv.channels[n - 1] };
}

/**
 * The "down" net of `ConvSpec`: stride-2 convs then a dense layer to outDim; net.sizes must be [F + extra, outDim],
 * where `extra` inputs (a conditional VAE's label) join the flattened features before the dense layer.
 */
export function convDownShapes(prefix: string, shape: number[], conv: ConvSpec, net: MlpSpec, outDim: number, extra = 0): ParamShape[] {
  const g = convGeom(shape, conv);
  const fin = g.F + extra;
  if (net.sizes.length !== 2 || net.sizes[0] !== fin || net.sizes[1] !== outDim) {
    throw new Error(`conv ${prefix}: sizes must be [${fin}, ${outDim}] (flattened bottom${extra ? ` + ${extra} label` : ''} -> output), got [${net.sizes}]`);
  }
  const k = conv.kernel;
  const out: ParamShape[] = [];
  conv.channels.forEach((cout, i) => {
    const cin = i === 0 ? 1 : conv.channels[i - 1];
    out.push({ name: `${prefix}.conv${i}.W`, shape: [k, k, cin, cout], init: glorotInit(k * k * cin, k * k * cout) });
    out.push({ name: `${prefix}.conv${i}.b`, shape: [cout], init: 'zeros' });
  });
  out.push({ name: `${prefix}.out.W`, shape: [fin, outDim], init: glorotInit(fin, outDim) });
  out.push({ name: `${prefix}.out.b`, shape: [outDim], init: 'zeros' });
  return out;
}

/** The "up" net: dense from L, then stride-2 transposed convs to [H, W, outChannels]; net.sizes must be [L, F]. */
export function convUpShapes(prefix: string, shape: number[], conv: ConvSpec, net: MlpSpec, L: number, he = false, outChannels = 1): ParamShape[] {
  const g = convGeom(shape, conv);
  if (net.sizes.length !== 2 || net.sizes[0] !== L || net.sizes[1] !== g.F) {
    throw new Error(`conv ${prefix}: sizes must be [${L}, ${g.F}] (latent -> flattened bottom), got [${net.sizes}]`);
  }
  const k = conv.kernel;
  const ch = conv.channels;
  const out: ParamShape[] = [
    { name: `${prefix}.in.W`, shape: [L, g.F], init: he ? heInit(L) : glorotInit(L, g.F) },
    { name: `${prefix}.in.b`, shape: [g.F], init: 'zeros' },
  ];
  for (let i = 0; i < g.n; i++) {
    const cin = ch[g.n - 1 - i];
    const cout = i === g.n - 1 ? outChannels : ch[g.n - 2 - i];
    const last = i === g.n - 1;
    out.push({ name: `${prefix}.deconv${i}.W`, shape: [k, k, cout, cin], init: he && !last ? heInit((k * k * cin) / 4) : glorotInit((k * k * cin) / 4, (k * k * cout) / 4) });
    out.push({ name: `${prefix}.deconv${i}.b`, shape: [cout], init: 'zeros' });
  }
  return out;
}

/** Checks a list of named weights against the shapes a spec names: every one present, none unknown, shapes equal. */
export function checkWeights(shapes: ParamShape[], weights: Array<{ name: string; shape: number[]; data: ArrayLike<number> }>, what: string): void {
  const known = new Map(shapes.map((s) => [s.name, s]));
  const unknown = weights.filter((w) => !known.has(w.name)).map((w) => w.name);
  if (unknown.length) throw new Error(`${what}: unknown weight(s) ${unknown.slice(0, 5).join(', ')} not named by the spec`);
  const given = new Map(weights.map((w) => [w.name, w]));
  for (const s of shapes) {
    const w = given.get(s.name);
    if (!w) throw new Error(`${what}: missing weight ${s.name} [${s.shape}]`);
    if (w.shape.length !== s.shape.length || w.shape.some((d, i) => d !== s.shape[i])) {
      throw new Error(`${what}: weight ${s.name} has shape [${w.shape}], the spec implies [${s.shape}]`);
    }
    const size = s.shape.reduce((a, b) => a * b, 1);
    if (w.data.length !== size) throw new Error(`${what}: weight ${s.name} holds ${w.data.length} values, needs ${size}`);
  }
}
