/**
 * The int8 copy of a model's sampler (export/onnx/graph.ts `quantizeInt8`),
 * measured against the float32 graph it copies before anything states it:
 *
 * - `maxError` / `meanError`: the largest and mean absolute difference of the
 *   two graphs' samples for the same seeds, noise and labels (core/manifest.ts
 *   VARIANT_ERROR; data units, pixels / 256 for images). An autoregressive
 *   sampler feeds each drawn pixel back, so one pixel that lands in another
 *   grey level sends the rest of its image elsewhere: its max error is the
 *   whole range and its mean error says how often that happens.
 * - `fd`: for image models whose data set is installed, the Fréchet distance
 *   of FD_ROWS samples of each graph to the test split, in the features of the
 *   project classifier (train/classifier.ts), at the manifest's sample
 *   temperature. The figure a user weighs the speed against.
 *
 * Density graphs are not copied: a log-density's error would need stating
 * row by row, and the density graphs are not the batched ones that gain.
 */
import { VARIANT_ERROR, type ManifestVariant } from '../core/manifest';
import { Prng } from '../core/prng';
import { isImage, runSample, sampleLabelsFor, sampleNoiseFor, type ModelInfo } from '../core/protocol';
import { initBackend } from '../train/backend';
import { classifier, FEATURES, frechet } from '../train/classifier';
import { loadDataset, rows } from '../train/data';
import type { GraphBuilder } from './onnx/graph';
import { openGraph } from './ort';

export const FD_ROWS = 1000;
/** The seed of the FD's samples (both graphs draw the same ones) and of the test images' dequantisation. */
const FD_SEED = 2026;

export interface Int8Sampler {
  bytes: Uint8Array;
  measured: Pick<ManifestVariant, 'maxError' | 'meanError' | 'fd'>;
  /** why no FD was measured, when it was not */
  noFd?: string;
}

type Draw = (seed: number, n: number) => Promise<Float32Array>;

/** Runs `fn` with both samplers open once: each draws n samples of a seed, as the API draws them. */
async function withSamplers<T>(info: ModelInfo, graphs: [Uint8Array, Uint8Array], fn: (a: Draw, b: Draw) => Promise<T>): Promise<T> {
  const temperature = info.sampleTemperature ?? 1;
  const open = await Promise.all(graphs.map((g) => openGraph(g)));
  const drawer = (g: (typeof open)[number]): Draw => (seed, n) => {
    const { z, noise } = sampleNoiseFor(info, seed, n, temperature);
    return runSample(info, g.run, z, n, { noise, label: sampleLabelsFor(info, seed, n) });
  };
  try {
    return await fn(drawer(open[0]), drawer(open[1]));
  } finally {
    await Promise.all(open.map((g) => g.release()));
  }
}

/** The int8 copy of the sampler `builder` writes (as float32: `float32`), with its measured error and FD. */
export async function int8Sampler(info: ModelInfo & { dataset: string }, builder: GraphBuilder, float32: Uint8Array, doc: string): Promise<Int8Sampler> {
  const bytes = builder.toBytes(doc, { weights: 'int8' });
  const unit = isImage(info) ? 256 : 1;
  return withSamplers(info, [float32, bytes], async (full, int8) => {
    let maxError = 0;
    let sum = 0;
    let count = 0;
    for (const seed of VARIANT_ERROR.seeds) {
      const [a, b] = [await full(seed, VARIANT_ERROR.rows), await int8(seed, VARIANT_ERROR.rows)];
      for (let i = 0; i < a.length; i++) {
        const d = Math.abs(a[i] - b[i]) / unit;
        if (!Number.isFinite(d)) throw new Error(`int8 sampler: sample ${i} is not finite (${b[i]}) where float32 gives ${a[i]}`);
        maxError = Math.max(maxError, d);
        sum += d;
      }
      count += a.length;
    }
    const measured: Int8Sampler['measured'] = { maxError, meanError: sum / count };
    if (!isImage(info)) return { bytes, measured, noFd: 'not an image model' };
    let ds;
    try {
      ds = loadDataset(info.dataset);
    } catch (e) {
      return { bytes, measured, noFd: `the data set is not installed: ${(e as Error).message}` };
    }
    // the benches' backend, so the classifier (trained once, cached under runs/) is the one their FDs use
    await initBackend('wasm');
    const cls = await classifier(ds.name);
    const test = cls.features(rows(ds, 'test', Array.from({ length: ds.nTest }, (_, i) => i), new Prng(FD_SEED)));
    const fdOf = async (draw: Draw) => frechet(cls.features(await draw(FD_SEED, FD_ROWS)), test, FEATURES);
    measured.fd = { float32: await fdOf(full), variant: await fdOf(int8), dataset: ds.name };
    return { bytes, measured };
  });
}
