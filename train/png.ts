/**
 * A minimal PNG writer (8-bit RGB, no interlace) on node:zlib, and the two
 * pictures training writes at each evaluation: a grid of image samples, and
 * 2-D samples drawn over a density heat-map.
 *
 * PNG layout: signature, IHDR, IDAT (zlib of rows, each prefixed by filter
 * byte 0), IEND; each chunk is length, type, data, CRC-32 of type + data.
 */
import { deflateSync } from 'node:zlib';
import { crc32 } from '../core';

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  out.set(new TextEncoder().encode(type), 4);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/** pixels: row-major width*height*channels bytes; 3 channels = RGB, 1 = grey. */
export function encodePng(width: number, height: number, pixels: Uint8Array, channels: 1 | 3 = 3): Uint8Array {
  if (pixels.length !== width * height * channels) throw new Error(`png: ${pixels.length} bytes for ${width}x${height}x${channels}`);
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, width);
  v.setUint32(4, height);
  ihdr.set([8, channels === 3 ? 2 : 0, 0, 0, 0], 8); // bit depth 8, colour type 2 (RGB) or 0 (grey)
  const row = width * channels;
  const raw = new Uint8Array(height * (1 + row));
  for (let y = 0; y < height; y++) raw.set(pixels.subarray(y * row, (y + 1) * row), y * (1 + row) + 1);
  const parts = [
    Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Grey images [n, h*w] with values in [0, 256) tiled `cols` wide, 2 px gaps. */
export function imageGrid(x: Float32Array, n: number, h: number, w: number, cols: number): Uint8Array {
  const rowsN = Math.ceil(n / cols);
  const W = cols * (w + 2) + 2;
  const H = rowsN * (h + 2) + 2;
  const rgb = new Uint8Array(W * H * 3).fill(40);
  for (let k = 0; k < n; k++) {
    const ox = 2 + (k % cols) * (w + 2);
    const oy = 2 + Math.floor(k / cols) * (h + 2);
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < w; j++) {
        const g = Math.max(0, Math.min(255, Math.floor(x[k * h * w + i * w + j])));
        rgb.fill(g, ((oy + i) * W + ox + j) * 3, ((oy + i) * W + ox + j) * 3 + 3);
      }
    }
  }
  return encodePng(W, H, rgb);
}

/**
 * A size x size picture of the square [lo, hi]^2: `logp` (size*size values,
 * row 0 = top = largest y) as a heat-map scaled to its own range, and `points`
 * [n, 2] as white dots.
 */
export function scatterOverHeat(size: number, lo: number, hi: number, logp: ArrayLike<number> | undefined, points: Float32Array): Uint8Array {
  const rgb = new Uint8Array(size * size * 3);
  if (logp) {
    const p = Array.from(logp, (v) => (Number.isFinite(v) ? Math.exp(v) : 0));
    const max = Math.max(...p, 1e-30);
    for (let i = 0; i < size * size; i++) {
      const t = Math.sqrt(p[i] / max); // sqrt: low-density regions stay visible
      rgb[3 * i] = Math.round(30 + 200 * t);
      rgb[3 * i + 1] = Math.round(20 + 90 * t);
      rgb[3 * i + 2] = Math.round(60 + 40 * (1 - t));
    }
  } else {
    rgb.fill(30);
  }
  const n = points.length / 2;
  for (let k = 0; k < n; k++) {
    const c = Math.floor(((points[2 * k] - lo) / (hi - lo)) * size);
    const r = Math.floor(((hi - points[2 * k + 1]) / (hi - lo)) * size);
    if (c < 0 || c >= size || r < 0 || r >= size) continue;
    rgb.fill(255, (r * size + c) * 3, (r * size + c) * 3 + 3);
  }
  return encodePng(size, size, rgb);
}

/** Centres of a size x size grid over [lo, hi]^2 in the row order scatterOverHeat reads. */
export function gridPoints(size: number, lo: number, hi: number): Float32Array {
  const out = new Float32Array(size * size * 2);
  const step = (hi - lo) / size;
  for (let r = 0; r < size; r++) {
    for (let c = 0; c < size; c++) {
      out[2 * (r * size + c)] = lo + (c + 0.5) * step;
      out[2 * (r * size + c) + 1] = hi - (r + 0.5) * step;
    }
  }
  return out;
}
