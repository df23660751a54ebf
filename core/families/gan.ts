/** The GAN family: a generator and a training-only discriminator (core/spec.ts `GanSpec`). */
import { convDownShapes, convGeom, convUpShapes, mlpShapes, type ParamShape } from '../params';
import { classCount, convOf, dataDim, type GanSpec } from '../spec';
import { image, toyPre, type FamilyDescriptor } from './common';

/** Sigmoid generator output on the unit preprocess: model space [0, 1] (the image defaults). */
export const isImageGan = (spec: GanSpec): boolean => spec.generator.output === 'sigmoid';

const trainingOnly = (s: ParamShape[]): ParamShape[] => s.map((p) => ({ ...p, trainingOnly: true }));

/**
 * The conditional DCGAN's training recipe: hinge loss, spectral norm in the
 * discriminator, an EMA of the generator at 0.999. A class-conditional DCGAN
 * trained this way (PyTorch, 10 CPU minutes) reached FD 7.8 on Fashion-MNIST
 * where the plain recipe's shipped model measured 160 (shared/RECIPES.md's
 * figure, re-measured here in bench/quality.ts).
 */
const RECIPE: NonNullable<GanSpec['recipe']> = { loss: 'hinge', spectralNorm: true, ema: 0.999 };

/** The power-iteration vector of one spectrally normalised weight (training only). */
export const snName = (weight: string): string => `sn.${weight}`;

export const gan: FamilyDescriptor<GanSpec> = {
  family: 'gan',
  title: 'GAN',
  models: { gan: 'GAN', dcgan: 'DCGAN' },
  defaultId: (model, dataset) => `${model === 'dcgan' ? 'dcgan' : 'gan'}-${dataset}`,
  capabilities: ['sample'],
  density: null,
  unavailable: {
    density: 'GANs define no tractable density',
    encode: 'inverting a GAN generator is ill-posed',
  },
  traits: {
    decoder: 'deterministic generator',
    training: 'minimax game (Jensen-Shannon, non-saturating loss)',
    logp: 'none: a GAN defines no tractable density',
    inverse: 'none: inverting a GAN generator is ill-posed',
  },
  protocol: {},
  conditioning: 'the generator reads the latent concatenated with the one-hot label; the training-only discriminator adds a projection of its features on a class embedding',
  signatures: (D, L, C) => ({ sample: { inputs: { z: ['N', L], ...(C ? { label: ['N', C] } : {}) }, outputs: { x: ['N', D] } } }),
  // Adam at 2e-4 on images, as DCGAN training usually runs
  trainDefaults: (_model, img) => (img ? { steps: 5000, batch: 64, lr: 2e-4, evalEvery: 250 } : { steps: 5000, batch: 256, lr: 5e-4, evalEvery: 500 }),
  archs: ['mlp', 'conv'],
  convModel: 'dcgan',
  latentDim: (spec) => spec.latentDim,
  defaultSpec(model, shape, opts) {
    const D = dataDim({ shape });
    const img = image(shape);
    const tiny = opts.size === 'tiny';
    const L = img ? (tiny ? 8 : 64) : 2;
    if (model === 'dcgan' && opts.arch !== 'conv') throw new Error('dcgan is the conv GAN: add --arch conv');
    if (opts.arch === 'conv') {
      const C = opts.conditional?.names.length ?? 0;
      // conditional: RECIPE's training and wider nets with DCGAN's 4x4 kernels
      const conv = C ? { channels: tiny ? [4, 8] : [32, 64], kernel: 4 } : { channels: tiny ? [4, 8] : [16, 32], kernel: 3 };
      const { F } = convGeom(shape, conv);
      return {
        family: 'gan', model: 'dcgan', shape, preprocess: { kind: 'unit' }, latentDim: L, arch: 'conv', conv,
        generator: { sizes: [L + C, F], hidden: 'leakyRelu', output: 'sigmoid' },
        discriminator: { sizes: [F, 1], hidden: 'leakyRelu', output: 'linear' },
        ...(C ? { recipe: RECIPE } : {}),
      };
    }
    const h = (toy: number[], img2: number[]) => (tiny ? [16] : img ? img2 : toy);
    return {
      family: 'gan', model: 'gan', shape, preprocess: img ? { kind: 'unit' } : toyPre(D, opts), latentDim: L,
      // images: leakyRelu with He init keeps the samples dependent on z; relu collapsed (the GAN model file in train says how it was measured)
      generator: { sizes: [L, ...h([128, 128], [256, 512]), D], hidden: img ? 'leakyRelu' : 'relu', output: img ? 'sigmoid' : 'linear' },
      discriminator: { sizes: [D, ...h([128, 128], [512, 256]), 1], hidden: 'leakyRelu', output: 'linear' },
    };
  },
  paramShapes(spec) {
    const D = dataDim(spec);
    const L = spec.latentDim;
    const conv = convOf(spec);
    const C = classCount(spec);
    if (conv) {
      const gen = convUpShapes('gen', spec.shape, conv, spec.generator, L + C, isImageGan(spec));
      const disc = convDownShapes('disc', spec.shape, conv, spec.discriminator, 1);
      const { F } = convGeom(spec.shape, conv);
      const extra: ParamShape[] = [];
      if (C) extra.push({ name: 'disc.embed', shape: [C, F], init: { uniform: Math.sqrt(1 / F) } });
      // the trained generator, of which gen.* is the average
      if (spec.recipe?.ema !== undefined) extra.push(...gen.map((p) => ({ ...p, name: `raw.${p.name}` })));
      if (spec.recipe?.spectralNorm) {
        for (const p of disc) if (p.name.endsWith('.W')) extra.push({ name: snName(p.name), shape: [p.shape.at(-1)!], init: { uniform: 1 } });
      }
      return [...gen, ...trainingOnly([...disc, ...extra])];
    }
    if (C) throw new Error('gan: only the conv GAN (dcgan) is class-conditional');
    if (spec.generator.sizes[0] !== L || spec.generator.sizes.at(-1) !== D) {
      throw new Error(`gan: generator sizes must run ${L} -> ... -> ${D}, got [${spec.generator.sizes}]`);
    }
    if (spec.discriminator.sizes[0] !== D || spec.discriminator.sizes.at(-1) !== 1) {
      throw new Error(`gan: discriminator sizes must run ${D} -> ... -> 1, got [${spec.discriminator.sizes}]`);
    }
    // image GANs: He uniform for the generator's hidden layers (the GAN model file in train says why)
    return [...mlpShapes('gen', spec.generator, { he: isImageGan(spec) }), ...trainingOnly(mlpShapes('disc', spec.discriminator))];
  },
};
