/**
 * The family list is written once (core/spec.ts FAMILIES) and every per-family
 * registry must cover it: a family without its descriptor, tfjs model or ONNX
 * graphs or float64 reference is a type error, not a run-time throw. The `@ts-expect-error` lines
 * are the test: `npm test` type-checks them first, and tsc fails if a registry
 * missing a family ever stops being an error.
 */
import { expect, it } from 'vitest';
import { FAMILY_ORDER, familyOf, type DescriptorRegistry } from '../core/families';
import { FAMILIES } from '../core/spec';
import type { GraphRegistry } from '../export/graphs';
import type { ReferenceRegistry } from '../export/testing/fixtures';
import type { ModelRegistry } from '../train/models';

declare const descriptorsWithoutMade: Omit<DescriptorRegistry, 'made'>;
declare const modelsWithoutFlow: Omit<ModelRegistry, 'flow'>;
declare const graphsWithoutVae: Omit<GraphRegistry, 'vae'>;
declare const referencesWithoutMade: Omit<ReferenceRegistry, 'made'>;

export const registries = () => {
  // @ts-expect-error a family without its descriptor does not type-check
  const d: DescriptorRegistry = descriptorsWithoutMade;
  // @ts-expect-error a family without its tfjs model does not type-check
  const m: ModelRegistry = modelsWithoutFlow;
  // @ts-expect-error a family without its graphs does not type-check
  const g: GraphRegistry = graphsWithoutVae;
  // @ts-expect-error a family without its float64 reference does not type-check
  const r: ReferenceRegistry = referencesWithoutMade;
  return [d, m, g, r];
};

it('the page order, the descriptors and the list are one', () => {
  expect(FAMILY_ORDER).toEqual([...FAMILIES]);
  for (const f of FAMILIES) expect(familyOf(f).family).toBe(f);
  expect(() => familyOf('pixelcnn')).toThrow(/unknown family "pixelcnn"; choose vae, gan, flow, made/);
});
