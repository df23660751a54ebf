/**
 * The autoregressive family: MADE with Gaussian, mixture or
 * discretised-logistic conditionals (maths in core/spec.ts `MadeSpec`). No latent code; exact log p(x) in one pass;
 * sampling fixes one dimension at a time, all D in one run of the sample graph.
 */
import { mlpShapes, type ParamShape } from '../params';
import { classCount, dataDim, type MadeSpec, type MlpSpec } from '../spec';
import { image, logitPre, toyPre, type FamilyDescriptor } from './common';
import type { Dim } from './types';

/** Gaussians per conditional. */
export const madeComponents = (spec: MadeSpec): number => spec.components ?? 1;

/** The masked net: D -> hidden -> 2D (means, log-stds; the logistic's a, b) or 3KD (K of each, then K mixture logits). */
export function madeNet(spec: MadeSpec): MlpSpec {
  const D = dataDim(spec);
  const K = madeComponents(spec);
  if (!Number.isInteger(K) || K < 1) throw new Error(`made: components must be a positive integer, got ${K}`);
  if (spec.likelihood === 'logistic') {
    if (spec.preprocess.kind !== 'unit' || !image(spec.shape)) throw new Error(`made: the discretised logistic is a likelihood of 8-bit pixels (preprocess 'unit' on an image), got ${spec.preprocess.kind} on [${spec.shape}]`);
  }
  return { sizes: [D, ...spec.hidden, K === 1 ? 2 * D : 3 * K * D], hidden: spec.activation, output: 'linear' };
}

/**
 * The degree of hidden unit k of a layer of H units (core/spec.ts `MadeSpec`):
 * (k mod (D - 1)) + 1 when the layer has a unit for every degree (H >= D - 1),
 * else spread evenly over 1..D - 1, floor(k (D - 1) / H) + 1, so a narrow layer
 * still has units that see the last pixels (cycling, no unit would have a
 * degree above H, and every pixel after the H-th would see the first H alone).
 */
export function madeDegree(k: number, H: number, D: number): number {
  if (D <= 1) return 1;
  return H >= D - 1 ? (k % (D - 1)) + 1 : Math.floor((k * (D - 1)) / H) + 1;
}

/**
 * The binary masks of every layer of `madeNet`, each [in, out] like its W:
 * mask[i][r * out + c] = 1 keeps W[r, c].
 */
export function madeMasks(spec: MadeSpec): Float32Array[] {
  const D = dataDim(spec);
  const degrees: number[][] = [Array.from({ length: D }, (_, d) => d + 1)];
  for (const h of spec.hidden) degrees.push(Array.from({ length: h }, (_, k) => madeDegree(k, h, D)));
  const masks: Float32Array[] = [];
  for (let l = 1; l < degrees.length; l++) {
    const [from, to] = [degrees[l - 1], degrees[l]];
    const m = new Float32Array(from.length * to.length);
    from.forEach((a, r) => to.forEach((b, c) => (m[r * to.length + c] = b >= a ? 1 : 0)));
    masks.push(m);
  }
  // outputs: column j belongs to dimension j mod D, which sees degrees < d + 1 only
  const last = degrees[degrees.length - 1];
  const P = madeNet(spec).sizes.at(-1)!;
  const out = new Float32Array(last.length * P);
  last.forEach((a, r) => {
    for (let j = 0; j < P; j++) out[r * P + j] = (j % D) + 1 > a ? 1 : 0;
  });
  masks.push(out);
  return masks;
}

export const made: FamilyDescriptor<MadeSpec> = {
  family: 'made',
  title: 'Autoregressive (MADE)',
  models: { made: 'MADE' },
  defaultId: (_model, dataset) => `made-${dataset}`,
  capabilities: ['sample', 'density'],
  density: 'exact',
  unavailable: {
    encode: 'an autoregressive model has no latent code: it factorises p(x) into conditionals p(x_d | x_<d)',
  },
  traits: {
    decoder: 'no latent code; samples one dimension at a time, all of them in one run of its graph',
    training: 'exact maximum likelihood',
    logp: 'exact, product of the conditionals, in one pass',
    inverse: 'none: no latent code',
  },
  protocol: { autoregressive: true, classTiled: true },
  conditioning: 'the one-hot label feeds every layer, hidden and output, through an unmasked weight of its own, so each conditional p(x_d | x_<d, y) sees the class; the density graph runs the net once per class',
  signatures: (D, L, C) => {
    const logp: Record<string, Dim[]> = C ? { logpy: ['N', C] } : { logp: ['N'] };
    return {
      sample: { inputs: { z: ['N', L], y: ['N', D], ...(C ? { label: ['N', C] } : {}) }, outputs: { y_next: ['N', D], x: ['N', D] } },
      density: { inputs: { x: ['N', D] }, outputs: logp },
    };
  },
  // the noise of one sample: D normals, and D more that pick mixture components
  trainDefaults: (_model, img) => (img ? { steps: 5000, batch: 128, lr: 1e-3, evalEvery: 250 } : { steps: 3000, batch: 256, lr: 1e-3, evalEvery: 500 }),
  archs: ['mlp'],
  latentDim: (spec) => (madeComponents(spec) > 1 ? 2 : 1) * dataDim(spec),
  defaultSpec(_model, shape, opts) {
    const D = dataDim({ shape });
    const img = image(shape);
    const tiny = opts.size === 'tiny';
    // Conditional images: 1024 units (MAF's MADE on MNIST). Hidden unit k has degree
    // (k mod (D - 1)) + 1, so with 160 units no unit has a degree above 160 and every
    // pixel after the 160th is predicted from the first 160 alone (MNIST's top
    // rows, nearly all background); from 783 units on, every pixel sees all the
    // pixels before it. 1024 keeps each graph under 10 MB (2.4 M float32 weights).
    const wide = img && !!opts.conditional && !tiny;
    // Conditional images: the discretised logistic per pixel. The Gaussian on
    // logit(x) scored 3.76 bits/dim on MNIST at this width: most pixels are
    // background, whose mass at 0 a Gaussian must spread over the dequantisation
    // interval, while the logistic's edge bin takes it whole.
    const logistic = wide;
    return {
      family: 'made', model: 'made', shape, preprocess: logistic ? { kind: 'unit' } : img ? logitPre : toyPre(D, opts),
      // images: 160 hidden units and one Gaussian keep both graphs near 1.5 MB each (3 x 784 x 160 weights);
      // toys: a mixture, since p(x2 | x1) on two moons has two modes
      hidden: opts.hidden ?? (wide ? [1024] : tiny ? [16] : img ? [160] : [64, 64]),
      activation: 'relu',
      minLogStd: logistic ? -7 : img ? -5 : -4,
      components: opts.components ?? (img ? 1 : 8),
      ...(logistic ? { likelihood: 'logistic' as const } : {}),
    };
  },
  paramShapes(spec) {
    const net = madeNet(spec);
    const C = classCount(spec);
    // the label's weights start at zero: a conditional MADE starts as the unconditional one
    const label: ParamShape[] = C ? net.sizes.slice(1).map((size, i) => ({ name: madeLabelWeight(i), shape: [C, size], init: 'zeros' })) : [];
    return [...mlpShapes('made', net), ...label];
  },
};

/** The label's weight into layer i of `madeNet` (conditional specs): [C, sizes[i + 1]]. */
export const madeLabelWeight = (i: number): string => `made.${i}.V`;
