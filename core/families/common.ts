/** Pieces the family descriptors share. */
import type { Preprocess } from '../spec';
import type { SpecOptions } from './types';

export type { FamilyDescriptor, SpecOptions } from './types';

/** An image is a sample with two axes, [H, W]; 2-D toys are [2]. */
export const image = (shape: readonly number[]): boolean => shape.length === 2;

/** alpha 0.05 as in RealNVP: keeps logit(p) within +-2.9, so pixels 0 and 255 are not infinitely far apart. */
export const logitPre: Preprocess = { kind: 'logit', alpha: 0.05 };

export const toyPre = (D: number, opts: SpecOptions): Preprocess => ({
  kind: 'affine',
  shift: opts.shift ?? new Array(D).fill(0),
  scale: opts.scale ?? new Array(D).fill(1),
});

