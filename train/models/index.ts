/**
 * The model entry point: build any family from a spec (and optional weights),
 * and the default specs the CLI and export/'s tests start from.
 */
import { alternatingMasks, dataDim, type Arch, type ConvSpec, type Family, type ModelSpec, type NamedWeight, type Preprocess } from '../../core';
import { convGeom } from './conv';
import { Flow } from './flow';
import { Gan } from './gan';
import type { TrainableModel } from './types';
import { Vae } from './vae';

export type { GenerativeModel, TrainableModel } from './types';
export { Vae } from './vae';
export { Gan } from './gan';
export { Flow } from './flow';

/**
 * Random init (seeded by `opts.seed`, default 0) when `weights` is omitted;
 * otherwise every weight the spec names must be present with its exact shape.
 */
export function buildModel(spec: ModelSpec, weights?: NamedWeight[], opts: { seed?: number } = {}): TrainableModel {
  const seed = opts.seed ?? 0;
  switch (spec.family) {
    case 'vae': return new Vae(spec, weights, seed);
    case 'gan': return new Gan(spec, weights, seed);
    case 'flow': return new Flow(spec, weights, seed);
    case 'made': throw new Error('family "made" is not implemented in train/ (stretch goal)');
    default: throw new Error(`unknown family "${(spec as { family: string }).family}"`);
  }
}

export const IMAGE_DATASETS = ['mnist', 'fashion-mnist'] as const;
export const MODELS: Record<Exclude<Family, 'made'>, string[]> = { vae: ['vae'], gan: ['gan'], flow: ['realnvp', 'nice'] };

export function isImageDataset(name: string): boolean {
  return (IMAGE_DATASETS as readonly string[]).includes(name);
}

export interface SpecOptions {
  /** toys: per-dimension mean and std of the training data (affine standardisation); default 0 and 1 */
  shift?: number[];
  scale?: number[];
  /** tiny: small nets for tests and benchmarks */
  size?: 'default' | 'tiny';
  /** 'conv': conv encoder/decoder (VAE) or DCGAN-style nets (GAN); images only */
  arch?: Arch;
}

/**
 * Defaults per (family, model, dataset) that train without tuning. Why each
 * size: toys need little capacity but smooth fits; image models must stay
 * under 10 MB of float32 weights once exported and train in minutes on a CPU.
 */
export function defaultSpec(family: Family, model: string | undefined, dataset: string, opts: SpecOptions = {}): ModelSpec {
  const image = isImageDataset(dataset);
  const shape = image ? [28, 28] : [2];
  const D = dataDim({ shape });
  const tiny = opts.size === 'tiny';
  const toyPre: Preprocess = { kind: 'affine', shift: opts.shift ?? new Array(D).fill(0), scale: opts.scale ?? new Array(D).fill(1) };
  // alpha 0.05 as in RealNVP: keeps logit(p) within +-2.9, so pixel 0 and 255 are not infinitely far apart.
  const logit: Preprocess = { kind: 'logit', alpha: 0.05 };
  const h = (toy: number[], img: number[]): number[] => (tiny ? [16] : image ? img : toy);
  model ??= MODELS[family as Exclude<Family, 'made'>]?.[0];
  if (opts.arch === 'conv') return convSpec(family, dataset, image, tiny);
  if (opts.arch !== undefined && opts.arch !== 'mlp') throw new Error(`unknown arch "${opts.arch as string}"; choose mlp or conv`);
  switch (family) {
    case 'vae': {
      const L = image ? (tiny ? 4 : 32) : 2;
      const hid = h([128, 128], [512]);
      return {
        family, model: 'vae', shape, preprocess: image ? logit : toyPre, latentDim: L,
        encoder: { sizes: [D, ...hid, 2 * L], hidden: 'relu', output: 'linear' },
        decoder: { sizes: [L, ...hid, D], hidden: 'relu', output: 'linear' },
        // toys: std >= e^-4 of a standardised unit; images: logit space spans about +-2.9
        minLogStd: image ? -5 : -4,
      };
    }
    case 'gan': {
      const L = image ? (tiny ? 8 : 64) : 2;
      return {
        family, model: 'gan', shape, preprocess: image ? { kind: 'unit' } : toyPre, latentDim: L,
        // images: leakyRelu with He init (models/gan.ts) keeps the samples dependent on z; relu collapsed
        generator: { sizes: [L, ...h([128, 128], [256, 512]), D], hidden: image ? 'leakyRelu' : 'relu', output: image ? 'sigmoid' : 'linear' },
        discriminator: { sizes: [D, ...h([128, 128], [512, 256]), 1], hidden: 'leakyRelu', output: 'linear' },
      };
    }
    case 'flow': {
      if (model !== 'realnvp' && model !== 'nice') throw new Error(`flow model must be realnvp or nice, got "${model}"`);
      const nice = model === 'nice';
      const steps = tiny ? 4 : image ? (nice ? 4 : 6) : nice ? 6 : 8;
      return {
        family, model, shape, preprocess: image ? logit : toyPre, steps,
        masks: alternatingMasks(D, steps, shape),
        coupling: nice ? 'additive' : 'affine',
        // RealNVP on images: hidden 128 keeps 6 steps at ~1.8M weights (7 MB)
        hidden: h([64, 64], nice ? [256] : [128]),
        activation: 'relu',
        actnorm: !nice,
        finalScale: nice,
      };
    }
    default:
      throw new Error(`unknown family "${family}"; choose vae, gan or flow`);
  }
}

/**
 * Conv defaults (core/spec.ts `ConvSpec`): two stride-2 layers with kernel 3
 * (28 -> 14 -> 7) and channels [16, 32] ([4, 8] tiny). Sized for the pure-JS
 * cpu backend, whose conv filter gradients are naive loops: measured at batch
 * 16, tiny takes 0.15 s (VAE) / 0.25 s (GAN) per step, kernel 4 twice that.
 * Latent sizes and preprocessing as for the MLP image models.
 */
function convSpec(family: Family, dataset: string, image: boolean, tiny: boolean): ModelSpec {
  if (family !== 'vae' && family !== 'gan') throw new Error(`--arch conv is available for vae and gan, not ${family}`);
  if (!image) throw new Error(`--arch conv needs image data (mnist, fashion-mnist); "${dataset}" is 2-D, use the default mlp`);
  const shape = [28, 28];
  const conv: ConvSpec = { channels: tiny ? [4, 8] : [16, 32], kernel: 3 };
  const { F } = convGeom(shape, conv);
  if (family === 'vae') {
    const L = tiny ? 4 : 32;
    return {
      family, model: 'vae', shape, preprocess: { kind: 'logit', alpha: 0.05 }, latentDim: L, arch: 'conv', conv,
      encoder: { sizes: [F, 2 * L], hidden: 'relu', output: 'linear' },
      decoder: { sizes: [L, F], hidden: 'relu', output: 'linear' },
      minLogStd: -5,
    };
  }
  const L = tiny ? 8 : 64;
  return {
    family, model: 'dcgan', shape, preprocess: { kind: 'unit' }, latentDim: L, arch: 'conv', conv,
    generator: { sizes: [L, F], hidden: 'leakyRelu', output: 'sigmoid' },
    discriminator: { sizes: [F, 1], hidden: 'leakyRelu', output: 'linear' },
  };
}
