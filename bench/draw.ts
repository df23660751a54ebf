/**
 * Samples of a shipped model for bench/quality.ts: through its tfjs model, or
 * for an autoregressive family through its exported one-run sample graph.
 */
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Prng, type Manifest } from '../core';
import { oneHot, runAutoregressive, takesObservationNoise } from '../core/protocol';
import { openGraph } from '../export/ort';
import type { TrainableModel } from '../train/models';
import { dim, MODELS_DIR } from './common';

/**
 * Model samples in data space; VAE: a draw from p(x|z) (with observation noise) unless `mean`.
 * A conditional model draws row i of class `labels[i]`; the z (and noise) stream is the same with or without labels.
 * All the noise is scaled by `temperature`, as the API scales it.
 */
export function draw(model: TrainableModel, m: Manifest, n: number, seed: number, mean = false, labels?: Int32Array, temperature = 1): Float32Array {
  const rng = new Prng(seed);
  const D = dim(m);
  const C = m.classes?.names.length ?? 0;
  if (C && !labels) throw new Error(`${m.id}: a class-conditional model needs a label per sample`);
  const out = new Float32Array(n * D);
  for (let o = 0; o < n; o += 250) {
    const k = Math.min(250, n - o);
    const z = tf.tensor2d(rng.normals(k * m.latentDim, temperature), [k, m.latentDim]);
    const noise = takesObservationNoise(m) && !mean ? tf.tensor2d(rng.normals(k * D, temperature), [k, D]) : undefined;
    const label = C ? tf.tensor2d(oneHot(labels!.subarray(o, o + k), C), [k, C]) : undefined;
    const s = model.sample(z, noise, label);
    out.set((mean && s.xMean ? s.xMean : s.x).dataSync() as Float32Array, o * D);
    tf.dispose([z, noise ?? [], label ?? [], s.x, s.xMean ?? []]);
  }
  return out;
}

/**
 * `draw` for an autoregressive model, through its exported sample graph: the
 * graph samples all D dimensions in one run (export/graphs/made.ts), where
 * tfjs's sampler runs the whole net D times (minutes for 1000 images of a
 * wide image MADE). The same z stream and labels as `draw`.
 */
export async function drawGraph(m: Manifest, n: number, seed: number, labels?: Int32Array, temperature = 1): Promise<Float32Array> {
  const rng = new Prng(seed);
  const D = dim(m);
  const C = m.classes?.names.length ?? 0;
  const g = await openGraph(readFileSync(join(MODELS_DIR, m.id, 'sample.onnx')));
  const out = new Float32Array(n * D);
  for (let o = 0; o < n; o += 250) {
    const k = Math.min(250, n - o);
    const z = rng.normals(k * m.latentDim, temperature);
    out.set((await runAutoregressive(m, g.run, z, k, C ? oneHot(labels!.subarray(o, o + k), C) : undefined)).x, o * D);
  }
  await g.release();
  return out;
}

