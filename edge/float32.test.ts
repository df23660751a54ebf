/** float32Json: every float32 reads back bit for bit, with the fewest digits (toPrecision search as the reference); JsonBytes writes the same text. */
import { expect, it } from 'vitest';
import { Prng } from '../core/prng';
import { JsonBytes, float32Json, float32JsonReference } from './float32';

const digits = (text: string) => text.replace(/^-/, '').replace(/e.*$/, '').replace('.', '').replace(/^0+/, '').replace(/0+$/, '').length;

it('round-trips random float32 bit patterns with the shortest digits', () => {
  const rng = new Prng(5);
  const bits = new Uint32Array(20_000);
  for (let i = 0; i < bits.length; i++) bits[i] = rng.nextUint32();
  const values = new Float32Array(bits.buffer);
  let checked = 0;
  const wrong: string[] = [];
  for (const v of [...values, ...[0.5, 0.1, 1, 100, 1e-7, 3.4028234663852886e38, 1.401298464324817e-45, -2.5].map(Math.fround)]) {
    if (!Number.isFinite(v)) continue;
    const text = JSON.stringify(float32Json(v));
    // reads back bit for bit, with as few significant digits as the reference (an exact tie may round either way)
    if (Math.fround(JSON.parse(text)) !== v || digits(text) !== digits(JSON.stringify(float32JsonReference(v)))) wrong.push(`${v} -> ${text}`);
    checked++;
  }
  expect(wrong.slice(0, 5)).toEqual([]);
  expect(checked).toBeGreaterThan(19_000);
  expect(JSON.stringify(float32Json(Math.fround(0.1)))).toBe('0.1');
  expect(float32Json(Infinity)).toBe(Infinity);
});

it('JsonBytes writes the very text JSON.stringify(float32Json(v)) gives, for any float32', () => {
  const rng = new Prng(11);
  const bits = new Uint32Array(200_000);
  for (let i = 0; i < bits.length; i++) bits[i] = rng.nextUint32();
  const special = [0, -0, 1, -1, 0.5, 1e-7, 1e-6, 9.99999e-7, 1e20, 1e21, 123456789, 16777216, 3.4028234663852886e38, 1.401298464324817e-45, -2.5e-12, 1e-30].map(Math.fround);
  const values = [...new Float32Array(bits.buffer), ...rng.normals(50_000), ...special].filter(Number.isFinite);
  const dec = new TextDecoder();
  const wrong: string[] = [];
  // one row of every value: '[[' v0 ',' v1 ... ']]', numbers never hold a comma
  const texts = dec.decode(new JsonBytes(4).rows(Float32Array.from(values), 1, values.length).bytes()).slice(2, -2).split(',');
  expect(texts.length).toBe(values.length);
  values.forEach((v, i) => {
    if (texts[i] !== JSON.stringify(float32Json(v))) wrong.push(`${v}: ${texts[i]} vs ${JSON.stringify(float32Json(v))}`);
  });
  expect(wrong.slice(0, 5)).toEqual([]);
  // rows inside an answer: the text JSON.stringify gives the same values as number[][], from a buffer that grows
  const data = rng.normals(3 * 5);
  const rows = Array.from({ length: 3 }, (_, i) => Array.from(data.subarray(i * 5, i * 5 + 5), float32Json));
  const out = dec.decode(new JsonBytes(1).ascii('{"samples":').rows(data, 3, 5).ascii(',"shape":[5]}').bytes());
  expect(out).toBe(JSON.stringify({ samples: rows, shape: [5] }));
});
