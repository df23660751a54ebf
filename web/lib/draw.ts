/** Drawing samples: a grid of grayscale images on a canvas. */

/**
 * Rows of an image model (pixels in [0, 256), clamped) as a grid of tiles on
 * `canvas`, `columns` wide, each pixel `scale` canvas pixels; the canvas is
 * resized to fit.
 */
export function drawImageGrid(canvas: HTMLCanvasElement, rows: ReadonlyArray<ArrayLike<number>>, shape: readonly number[], columns = 8, scale = 3): void {
  if (shape.length !== 2) throw new Error(`drawImageGrid draws images; rows of shape [${shape}] are not`);
  const [h, w] = shape;
  const gap = 2;
  const nCols = Math.max(1, Math.min(columns, rows.length));
  const nRows = Math.max(1, Math.ceil(rows.length / nCols));
  canvas.width = nCols * (w * scale + gap) + gap;
  canvas.height = nRows * (h * scale + gap) + gap;
  const ctx = canvas.getContext('2d')!;
  ctx.fillStyle = '#223';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  const img = ctx.createImageData(w, h);
  // one tile canvas, drawn scaled: putImageData itself cannot scale
  const tile = document.createElement('canvas');
  tile.width = w;
  tile.height = h;
  const tctx = tile.getContext('2d')!;
  ctx.imageSmoothingEnabled = false;
  rows.forEach((row, k) => {
    for (let i = 0; i < w * h; i++) {
      const v = Math.max(0, Math.min(255, Math.round(row[i])));
      img.data[4 * i] = img.data[4 * i + 1] = img.data[4 * i + 2] = v;
      img.data[4 * i + 3] = 255;
    }
    tctx.putImageData(img, 0, 0);
    const c = k % nCols;
    const r = Math.floor(k / nCols);
    ctx.drawImage(tile, gap + c * (w * scale + gap), gap + r * (h * scale + gap), w * scale, h * scale);
  });
}
