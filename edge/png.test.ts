/** The PNG encoder (core/png.ts) and the API's grid write files a standard inflater and parser read back pixel for pixel. */
import { inflateSync } from 'node:zlib';
import { expect, it } from 'vitest';
import { encodePng } from '../core/png';
import { gridPng } from './app';

function readPng(png: Uint8Array): { width: number; height: number; colour: number; raw: Uint8Array } {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  let o = 8;
  let width = 0, height = 0, colour = -1;
  const idat: Uint8Array[] = [];
  while (o < png.length) {
    const len = view.getUint32(o);
    const type = String.fromCharCode(...png.subarray(o + 4, o + 8));
    const data = png.subarray(o + 8, o + 8 + len);
    if (type === 'IHDR') {
      width = view.getUint32(o + 8);
      height = view.getUint32(o + 12);
      colour = data[9];
    }
    if (type === 'IDAT') idat.push(data);
    o += 12 + len;
  }
  return { width, height, colour, raw: new Uint8Array(inflateSync(Buffer.concat(idat))) };
}

it('encodes gray and RGB pixels that inflate back exactly', () => {
  const px = Uint8Array.from({ length: 5 * 3 * 3 }, (_, i) => (i * 37) % 256);
  const { width, height, colour, raw } = readPng(encodePng(px, 5, 3, 3));
  expect({ width, height, colour }).toEqual({ width: 5, height: 3, colour: 2 });
  for (let y = 0; y < 3; y++) {
    expect(raw[y * 16]).toBe(0); // filter byte
    expect([...raw.subarray(y * 16 + 1, y * 16 + 16)]).toEqual([...px.subarray(y * 15, y * 15 + 15)]);
  }
  const big = Uint8Array.from({ length: 400 * 500 }, (_, i) => (i * 7) % 251); // several deflate blocks
  const grey = readPng(encodePng(big, 400, 500, 1, 9));
  expect({ width: grey.width, height: grey.height, colour: grey.colour }).toEqual({ width: 400, height: 500, colour: 0 });
  for (let y = 0; y < 500; y += 97) expect(grey.raw.subarray(y * 401 + 1, (y + 1) * 401)).toEqual(big.subarray(y * 400, (y + 1) * 400));
  expect(() => encodePng(big, 400, 499, 1)).toThrow(/200000 bytes for 400x499x1/);
});

it('tiles samples into a grid with a 1-pixel gap, clamping to 0..255', () => {
  const samples = new Float32Array([0, 300, -5, 128.9, 10, 20, 30, 40, 1, 2, 3, 4]); // three 2x2 images
  const { width, height, colour, raw } = readPng(gridPng(samples, 3, [2, 2]));
  expect({ width, height, colour }).toEqual({ width: 5, height: 5, colour: 0 });
  const row = (y: number) => [...raw.subarray(y * 6 + 1, y * 6 + 6)];
  expect(row(0)).toEqual([0, 255, 0, 10, 20]);
  expect(row(1)).toEqual([0, 128, 0, 30, 40]);
  expect(row(3)).toEqual([1, 2, 0, 0, 0]);
});

it("'adaptive' filters rows that a PNG reader's unfiltering gives back exactly, with each filter used where it pays", () => {
  // 3 channels, 6 x 4: a flat row, a horizontal ramp, a copy of the row above, and noise
  const [w, h] = [6, 4];
  const px = new Uint8Array(w * h * 3);
  for (let x = 0; x < w * 3; x++) {
    px[x] = 200;
    px[w * 3 + x] = 10 * x;
    px[2 * w * 3 + x] = 10 * x;
    px[3 * w * 3 + x] = (x * 97 + 13) % 256;
  }
  const { raw } = readPng(encodePng(px, w, h, 3, 9, 'adaptive'));
  const stride = w * 3;
  const out = new Uint8Array(w * h * 3);
  const filters: number[] = [];
  // the PNG specification's reconstruction, byte by byte
  for (let y = 0; y < h; y++) {
    const f = raw[y * (stride + 1)];
    filters.push(f);
    for (let i = 0; i < stride; i++) {
      const a = i >= 3 ? out[y * stride + i - 3] : 0;
      const b = y > 0 ? out[(y - 1) * stride + i] : 0;
      const c = i >= 3 && y > 0 ? out[(y - 1) * stride + i - 3] : 0;
      const p = a + b - c;
      const paeth = Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c) ? a : Math.abs(p - b) <= Math.abs(p - c) ? b : c;
      const pred = [0, a, b, (a + b) >> 1, paeth][f];
      out[y * stride + i] = (raw[y * (stride + 1) + 1 + i] + pred) & 255;
    }
  }
  expect(out).toEqual(px);
  // the row equal to the one above is coded as Up; the ramp differs from no filter
  expect(filters[2]).toBe(2);
  expect(filters[1]).not.toBe(0);
  expect(filters.every((f) => f >= 0 && f <= 4)).toBe(true);
});
