/**
 * Input complexity L(x): the code length a general-purpose lossless compressor
 * gives one image, in bits per dimension (Serrà et al. 2020 use PNG, JPEG2000
 * and FLIF). It is the "background model" of the complexity-corrected anomaly
 * score in core/score.ts. Two compressors, named in a model's calibration:
 * - 'png-9': the image's rows through PNG's adaptive filters (core/png.ts
 *   `filterRows`), then zlib level 9: a PNG file's pixel data. Deflate then
 *   codes each pixel's difference from a prediction by its neighbours rather
 *   than the raw bytes. As the background model it separates the data sets
 *   better than raw zlib (bench/scoreweights.ts, BENCHMARKS.md section 8);
 *   every model calibrated since uses it;
 * - 'zlib-9': zlib level 9 of the raw pixel bytes, the first calibrations'.
 *
 * Why fflate and not CompressionStream or node:zlib: the score compares a
 * row's code length against calibration quantiles computed at export time, so
 * the export (Node), the API (workerd and Node) and the page (browsers) must
 * produce the same bytes. fflate is one pure-JS deflate that runs identically
 * in all of them, synchronously; CompressionStream fixes neither the level nor
 * the implementation (each runtime ships its own zlib), and node:zlib is not in
 * workerd or the browser. Like contract.ts with zod, this file is not
 * re-exported by core/index.ts: only its users load fflate.
 */
import { zlibSync } from 'fflate';
import { filterRows } from './png';
import { COMPRESSORS, type Compressor } from './score';

/** The compressor new calibrations use. */
export const DEFAULT_COMPRESSOR: Compressor = COMPRESSORS[0];

/**
 * Bits per dimension of one image of integer pixels (0..255, row-major, `width`
 * pixels a row) under `compressor`.
 */
export function complexityBits(pixels: ArrayLike<number>, width: number, compressor: Compressor = DEFAULT_COMPRESSOR): number {
  const bytes = new Uint8Array(pixels.length);
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.min(255, Math.max(0, Math.floor(pixels[i])));
  if (bytes.length % width !== 0) throw new Error(`complexity: ${bytes.length} pixels are not rows of ${width}`);
  const stream = compressor === 'png-9' ? filterRows(bytes, width, bytes.length / width, 1, 'adaptive') : bytes;
  return (8 * zlibSync(stream, { level: 9 }).length) / bytes.length;
}

/** Complexity of each of n images of width D (rows of `width` pixels) in a flat array. */
export function complexityRows(x: Float32Array | Uint8Array, n: number, D: number, width: number, compressor: Compressor = DEFAULT_COMPRESSOR): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = complexityBits(x.subarray(i * D, (i + 1) * D), width, compressor);
  return out;
}
