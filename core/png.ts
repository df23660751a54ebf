/**
 * The one PNG encoder: 8-bit grey or RGB, no interlace, rows unfiltered (filter
 * byte 0) or each with the filter that suits it. Training's evaluation pictures (train/png.ts), the API's sample grids
 * (edge/png.ts) and the compressor baseline (bench/compressors.ts) all call it.
 *
 * Layout: signature, IHDR, IDAT (the zlib stream of the rows), IEND; each
 * chunk is length, type, data, CRC-32 of type + data.
 *
 * Why fflate: it is one synchronous pure-JS zlib that runs the same in Node,
 * workerd and browsers (core/complexity.ts says more), so the same pixels give
 * the same file on every runtime. Like complexity.ts, this file is not
 * re-exported by core/index.ts: only its users load fflate.
 */
import { zlibSync } from 'fflate';
import { crc32 } from './checkpoint';

/** zlib compression level of the IDAT stream: 0 (stored) to 9 (smallest, slowest). */
export type PngLevel = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9;

const SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/** PNG's five row filters (None, Sub, Up, Average, Paeth): the predictor of a byte from its left, upper and upper-left neighbours. */
function predict(filter: number, a: number, b: number, c: number): number {
  if (filter === 1) return a;
  if (filter === 2) return b;
  if (filter === 3) return (a + b) >> 1;
  if (filter === 4) {
    const p = a + b - c;
    const [pa, pb, pc] = [Math.abs(p - a), Math.abs(p - b), Math.abs(p - c)];
    return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
  }
  return 0;
}

/**
 * The rows as a PNG's IDAT stream holds them before deflate: each row its filter
 * byte, then its bytes minus their prediction (mod 256). 'none': filter 0
 * everywhere; 'adaptive': per row the filter whose residuals, read as signed
 * bytes, have the smallest sum of magnitudes (the heuristic the PNG
 * specification recommends and libpng uses), which turns smooth gradients and
 * flat areas into runs of zeros that deflate codes in a few bits.
 */
export function filterRows(pixels: Uint8Array, width: number, height: number, channels: 1 | 3, filter: 'none' | 'adaptive' = 'none'): Uint8Array {
  const stride = width * channels;
  const out = new Uint8Array(height * (stride + 1));
  const row = new Uint8Array(stride);
  for (let y = 0; y < height; y++) {
    const o = y * (stride + 1);
    const at = (i: number) => pixels[y * stride + i];
    const up = (i: number) => (y > 0 ? pixels[(y - 1) * stride + i] : 0);
    let best = Infinity;
    for (let f = 0; f < (filter === 'adaptive' ? 5 : 1); f++) {
      let cost = 0;
      for (let i = 0; i < stride; i++) {
        const left = i >= channels ? at(i - channels) : 0;
        const upLeft = i >= channels ? up(i - channels) : 0;
        row[i] = (at(i) - predict(f, left, up(i), upLeft)) & 255;
        cost += row[i] < 128 ? row[i] : 256 - row[i];
      }
      if (cost < best) {
        best = cost;
        out[o] = f;
        out.set(row, o + 1);
      }
    }
  }
  return out;
}

/**
 * Encode `pixels` (row-major width x height x channels bytes; 1 channel = grey,
 * 3 = RGB) as a PNG file. `level` trades encoding time for size: 6 is zlib's
 * default, 9 the smallest file; `filter` 'adaptive' picks each row's filter
 * (`filterRows`), 'none' writes them as they are.
 */
export function encodePng(pixels: Uint8Array, width: number, height: number, channels: 1 | 3, level: PngLevel = 6, filter: 'none' | 'adaptive' = 'none'): Uint8Array {
  if (pixels.length !== width * height * channels) throw new Error(`png: ${pixels.length} bytes for ${width}x${height}x${channels}`);
  const header = new Uint8Array(13);
  const hv = new DataView(header.buffer);
  hv.setUint32(0, width);
  hv.setUint32(4, height);
  header[8] = 8; // bit depth
  header[9] = channels === 1 ? 0 : 2; // colour type: grey or RGB
  const parts = [SIGNATURE, chunk('IHDR', header), chunk('IDAT', zlibSync(filterRows(pixels, width, height, channels, filter), { level })), chunk('IEND', new Uint8Array(0))];
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
