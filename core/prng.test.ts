import { describe, expect, it } from 'vitest';
import { Prng, sampleNoise } from './prng';

/** Standard normal CDF via erfc (Numerical Recipes' Chebyshev fit, relative error < 1.2e-7). */
function normalCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * z);
  const erfc =
    t *
    Math.exp(
      -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? 1 - erfc / 2 : erfc / 2;
}

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

  it('normals() is normal() n times, bit for bit, through the ziggurat\'s rare paths too', () => {
    const many = new Prng(3).normals(300_000);
    const one = new Prng(3);
    const tails = many.filter((v) => Math.abs(v) > 3.4426).length;
    expect(tails).toBeGreaterThan(50); // the tail branch ran (~173 expected)
    for (let i = 0; i < many.length; i++) {
      if (Math.fround(one.normal()) !== many[i]) throw new Error(`draw ${i} differs`);
    }
    // scale multiplies the same draws before the float32 rounding
    const scaled = new Prng(3).normals(1000, 0.5);
    const again = new Prng(3);
    for (let i = 0; i < 1000; i++) expect(scaled[i]).toBe(Math.fround(again.normal() * 0.5));
  });

  it('normals fit the standard normal: chi-square over 200 bins, the tail mass and the far tail', () => {
    const n = 1_000_000;
    const x = new Prng(11).normals(n);
    // bins of equal probability between the edges -4..4 (0.04 wide), plus the two tails
    const edges = Array.from({ length: 201 }, (_, i) => -4 + i * 0.04);
    const counts = new Float64Array(202);
    for (const v of x) {
      const k = v < -4 ? 0 : v >= 4 ? 201 : 1 + Math.min(199, Math.floor((v + 4) / 0.04));
      counts[k]++;
    }
    let chi2 = 0;
    for (let k = 0; k < 202; k++) {
      const lo = k === 0 ? -Infinity : edges[k - 1];
      const hi = k === 201 ? Infinity : edges[k];
      const expected = n * ((hi === Infinity ? 1 : normalCdf(hi)) - (lo === -Infinity ? 0 : normalCdf(lo)));
      chi2 += (counts[k] - expected) ** 2 / expected;
    }
    // 201 degrees of freedom: the 0.999 quantile is ~272; a wrong wedge or tail table lands far above
    expect(chi2).toBeLessThan(272);
    // mass beyond the ziggurat's r = 3.4426 (drawn by its tail method): 2(1 - Phi(r)) = 5.76e-4
    const beyond = x.filter((v) => Math.abs(v) > 3.442619855899).length;
    expect(Math.abs(beyond - n * 2 * (1 - normalCdf(3.442619855899)))).toBeLessThan(5 * Math.sqrt(n * 5.76e-4));
    // and beyond 4.5 (3.4e-6 per draw): the tail is not cut short
    expect(x.some((v) => Math.abs(v) > 4.5)).toBe(true);
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
