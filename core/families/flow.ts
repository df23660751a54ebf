/** The flow family: NICE and RealNVP coupling flows (core/spec.ts `FlowSpec`). */
import { mlpShapes, type ParamShape } from '../params';
import { alternatingMasks, dataDim, type FlowSpec, type MlpSpec } from '../spec';
import { image, logitPre, noConv, toyPre, type FamilyDescriptor } from './common';

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

export const flow: FamilyDescriptor<FlowSpec> = {
  family: 'flow',
  title: 'Flow (NICE / RealNVP)',
  models: { realnvp: 'RealNVP flow', nice: 'NICE flow' },
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
  signatures: (D) => ({
    sample: { inputs: { z: ['N', D] }, outputs: { x: ['N', D] } },
    density: { inputs: { x: ['N', D] }, outputs: { logp: ['N'] } },
    encode: { inputs: { x: ['N', D] }, outputs: { z: ['N', D] } },
  }),
  latentDim: (spec) => dataDim(spec),
  defaultSpec(model, shape, opts) {
    noConv('flow', opts);
    if (model !== 'realnvp' && model !== 'nice') throw new Error(`flow model must be realnvp or nice, got "${model}"`);
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
    return out;
  },
};
