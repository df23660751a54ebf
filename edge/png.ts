/**
 * The API's sample grid as a PNG: n samples tiled into a near-square grid with
 * a 1-pixel gap, grey or RGB, encoded by core/png.ts.
 */
import { encodePng } from '../core/png';

/**
 * Tile n samples (each h x w x channels, values in pixel units [0, 256)) into a
 * near-square grid with a 1-pixel gap, and encode it.
 */
export function gridPng(samples: Float32Array, n: number, shape: number[]): Uint8Array {
  const [h, w] = shape;
  const channels = shape[2] === 3 ? 3 : 1;
  const cols = Math.ceil(Math.sqrt(n));
  const rows = Math.ceil(n / cols);
  const width = cols * (w + 1) - 1;
  const height = rows * (h + 1) - 1;
  const pixels = new Uint8Array(width * height * channels);
  const per = h * w * channels;
  for (let s = 0; s < n; s++) {
    const ox = (s % cols) * (w + 1);
    const oy = Math.floor(s / cols) * (h + 1);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w * channels; x++) {
        const v = samples[s * per + y * w * channels + x];
        pixels[(oy + y) * width * channels + ox * channels + x] = Math.min(255, Math.max(0, Math.floor(v)));
      }
    }
  }
  return encodePng(pixels, width, height, channels);
}
