import type { Capability } from '../../core/manifest';
import type { GraphBuilder } from '../onnx/graph';

/** One capability's graph, built but not yet serialised. */
export interface Graph {
  capability: Capability;
  builder: GraphBuilder;
}
