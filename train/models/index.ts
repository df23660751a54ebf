/**
 * The model entry point: build any family's tfjs model from a spec (and
 * optional weights). Specs and their defaults live in core/families/.
 */
import { defaultSpec as coreDefaultSpec, familyOf, FAMILY_ORDER, type Family, type ModelSpec, type NamedWeight, type SpecOptions } from '../../core';
import { Flow } from './flow';
import { Gan } from './gan';
import { Made } from './made';
import type { TrainableModel } from './types';
import { Vae } from './vae';

export type { GenerativeModel, TrainableModel } from './types';
export type { SpecOptions } from '../../core';
export { Vae } from './vae';
export { Gan } from './gan';
export { Flow } from './flow';

/** One tfjs model class per family, every family required (core/spec.ts FAMILIES). */
export type ModelRegistry = { [F in Family]: (spec: Extract<ModelSpec, { family: F }>, weights: NamedWeight[] | undefined, seed: number) => TrainableModel };

const BUILDERS: ModelRegistry = {
  vae: (s, w, seed) => new Vae(s, w, seed),
  gan: (s, w, seed) => new Gan(s, w, seed),
  flow: (s, w, seed) => new Flow(s, w, seed),
  made: (s, w, seed) => new Made(s, w, seed),
};

/**
 * Random init (seeded by `opts.seed`, default 0) when `weights` is omitted;
 * otherwise every weight the spec names must be present with its exact shape.
 */
export function buildModel(spec: ModelSpec, weights?: NamedWeight[], opts: { seed?: number } = {}): TrainableModel {
  // the registry pairs each family with its own spec type; the union call needs the one cast
  const build = BUILDERS[familyOf(spec.family).family] as (s: ModelSpec, w: NamedWeight[] | undefined, seed: number) => TrainableModel;
  return build(spec, weights, opts.seed ?? 0);
}

export const IMAGE_DATASETS = ['mnist', 'fashion-mnist'] as const;

/** The models the CLI offers per family (the first is the default); a family's conv model comes from --arch. */
export const MODELS = Object.fromEntries(
  FAMILY_ORDER.map((f) => [f, Object.keys(familyOf(f).models).filter((m) => m !== familyOf(f).convModel)]),
) as Record<Family, string[]>;

export function isImageDataset(name: string): boolean {
  return (IMAGE_DATASETS as readonly string[]).includes(name);
}

/** core's defaults for (family, model) on a data set: images are [28, 28], toys [2]. */
export function defaultSpec(family: Family, model: string | undefined, dataset: string, opts: SpecOptions = {}): ModelSpec {
  return coreDefaultSpec(family, model, isImageDataset(dataset) ? [28, 28] : [2], opts);
}
