/**
 * Every capability graph a family offers, built from a spec and its weights.
 * The weights must be exactly those core's paramShapes(spec) names, and every
 * one of them but the training-only ones must be read by some graph.
 */
import { familyOf, paramShapes } from '../../core/families';
import { checkWeights } from '../../core/params';
import type { Family, ModelSpec, NamedWeight } from '../../core/spec';
import { WeightTable } from './common';
import { flowGraphs } from './flow';
import { ganGraphs } from './gan';
import { madeGraphs } from './made';
import type { Graph } from './types';
import { vaeGraphs } from './vae';

export type { Graph } from './types';

type Builder = (spec: ModelSpec, w: WeightTable) => Graph[];

/** One graph builder per family (export/graphs/<family>.ts). */
const BUILDERS: Partial<Record<Family, Builder>> = {
  vae: (s, w) => vaeGraphs(s as Extract<ModelSpec, { family: 'vae' }>, w),
  gan: (s, w) => ganGraphs(s as Extract<ModelSpec, { family: 'gan' }>, w),
  flow: (s, w) => flowGraphs(s as Extract<ModelSpec, { family: 'flow' }>, w),
  made: (s, w) => madeGraphs(s as Extract<ModelSpec, { family: 'made' }>, w),
};

export function buildGraphs(spec: ModelSpec, weights: NamedWeight[]): Graph[] {
  const build = BUILDERS[familyOf(spec.family).family];
  if (!build) throw new Error(`family "${spec.family}" has no ONNX graphs in export/`);
  const shapes = paramShapes(spec);
  checkWeights(shapes, weights, `${spec.family} ${spec.model}`);
  const table = new WeightTable(weights);
  const graphs = build(spec, table);
  const unread = shapes.filter((p) => !p.trainingOnly && !table.used.has(p.name)).map((p) => p.name);
  if (unread.length) throw new Error(`${spec.family} graphs never read weight(s) ${unread.slice(0, 5).join(', ')}`);
  return graphs;
}
