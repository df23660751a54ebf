import { describe, expect, it } from 'vitest';
import { Prng, sampleNoise } from './prng';

describe('Prng', () => {
  it('repeats exactly for a seed and differs across seeds', () => {
    const a = new Prng(42).normals(1000);
    const b = new Prng(42).normals(1000);
    const c = new Prng(43).normals(1000);
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(c));
  });

  it('draws standard normals (mean 0, variance 1) and uniforms in [0,1)', () => {
    const rng = new Prng(7);
    const n = 200_000;
    const x = rng.normals(n);
    const mean = x.reduce((s, v) => s + v, 0) / n;
    const variance = x.reduce((s, v) => s + (v - mean) ** 2, 0) / n;
    expect(Math.abs(mean)).toBeLessThan(0.01);
    expect(Math.abs(variance - 1)).toBeLessThan(0.02);
    const u = rng.uniforms(n);
    expect(u.every((v) => v >= 0 && v < 1)).toBe(true);
    const umean = u.reduce((s, v) => s + v, 0) / n;
    expect(Math.abs(umean - 0.5)).toBeLessThan(0.005);
  });

  it('shuffles into a permutation', () => {
    const items = Array.from({ length: 100 }, (_, i) => i);
    new Prng(1).shuffle(items);
    expect([...items].sort((p, q) => p - q)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(items).not.toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it('rejects seeds that are not 32-bit unsigned integers', () => {
    expect(() => new Prng(-1)).toThrow(RangeError);
    expect(() => new Prng(1.5)).toThrow(RangeError);
    expect(() => new Prng(2 ** 32)).toThrow(RangeError);
  });

  it('sampleNoise draws z first, then observation noise, both scaled by temperature', () => {
    const { z, noise } = sampleNoise(5, 3, 4, { temperature: 0.5, observationDim: 2 });
    const rng = new Prng(5);
    const zRef = rng.normals(12, 0.5);
    const noiseRef = rng.normals(6, 0.5);
    expect(Array.from(z)).toEqual(Array.from(zRef));
    expect(Array.from(noise!)).toEqual(Array.from(noiseRef));
    // the first rows do not depend on n: a larger request starts with the same latents
    expect(Array.from(sampleNoise(5, 10, 4).z.slice(0, 12))).toEqual(Array.from(sampleNoise(5, 3, 4).z));
  });
});
