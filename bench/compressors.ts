/**
 * What a general-purpose lossless compressor makes of the same test images,
 * in bits per pixel (= bits/dim of 8-bit images): the bar a density model has
 * to clear to be worth more than a file format.
 *
 * - zlib: each image alone, deflate level 9 with its zlib wrapper (node:zlib).
 * - PNG: each image alone, as an 8-bit grey PNG (train/png.ts, deflate level 9),
 *   whole file; what a user would store.
 * - xz: the first 2000 images concatenated, `xz -9e` (Debian xz-utils): shared
 *   statistics across images, closer to what a model learns; skipped with the
 *   reason when the xz command is absent.
 */
import { execFileSync } from 'node:child_process';
import { deflateSync } from 'node:zlib';
import { encodePng } from '../core/png';

export interface CompressorBits {
  images: number;
  zlib: number;
  png: number;
  /** bits per pixel over the first `xzImages` images at once, or why it is missing */
  xz: number | string;
  xzImages: number;
}

export function compressorBits(pixels: Uint8Array, n: number, h = 28, w = 28): CompressorBits {
  const D = h * w;
  let zlib = 0;
  let png = 0;
  for (let i = 0; i < n; i++) {
    const img = pixels.subarray(i * D, (i + 1) * D);
    zlib += deflateSync(img, { level: 9 }).length;
    png += encodePng(img, w, h, 1, 9).length;
  }
  const xzImages = Math.min(n, 2000);
  let xz: number | string;
  try {
    const packed = execFileSync('xz', ['-9e', '-c', '--format=xz'], { input: pixels.subarray(0, xzImages * D), maxBuffer: 1 << 26 });
    xz = (8 * packed.length) / (xzImages * D);
  } catch (e) {
    xz = `xz unavailable (${(e as Error).message.split('\n')[0]})`;
  }
  return { images: n, zlib: (8 * zlib) / (n * D), png: (8 * png) / (n * D), xz, xzImages };
}
