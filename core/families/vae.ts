/** The VAE family: Gaussian encoder, Gaussian or discretised-logistic decoder (maths in core/spec.ts `VaeSpec`). */
import { convDownShapes, convGeom, convUpShapes, mlpShapes, type ParamShape } from '../params';
import { classCount, convOf, dataDim, type VaeSpec } from '../spec';
import { image, logitPre, toyPre, type FamilyDescriptor } from './common';
import type { Dim } from './types';

/** Columns of the decoder's output per pixel: the Gaussian's mean, or the logistic's (a, b). */
const decoderWidth = (spec: VaeSpec): number => (spec.likelihood === 'logistic' ? 2 : 1);

/** A conditional VAE's prior means in z, [C, L] (core/spec.ts `VaeSpec`, classPrior). */
export const VAE_PRIOR_MU = 'prior.mu';

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
  protocol: { observationNoise: { meanOutput: 'x_mean' }, importanceSampled: true, encode: { z: 'mu', logvar: 'logvar' }, classTiled: true },
  conditionalUnavailable: { encode: "a class-conditional VAE's encoder q(z | x, y) needs the label, which encode does not take" },
  conditioning: "the one-hot label joins the encoder's last dense layer and the decoder's first (a learned class embedding in each); the density graph scores x under every class, and there is no encode graph, since the encoder needs the label",
  signatures: (D, L, C) => {
    const density: Record<string, Dim[]> = C ? { elboy: ['N', C], iwaey: ['N', C] } : { elbo: ['N'], iwae: ['N'] };
    return {
      sample: { inputs: { z: ['N', L], noise: ['N', D], ...(C ? { label: ['N', C] } : {}) }, outputs: { x: ['N', D], x_mean: ['N', D] } },
      density: { inputs: { x: ['N', D], eps: ['N', 'K', L] }, outputs: density },
      // q(z | x, label) needs the label, which encode does not take
      ...(C ? {} : { encode: { inputs: { x: ['N', D] }, outputs: { mu: ['N', L], logvar: ['N', L] } } }),
    };
  },
  trainDefaults: (_model, img) => (img ? { steps: 5000, batch: 128, lr: 1e-3, evalEvery: 250 } : { steps: 3000, batch: 256, lr: 1e-3, evalEvery: 500 }),
  archs: ['mlp', 'conv'],
  latentDim: (spec) => spec.latentDim,
  defaultSpec(_model, shape, opts) {
    const D = dataDim({ shape });
    const img = image(shape);
    const tiny = opts.size === 'tiny';
    const C = opts.conditional?.names.length ?? 0;
    if (C) {
      // The recipe RECIPES.md measured at 1.50 bits/dim on MNIST: 16-d z, a
      // per-pixel discretised logistic whose scale depends on z, the label in
      // both nets. -7 bounds b as PixelCNN++ bounds its log-scale (s >= 0.12 grey levels).
      const L = tiny ? 4 : 16;
      const base = { family: 'vae' as const, model: 'vae', shape, preprocess: { kind: 'unit' as const }, latentDim: L, minLogStd: -7, likelihood: 'logistic' as const, classPrior: true };
      if (opts.arch === 'conv') {
        // 3x3 rather than DCGAN's 4x4: on MNIST, 120 CPU-seconds of 1-thread wasm
        // gave 819 steps and 1.615 bits/dim (accuracy 0.91) against 570 steps and
        // 1.635 (0.895) with 4x4 (IWAE-8 on 200 test digits)
        const conv = { channels: tiny ? [4, 8] : [32, 64], kernel: 3 };
        const { F } = convGeom(shape, conv);
        return {
          ...base, arch: 'conv', conv,
          encoder: { sizes: [F + C, 2 * L], hidden: 'relu', output: 'linear' },
          decoder: { sizes: [L + C, F], hidden: 'relu', output: 'linear' },
        };
      }
      const hid = tiny ? [16] : [512];
      return {
        ...base,
        encoder: { sizes: [D + C, ...hid, 2 * L], hidden: 'relu', output: 'linear' },
        decoder: { sizes: [L + C, ...hid, 2 * D], hidden: 'relu', output: 'linear' },
      };
    }
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
  // the prior means start at zero: the model it starts from, unchanged
  withClasses: (spec, classes) => ({ ...spec, conditional: classes, classPrior: true }),
  paramShapes(spec) {
    const D = dataDim(spec);
    const L = spec.latentDim;
    const C = classCount(spec);
    if (spec.classPrior && !C) throw new Error('vae: a prior per class needs a class-conditional spec');
    // zero means: every class starts at the N(0, I) prior, and the gradient parts them
    const prior: ParamShape[] = spec.classPrior ? [{ name: VAE_PRIOR_MU, shape: [C, L], init: 'zeros' }] : [];
    const logistic = spec.likelihood === 'logistic';
    if (logistic && !image(spec.shape)) throw new Error(`vae: the discretised logistic is a likelihood of 8-bit pixels; shape [${spec.shape}] is not an image`);
    // the logistic's scale comes from the decoder; the Gaussian's is one weight per dimension
    const logstd = logistic ? [] : [{ name: 'dec.logstd', shape: [D], init: 'zeros' as const }];
    const conv = convOf(spec);
    if (conv) return [...convDownShapes('enc', spec.shape, conv, spec.encoder, 2 * L, C), ...convUpShapes('dec', spec.shape, conv, spec.decoder, L + C, false, decoderWidth(spec)), ...logstd, ...prior];
    if (spec.encoder.sizes[0] !== D + C || spec.encoder.sizes.at(-1) !== 2 * L) {
      throw new Error(`vae: encoder sizes must run ${D + C} -> ... -> ${2 * L}, got [${spec.encoder.sizes}]`);
    }
    const out = D * decoderWidth(spec);
    if (spec.decoder.sizes[0] !== L + C || spec.decoder.sizes.at(-1) !== out) {
      throw new Error(`vae: decoder sizes must run ${L + C} -> ... -> ${out}, got [${spec.decoder.sizes}]`);
    }
    return [...mlpShapes('enc', spec.encoder), ...mlpShapes('dec', spec.decoder), ...logstd, ...prior];
  },
};
