/** The VAE family: Gaussian encoder and decoder (maths in core/spec.ts `VaeSpec`). */
import { convDownShapes, convGeom, convUpShapes, mlpShapes } from '../params';
import { convOf, dataDim, type VaeSpec } from '../spec';
import { image, logitPre, toyPre, type FamilyDescriptor } from './common';

export const vae: FamilyDescriptor<VaeSpec> = {
  family: 'vae',
  title: 'VAE',
  models: { vae: 'VAE' },
  defaultId: (_model, dataset) => `vae-${dataset}`,
  capabilities: ['sample', 'density', 'encode'],
  density: 'elbo',
  unavailable: {},
  traits: {
    decoder: 'stochastic decoder p(x|z)',
    training: 'maximise the ELBO',
    logp: 'lower bound: ELBO, and the tighter IWAE estimate with K samples',
    inverse: 'amortised encoder q(z|x): posterior mean and log-variance',
  },
  protocol: { observationNoise: { meanOutput: 'x_mean' }, importanceSampled: true, encode: { z: 'mu', logvar: 'logvar' } },
  signatures: (D, L) => ({
    sample: { inputs: { z: ['N', L], noise: ['N', D] }, outputs: { x: ['N', D], x_mean: ['N', D] } },
    density: { inputs: { x: ['N', D], eps: ['N', 'K', L] }, outputs: { elbo: ['N'], iwae: ['N'] } },
    encode: { inputs: { x: ['N', D] }, outputs: { mu: ['N', L], logvar: ['N', L] } },
  }),
  latentDim: (spec) => spec.latentDim,
  defaultSpec(_model, shape, opts) {
    const D = dataDim({ shape });
    const img = image(shape);
    const tiny = opts.size === 'tiny';
    const L = img ? (tiny ? 4 : 32) : 2;
    // toys: std >= e^-4 of a standardised unit; images: logit space spans about +-2.9
    const minLogStd = img ? -5 : -4;
    if (opts.arch === 'conv') {
      const conv = { channels: tiny ? [4, 8] : [16, 32], kernel: 3 };
      const { F } = convGeom(shape, conv);
      return {
        family: 'vae', model: 'vae', shape, preprocess: logitPre, latentDim: L, arch: 'conv', conv, minLogStd,
        encoder: { sizes: [F, 2 * L], hidden: 'relu', output: 'linear' },
        decoder: { sizes: [L, F], hidden: 'relu', output: 'linear' },
      };
    }
    const hid = tiny ? [16] : img ? [512] : [128, 128];
    return {
      family: 'vae', model: 'vae', shape, preprocess: img ? logitPre : toyPre(D, opts), latentDim: L, minLogStd,
      encoder: { sizes: [D, ...hid, 2 * L], hidden: 'relu', output: 'linear' },
      decoder: { sizes: [L, ...hid, D], hidden: 'relu', output: 'linear' },
    };
  },
  paramShapes(spec) {
    const D = dataDim(spec);
    const L = spec.latentDim;
    const logstd = { name: 'dec.logstd', shape: [D], init: 'zeros' as const };
    const conv = convOf(spec);
    if (conv) return [...convDownShapes('enc', spec.shape, conv, spec.encoder, 2 * L), ...convUpShapes('dec', spec.shape, conv, spec.decoder, L), logstd];
    if (spec.encoder.sizes[0] !== D || spec.encoder.sizes.at(-1) !== 2 * L) {
      throw new Error(`vae: encoder sizes must run ${D} -> ... -> ${2 * L}, got [${spec.encoder.sizes}]`);
    }
    if (spec.decoder.sizes[0] !== L || spec.decoder.sizes.at(-1) !== D) {
      throw new Error(`vae: decoder sizes must run ${L} -> ... -> ${D}, got [${spec.decoder.sizes}]`);
    }
    return [...mlpShapes('enc', spec.encoder), ...mlpShapes('dec', spec.decoder), logstd];
  },
};
