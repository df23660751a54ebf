/**
 * Every capability graph a family offers, built from a spec and its weights.
 * The weights must be exactly those core's paramShapes(spec) names, and every
 * one of them but the training-only ones must be read by some graph.
 */
import { familyOf, paramShapes } from '../../core/families';
import { checkWeights } from '../../core/params';
import { isMultiScale, type Family, type ModelSpec, type NamedWeight } from '../../core/spec';
import { WeightTable } from './common';
import { flowGraphs } from './flow';
import { ganGraphs } from './gan';
import { madeGraphs } from './made';
import { msFlowGraphs } from './msflow';
import type { Graph } from './types';
import { vaeGraphs } from './vae';

export type { Graph } from './types';

/** One graph builder per family (export/graphs/<family>.ts), every family required (core/spec.ts FAMILIES). */
export type GraphRegistry = { [F in Family]: (spec: Extract<ModelSpec, { family: F }>, w: WeightTable) => Graph[] };

const BUILDERS: GraphRegistry = {
  vae: (s, w) => vaeGraphs(s, w),
  gan: (s, w) => ganGraphs(s, w),
  flow: (s, w) => (isMultiScale(s) ? msFlowGraphs(s, w) : flowGraphs(s as Exclude<typeof s, { multiscale: unknown }>, w)),
  made: (s, w) => madeGraphs(s, w),
};

export function buildGraphs(spec: ModelSpec, weights: NamedWeight[]): Graph[] {
  // the registry pairs each family with its own spec type; the union call needs the one cast
  const build = BUILDERS[familyOf(spec.family).family] as (s: ModelSpec, w: WeightTable) => Graph[];
  const shapes = paramShapes(spec);
  checkWeights(shapes, weights, `${spec.family} ${spec.model}`);
  const table = new WeightTable(weights);
  const graphs = build(spec, table);
  const unread = shapes.filter((p) => !p.trainingOnly && !table.used.has(p.name)).map((p) => p.name);
  if (unread.length) throw new Error(`${spec.family} graphs never read weight(s) ${unread.slice(0, 5).join(', ')}`);
  return graphs;
}
