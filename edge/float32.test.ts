/** float32Json: every float32 reads back bit for bit, with the fewest digits (toPrecision search as the reference). */
import { expect, it } from 'vitest';
import { Prng } from '../core/prng';
import { float32Json, float32JsonReference } from './float32';

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
