/**
 * The one PNG encoder: 8-bit grey or RGB, no interlace, every row with filter
 * byte 0. Training's evaluation pictures (train/png.ts), the API's sample grids
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

/**
 * Encode `pixels` (row-major width x height x channels bytes; 1 channel = grey,
 * 3 = RGB) as a PNG file. `level` trades encoding time for size: 6 is zlib's
 * default, 9 the smallest file.
 */
export function encodePng(pixels: Uint8Array, width: number, height: number, channels: 1 | 3, level: PngLevel = 6): Uint8Array {
  if (pixels.length !== width * height * channels) throw new Error(`png: ${pixels.length} bytes for ${width}x${height}x${channels}`);
  const header = new Uint8Array(13);
  const hv = new DataView(header.buffer);
  hv.setUint32(0, width);
  hv.setUint32(4, height);
  header[8] = 8; // bit depth
  header[9] = channels === 1 ? 0 : 2; // colour type: grey or RGB
  const stride = width * channels;
  const raw = new Uint8Array(height * (stride + 1)); // each row starts with filter type 0
  for (let y = 0; y < height; y++) raw.set(pixels.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  const parts = [SIGNATURE, chunk('IHDR', header), chunk('IDAT', zlibSync(raw, { level })), chunk('IEND', new Uint8Array(0))];
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
