/**
 * The flow family: NICE and RealNVP coupling flows (core/flowspec.ts `FlowSpec`)
 * and the multi-scale conv RealNVP (`MultiScaleFlowSpec`, layout in ./msflow.ts).
 */
import { mlpShapes, type ParamShape } from '../params';
import { alternatingMasks, classCount, dataDim, isMultiScale, type FlowSpec, type MlpSpec, type MultiScaleFlowSpec, type MultiScaleSpec } from '../spec';
import { image, logitPre, toyPre, type FamilyDescriptor, type SpecOptions } from './common';
import { msParamShapes } from './msflow';
import type { Dim } from './types';

/** The coupling net of every step: D -> hidden -> D (additive) or 2D (affine: log-scale and shift). */
export function couplingNet(spec: FlowSpec): MlpSpec {
  const D = dataDim(spec);
  return { sizes: [D, ...spec.hidden, spec.coupling === 'affine' ? 2 * D : D], hidden: spec.activation, output: 'linear' };
}

/** Names of one step's weights; the one place `step{l}.` is spelled. */
export const stepNames = (l: number) => ({
  net: `step${l}.net`,
  scale: `step${l}.scale`,
  anLogs: `step${l}.an.logs`,
  anBias: `step${l}.an.bias`,
});
export const FINAL_LOGS = 'final.logs';
/** A conditional flow's class means in z, [C, D] (core/flowspec.ts `FlowSpec`). */
export const BASE_MU = 'base.mu';

/**
 * Multi-scale defaults. Why these sizes: 2 scales (28 -> 14 -> 7) keep the
 * paper's structure (it has 3 checkerboard + 3 channel couplings per scale and
 * 4 at the last); 2 + 2 per scale, 3 at the last, and nets 3x3 -> 1x1 -> 3x3 of
 * 16 filters keep one training step at batch 64 near 0.3 CPU-seconds on one wasm
 * thread here (3 + 3: 0.5; measurements in the training README).
 */
function multiScaleSpec(shape: number[], opts: SpecOptions): MultiScaleFlowSpec {
  if (!image(shape)) throw new Error(`flow model realnvp-ms needs image data (mnist, fashion-mnist); shape [${shape}] is not an image`);
  const tiny = opts.size === 'tiny';
  const multiscale: MultiScaleSpec = tiny
    ? { scales: shape[0] % 4 || shape[1] % 4 ? 1 : 2, checker: 2, channel: 2, final: 2, filters: [4], kernel: 3 }
    : { scales: 2, checker: 2, channel: 2, final: 3, filters: [16, 16], kernel: 3 };
  return { family: 'flow', model: 'realnvp-ms', shape, preprocess: logitPre, multiscale, activation: 'relu' };
}

export const flow: FamilyDescriptor<FlowSpec | MultiScaleFlowSpec> = {
  family: 'flow',
  title: 'Flow (NICE / RealNVP)',
  models: { realnvp: 'RealNVP flow', nice: 'NICE flow', 'realnvp-ms': 'multi-scale RealNVP flow (conv)' },
  defaultId: (model, dataset) => `flow-${model}-${dataset}`,
  capabilities: ['sample', 'density', 'encode'],
  density: 'exact',
  unavailable: {},
  traits: {
    decoder: 'deterministic bijection',
    training: 'exact maximum likelihood',
    logp: 'exact, by the change-of-variables formula',
    inverse: 'exact inverse x -> z',
  },
  protocol: { encode: { z: 'z' } },
  conditioning: 'a class-conditional Gaussian base (FlowGMM): one learned mean per class in z; the bijection itself does not read the label',
  signatures: (D, _L, C) => {
    // conditional: log p(x | y) for every class; the protocol forms log p(x)
    const density: Record<string, Dim[]> = C ? { logpy: ['N', C] } : { logp: ['N'] };
    return {
      sample: { inputs: { z: ['N', D], ...(C ? { label: ['N', C] } : {}) }, outputs: { x: ['N', D] } },
      density: { inputs: { x: ['N', D] }, outputs: density },
      encode: { inputs: { x: ['N', D] }, outputs: { z: ['N', D] } },
    };
  },
  // the multi-scale flow on images: batch 64 as in Dinh et al. 2017, the size its defaults were timed at
  trainDefaults: (model, img) => (img ? { steps: 5000, batch: model === 'realnvp-ms' ? 64 : 128, lr: 5e-4, evalEvery: 250 } : { steps: 3000, batch: 256, lr: 1e-3, evalEvery: 500 }),
  // the multi-scale RealNVP is the conv flow; it is a model, not an arch
  archs: ['mlp'],
  latentDim: (spec) => dataDim(spec),
  defaultSpec(model, shape, opts) {
    if (model === 'realnvp-ms') return multiScaleSpec(shape, opts);
    if (model !== 'realnvp' && model !== 'nice') throw new Error(`flow model must be realnvp, nice or realnvp-ms, got "${model}"`);
    const D = dataDim({ shape });
    const img = image(shape);
    const tiny = opts.size === 'tiny';
    const nice = model === 'nice';
    const steps = tiny ? 4 : img ? (nice ? 4 : 6) : nice ? 6 : 8;
    return {
      family: 'flow', model, shape, preprocess: img ? logitPre : toyPre(D, opts), steps,
      masks: alternatingMasks(D, steps, shape),
      coupling: nice ? 'additive' : 'affine',
      // RealNVP on images: hidden 128 keeps 6 steps at ~1.8M weights (7 MB)
      hidden: tiny ? [16] : img ? (nice ? [256] : [128]) : [64, 64],
      activation: 'relu',
      actnorm: !nice,
      finalScale: nice,
    };
  },
  paramShapes(spec) {
    const C = classCount(spec);
    // zero means: every class starts at the unconditional base, and the gradient parts them
    const base: ParamShape[] = C ? [{ name: BASE_MU, shape: [C, dataDim(spec)], init: 'zeros' }] : [];
    if (isMultiScale(spec)) return [...msParamShapes(spec), ...base];
    const D = dataDim(spec);
    if (spec.masks.length !== spec.steps || spec.masks.some((m) => m.length !== D || m.some((v) => v !== 0 && v !== 1))) {
      throw new Error(`flow: need ${spec.steps} masks of ${D} entries, each 0 or 1`);
    }
    const out: ParamShape[] = [];
    for (let l = 0; l < spec.steps; l++) {
      const n = stepNames(l);
      if (spec.actnorm) out.push({ name: n.anLogs, shape: [D], init: 'zeros' }, { name: n.anBias, shape: [D], init: 'zeros' });
      // last layer zero: every step starts as the identity
      out.push(...mlpShapes(n.net, couplingNet(spec), { zeroLast: true }));
      if (spec.coupling === 'affine') out.push({ name: n.scale, shape: [D], init: 'ones' });
    }
    if (spec.finalScale) out.push({ name: FINAL_LOGS, shape: [D], init: 'zeros' });
    return [...out, ...base];
  },
};
