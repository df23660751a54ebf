/**
 * Canvas drawing: image grids, 2-D scatter plots over an optional density
 * heat-map, and a histogram with a marker. Pure functions of their inputs.
 */

export interface Box {
  /** data-space bounds of both axes */
  min: number;
  max: number;
}

/** Grids of images: the library's, which the example page draws with too. */
export { drawImageGrid } from '../lib';

/** Bounds that hold the training range with a margin. */
export function boxFromRange(range: [number, number]): Box {
  const pad = 0.1 * (range[1] - range[0] || 1);
  return { min: range[0] - pad, max: range[1] + pad };
}

/**
 * Bounds for a scatter plot: the training range, widened to hold the middle
 * 98% of the points on both axes (a few outliers must not shrink the rest).
 */
export function boxFor(range: [number, number], points: Float32Array[]): Box {
  const box = boxFromRange(range);
  if (points.length === 0) return box;
  const vals = points.flatMap((p) => [p[0], p[1]]).filter(Number.isFinite).sort((a, b) => a - b);
  const lo = vals[Math.floor(0.01 * (vals.length - 1))];
  const hi = vals[Math.ceil(0.99 * (vals.length - 1))];
  const pad = 0.05 * (hi - lo || 1);
  return { min: Math.min(box.min, lo - pad), max: Math.max(box.max, hi + pad) };
}

/** Points of an res x res grid over the box, row-major from the top (y max) down. */
export function gridPoints(box: Box, res: number): Float32Array[] {
  const pts: Float32Array[] = [];
  const step = (box.max - box.min) / res;
  for (let r = 0; r < res; r++) {
    for (let c = 0; c < res; c++) {
      pts.push(Float32Array.of(box.min + (c + 0.5) * step, box.max - (r + 0.5) * step));
    }
  }
  return pts;
}

/** A perceptually ordered dark-blue -> teal -> yellow ramp (viridis-like), t in [0, 1]. */
function ramp(t: number): [number, number, number] {
  const stops: Array<[number, number, number]> = [
    [68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37],
  ];
  const x = Math.max(0, Math.min(1, t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  return [0, 1, 2].map((j) => Math.round(stops[i][j] * (1 - f) + stops[i + 1][j] * f)) as [number, number, number];
}

/**
 * Scatter plot of 2-D points; with `heat` (log-densities on gridPoints(box, res)),
 * paints the density underneath: colour is log p clipped to the 12 nats below its max.
 */
export function drawScatter(
  canvas: HTMLCanvasElement,
  points: Float32Array[],
  box: Box,
  heat?: { logp: ArrayLike<number>; res: number },
  size = 320,
  /** join the points in order (an interpolation path), marking the first and last */
  path = false,
): void {
  canvas.width = size;
  canvas.height = size;
  const ctx = canvas.getContext('2d')!;
  ctx.fillStyle = '#111';
  ctx.fillRect(0, 0, size, size);
  if (heat) {
    let hi = -Infinity;
    for (let i = 0; i < heat.logp.length; i++) if (Number.isFinite(heat.logp[i])) hi = Math.max(hi, heat.logp[i]);
    const img = ctx.createImageData(heat.res, heat.res);
    for (let i = 0; i < heat.res * heat.res; i++) {
      const v = heat.logp[i];
      const [r, g, b] = Number.isFinite(v) ? ramp(1 + (v - hi) / 12) : [0, 0, 0];
      img.data.set([r, g, b, 255], 4 * i);
    }
    const tile = document.createElement('canvas');
    tile.width = tile.height = heat.res;
    tile.getContext('2d')!.putImageData(img, 0, 0);
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(tile, 0, 0, size, size);
  }
  const px = (v: number): number => ((v - box.min) / (box.max - box.min)) * size;
  // axis extent in the corners: both axes share the box
  ctx.fillStyle = heat ? '#fff' : '#aaa';
  ctx.font = '10px system-ui, sans-serif';
  ctx.fillText(box.min.toFixed(1), 3, size - 4);
  ctx.textAlign = 'right';
  ctx.fillText(box.max.toFixed(1), size - 3, size - 4);
  ctx.textAlign = 'left';
  ctx.fillText(box.max.toFixed(1), 3, 11);
  if (path && points.length > 1) {
    ctx.strokeStyle = 'rgba(120,200,255,0.6)';
    ctx.beginPath();
    points.forEach((p, i) => (i ? ctx.lineTo(px(p[0]), size - px(p[1])) : ctx.moveTo(px(p[0]), size - px(p[1]))));
    ctx.stroke();
    ctx.fillStyle = '#fff';
    ctx.font = 'bold 12px system-ui, sans-serif';
    const [a, b] = [points[0], points[points.length - 1]];
    ctx.fillText('A', px(a[0]) + 4, size - px(a[1]) - 4);
    ctx.fillText('B', px(b[0]) + 4, size - px(b[1]) - 4);
  }
  ctx.fillStyle = heat ? 'rgba(255,255,255,0.85)' : 'rgba(120,200,255,0.8)';
  for (const p of points) {
    ctx.beginPath();
    ctx.arc(px(p[0]), size - px(p[1]), 1.8, 0, 2 * Math.PI);
    ctx.fill();
  }
}

/** Histogram of `values` with a vertical marker at `mark`; x axis labelled by `label`. */
export function drawHistogram(canvas: HTMLCanvasElement, values: number[], mark: number | null, label: string): void {
  const W = (canvas.width = 360);
  const H = (canvas.height = 140);
  const ctx = canvas.getContext('2d')!;
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, W, H);
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return;
  // The axis spans the held-out 2nd..98th percentiles (and the marked score):
  // one extreme held-out score would otherwise squash every other bar into
  // one bin. Scores beyond the axis are counted in the edge bins.
  const sorted = [...finite].sort((a, b) => a - b);
  const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * (sorted.length - 1)))];
  const hasMark = mark !== null && Number.isFinite(mark);
  const lo = Math.min(q(0.02), hasMark ? mark! : Infinity);
  const hi = Math.max(q(0.98), hasMark ? mark! : -Infinity) + 1e-9;
  const clippedLo = sorted[0] < lo;
  const clippedHi = sorted[sorted.length - 1] > hi;
  const bins = 24;
  const counts = new Array<number>(bins).fill(0);
  for (const v of finite) counts[Math.max(0, Math.min(bins - 1, Math.floor(((v - lo) / (hi - lo)) * bins)))]++;
  const top = Math.max(...counts);
  const plotH = H - 30;
  ctx.fillStyle = '#6a8fd0';
  counts.forEach((c, i) => {
    const h = (c / top) * (plotH - 10);
    ctx.fillRect(10 + (i * (W - 20)) / bins, plotH - h, (W - 20) / bins - 1, h);
  });
  ctx.fillStyle = '#222';
  ctx.font = '11px system-ui, sans-serif';
  ctx.fillText(`${clippedLo ? '\u2264 ' : ''}${lo.toFixed(1)}`, 10, H - 14);
  ctx.textAlign = 'right';
  ctx.fillText(`${clippedHi ? '\u2265 ' : ''}${hi.toFixed(1)}`, W - 10, H - 14);
  ctx.textAlign = 'center';
  ctx.fillText(label, W / 2, H - 2);
  if (mark !== null && Number.isFinite(mark)) {
    const x = 10 + ((mark - lo) / (hi - lo)) * (W - 20);
    ctx.strokeStyle = '#d33';
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.moveTo(x, 0);
    ctx.lineTo(x, plotH);
    ctx.stroke();
  }
}
