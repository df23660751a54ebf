/**
 * The tfjs model from train/ as a verification Reference: the graphs must agree
 * with the very model that was trained. Runs on tfjs' cpu backend (plain
 * float32 JavaScript), the most predictable of tfjs' kernels.
 */
import * as tf from '@tensorflow/tfjs';
import type { ModelSpec, NamedWeight } from '../core/spec';
import { initBackend } from '../train/backend';
import { buildModel } from '../train/models';
import type { Arrays, Reference } from './verify';

export async function tfjsReference(spec: ModelSpec, weights: NamedWeight[]): Promise<Reference & { dispose(): void }> {
  await initBackend('cpu');
  const model = buildModel(spec, weights);
  const read = (t: Record<string, tf.Tensor | undefined>): Arrays => {
    const out: Arrays = {};
    for (const [k, v] of Object.entries(t)) if (v) out[k] = v.dataSync() as Float32Array;
    return out;
  };
  // a scope frees every tensor made inside, inputs and outputs alike, once read back
  const run = (f: () => Record<string, tf.Tensor | undefined>): Arrays => {
    tf.engine().startScope();
    try {
      return read(f());
    } finally {
      tf.engine().endScope();
    }
  };
  return {
    sample: (z, n, noise, label) =>
      run(() =>
        model.sample(tf.tensor2d(z, [n, z.length / n]), noise ? tf.tensor2d(noise, [n, noise.length / n]) : undefined, label ? tf.tensor2d(label, [n, label.length / n]) : undefined),
      ),
    density: model.density
      ? (x, n, eps, k) =>
          run(() => model.density!(tf.tensor2d(x, [n, x.length / n]), eps ? tf.tensor3d(eps, [n, k!, eps.length / (n * k!)]) : undefined))
      : undefined,
    encode: model.encode ? (x, n) => run(() => model.encode!(tf.tensor2d(x, [n, x.length / n]))) : undefined,
    dispose: () => model.dispose(),
  };
}
