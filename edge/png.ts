/**
 * A small PNG encoder for sample grids: 8-bit grayscale or RGB, no filters.
 * The zlib stream comes from CompressionStream('deflate') (which writes the
 * zlib wrapper PNG wants, in workerd, Node and browsers); where that is absent
 * we fall back to stored (uncompressed) deflate blocks, which any decoder reads.
 */

import { crc32 } from '../core/checkpoint';

function adler32(bytes: Uint8Array): number {
  let a = 1;
  let b = 0;
  for (let i = 0; i < bytes.length; i++) {
    a = (a + bytes[i]) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

/** zlib stream of stored blocks (at most 65535 bytes each). */
export function zlibStored(data: Uint8Array): Uint8Array {
  const blocks = Math.max(1, Math.ceil(data.length / 65535));
  const out = new Uint8Array(2 + blocks * 5 + data.length + 4);
  out[0] = 0x78;
  out[1] = 0x01;
  let o = 2;
  for (let i = 0; i < blocks; i++) {
    const chunk = data.subarray(i * 65535, Math.min(data.length, (i + 1) * 65535));
    out[o++] = i === blocks - 1 ? 1 : 0;
    out[o++] = chunk.length & 0xff;
    out[o++] = chunk.length >>> 8;
    out[o++] = ~chunk.length & 0xff;
    out[o++] = (~chunk.length >>> 8) & 0xff;
    out.set(chunk, o);
    o += chunk.length;
  }
  new DataView(out.buffer).setUint32(o, adler32(data));
  return out;
}

async function zlib(data: Uint8Array): Promise<Uint8Array> {
  if (typeof CompressionStream === 'undefined') return zlibStored(data);
  const stream = new Blob([data as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new CompressionStream('deflate'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/** Encode width x height pixels (channels 1 = gray, 3 = RGB), row-major, as PNG. */
export async function encodePng(pixels: Uint8Array, width: number, height: number, channels: 1 | 3): Promise<Uint8Array> {
  const stride = width * channels;
  const raw = new Uint8Array(height * (stride + 1)); // each row starts with filter type 0
  for (let y = 0; y < height; y++) raw.set(pixels.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  const header = new Uint8Array(13);
  const hv = new DataView(header.buffer);
  hv.setUint32(0, width);
  hv.setUint32(4, height);
  header[8] = 8; // bit depth
  header[9] = channels === 1 ? 0 : 2; // colour type
  const parts = [
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', await zlib(raw)),
    chunk('IEND', new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * Tile n samples (each h x w x channels, values in pixel units [0, 256)) into a
 * near-square grid with a 1-pixel gap, and encode it.
 */
export function gridPng(samples: Float32Array, n: number, shape: number[]): Promise<Uint8Array> {
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
