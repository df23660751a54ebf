/**
 * The two pictures training writes at each evaluation: a grid of image
 * samples, and 2-D samples drawn over a density heat-map; both RGB PNGs from
 * core/png.ts's encoder.
 */
import { encodePng } from '../core/png';

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
  return encodePng(rgb, W, H, 3, 9);
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
  return encodePng(rgb, size, size, 3, 9);
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
