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
