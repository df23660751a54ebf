/**
 * The registry of families. Adding a family: its descriptor file here, its
 * tfjs model (train/models/), its graphs (export/graphs/), its float64
 * reference (export/testing/), and one line in each of those registries.
 */
import type { Manifest } from '../manifest';
import type { ParamShape } from '../params';
import { FAMILIES, type Family, type ModelSpec } from '../spec';
import { image } from './common';
import { flow } from './flow';
import { gan } from './gan';
import { made } from './made';
import type { FamilyDescriptor, SpecOptions } from './types';
import { vae } from './vae';

export type { Dim, FamilyDescriptor, FamilyTraits, GraphProtocol, Signature, SpecOptions, TrainDefaults } from './types';
export { BASE_MU, couplingNet, FINAL_LOGS, stepNames } from './flow';
export { isImageGan, snName } from './gan';
export { checkerMask, msChannels, msKernel, msCouplings, msLayout, msNames, type MsCoupling, type MsLayout, type MsPart, type MsScale } from './msflow';
export { madeComponents, madeDegree, madeMasks, madeNet } from './made';
export { image as isImageShape } from './common';

/** One descriptor per family, every family required (core/spec.ts FAMILIES). */
export type DescriptorRegistry = { [F in Family]: FamilyDescriptor<Extract<ModelSpec, { family: F }>> };

const REGISTRY: DescriptorRegistry = { vae, gan, flow, made };

/** The families, in the order the page shows them: core/spec.ts FAMILIES. */
export const FAMILY_ORDER: Family[] = [...FAMILIES];

export function isFamily(name: string): name is Family {
  return Object.prototype.hasOwnProperty.call(REGISTRY, name);
}

/** The descriptor of a family; an unknown name is an error that lists the known ones. */
export function familyOf(name: Family | string): FamilyDescriptor {
  if (!isFamily(name)) throw new Error(`unknown family "${name}"; choose ${FAMILY_ORDER.join(', ')}`);
  return REGISTRY[name] as unknown as FamilyDescriptor;
}

/** Every weight a spec names, with its shape and how training starts it. */
export function paramShapes(spec: ModelSpec): ParamShape[] {
  return familyOf(spec.family).paramShapes(spec);
}

export function latentDimOf(spec: ModelSpec): number {
  return familyOf(spec.family).latentDim(spec);
}

/**
 * Defaults per (family, model, data shape) that train without tuning. Why each
 * size: toys need little capacity but smooth fits; image models must stay
 * under 10 MB of float32 weights once exported and train in minutes on a CPU.
 */
export function defaultSpec(family: Family | string, model: string | undefined, shape: number[], opts: SpecOptions = {}): ModelSpec {
  const d = familyOf(family);
  if (opts.arch !== undefined && opts.arch !== 'mlp' && opts.arch !== 'conv') throw new Error(`unknown arch "${opts.arch as string}"; choose mlp or conv`);
  if (opts.arch !== undefined && !d.archs.includes(opts.arch)) {
    const conv = FAMILY_ORDER.filter((f) => REGISTRY[f].archs.includes('conv'));
    throw new Error(`--arch ${opts.arch} is not available for ${family} (conv nets: ${conv.join(', ')})`);
  }
  if (opts.arch === 'conv' && !image(shape)) throw new Error(`--arch conv needs image data (mnist, fashion-mnist); shape [${shape}] is not an image, use the default mlp`);
  const m = model ?? Object.keys(d.models)[0];
  if (!(m in d.models)) throw new Error(`${family} model must be one of ${Object.keys(d.models).join(', ')}, got "${m}"`);
  if (opts.conditional && !d.conditioning) throw new Error(`${family} has no class-conditional model yet; train it without --conditional`);
  if (opts.conditional && !image(shape)) throw new Error('--conditional needs a labelled image data set (mnist, fashion-mnist)');
  if ((opts.hidden || opts.components) && d.family !== 'made') throw new Error(`hidden widths and components are MADE's options; ${family} has neither`);
  const spec = d.defaultSpec(m, shape, opts);
  return opts.conditional ? { ...spec, conditional: opts.conditional } : spec;
}

/** What a manifest's family promises, for readers that hold a manifest. */
export function descriptorOf(m: Pick<Manifest, 'family'>): FamilyDescriptor {
  return familyOf(m.family);
}

