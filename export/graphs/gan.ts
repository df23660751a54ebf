/**
 * GAN graph (core/spec.ts GanSpec; Goodfellow et al. 2014).
 * sample: z [N,L] -> x = post(gen(z)) [N,D]; conditional: z [N,L], label [N,C]
 * -> x = post(gen(concat(z, label))). Nothing else ships: a GAN has no
 * tractable density and its generator has no inverse, and the discriminator
 * is a training device only.
 */
import { classCount, convOf, dataDim, type GanSpec } from '../../core/spec';
import { BATCH, GraphBuilder } from '../onnx/graph';
import { WeightTable, mlp, post } from './common';
import { upNet } from './conv';
import type { Graph } from './types';

export function ganGraphs(spec: GanSpec, w: WeightTable): Graph[] {
  const D = dataDim(spec);
  const L = spec.latentDim;
  const s = spec.generator.sizes;
  const conv = convOf(spec);
  if (!conv && (s[0] !== L || s[s.length - 1] !== D)) throw new Error(`GAN generator sizes [${s}] must run ${L} -> ... -> ${D}`);
  const C = classCount(spec);
  const g = new GraphBuilder('gan_sample');
  const z = g.input('z', [BATCH, L]);
  const input = C ? g.node('Concat', [z, g.input('label', [BATCH, C])], { axis: 1 }) : z;
  // DCGAN: the conv "up" net (export/graphs/conv.ts)
  const y = conv ? upNet(g, w, 'gen', spec.shape, conv, spec.generator, L + C, input) : mlp(g, w, 'gen', spec.generator, input);
  g.output(post(g, spec.preprocess, y, D), 'x', [BATCH, D]);
  return [{ capability: 'sample', builder: g }];
}
