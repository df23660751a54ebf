/**
 * Input complexity L(x): the code length a general-purpose lossless compressor
 * gives one image, in bits per dimension (Serrà et al. 2020 use PNG, JPEG2000
 * and FLIF; PNG's compressor is this deflate). It is the "background model"
 * of the complexity-corrected anomaly score in core/score.ts.
 *
 * Why fflate and not CompressionStream or node:zlib: the score compares a
 * row's code length against calibration quantiles computed at export time, so
 * the export (Node), the API (workerd and Node) and the page (browsers) must
 * produce the same bytes. fflate is one pure-JS deflate (level 9 here) that
 * runs identically in all of them, synchronously; CompressionStream fixes
 * neither the level nor the implementation (each runtime ships its own zlib),
 * and node:zlib is not in workerd or the browser. Like contract.ts with zod,
 * this file is not re-exported by core/index.ts: only its users load fflate.
 */
import { zlibSync } from 'fflate';

/** Bits per dimension of one row of integer pixels (0..255) compressed by zlib level 9. */
export function complexityBits(pixels: ArrayLike<number>): number {
  const bytes = new Uint8Array(pixels.length);
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.min(255, Math.max(0, Math.floor(pixels[i])));
  return (8 * zlibSync(bytes, { level: 9 }).length) / bytes.length;
}

/** Complexity of each of n rows of width D in a flat array. */
export function complexityRows(x: Float32Array | Uint8Array, n: number, D: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = complexityBits(x.subarray(i * D, (i + 1) * D));
  return out;
}
