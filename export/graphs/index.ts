import type { ModelSpec, NamedWeight } from '../../core/spec';
import { flowGraphs } from './flow';
import { ganGraphs } from './gan';
import type { Graph } from './types';
import { vaeGraphs } from './vae';

export type { Graph } from './types';

/** Every capability graph a family offers, built from a spec and its weights. */
export function buildGraphs(spec: ModelSpec, weights: NamedWeight[]): Graph[] {
  if ((spec.family === 'vae' || spec.family === 'gan') && spec.arch === 'conv') throw new Error('conv architectures are not exportable to ONNX yet');
  switch (spec.family) {
    case 'vae':
      return vaeGraphs(spec, weights);
    case 'gan':
      return ganGraphs(spec, weights);
    case 'flow':
      return flowGraphs(spec, weights);
    case 'made':
      throw new Error('MADE export is not implemented');
  }
}
