// The anomaly score's maths (core/score.ts) and the shipped calibrations.
import fc from 'fast-check';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { complexityBits } from './complexity';
import { Prng } from './prng';
import type { Manifest } from './manifest';
import { CALIBRATION_LEVELS, calibrationProblem, calibrationQuantiles, COMPRESSORS, percentileOf, rowScores, standardiser, thresholdFor, thresholdLevel, type Calibration } from './score';

const MODELS = join(import.meta.dirname, '..', 'models');
const shipped = (): Manifest[] =>
  readdirSync(MODELS)
    .filter((d) => existsSync(join(MODELS, d, 'manifest.json')))
    .map((d) => JSON.parse(readFileSync(join(MODELS, d, 'manifest.json'), 'utf8')) as Manifest);

const samples = fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 300 });

describe('calibration quantiles', () => {
  it('are non-decreasing, span the scores and have one value per level, for any scores', () => {
    fc.assert(
      fc.property(samples, (v) => {
        const q = calibrationQuantiles(v);
        expect(q.length).toBe(CALIBRATION_LEVELS);
        for (let i = 1; i < q.length; i++) expect(q[i]).toBeGreaterThanOrEqual(q[i - 1]);
        expect(q[0] === Math.min(...v)).toBe(true); // === : -0 and 0 are one score
        expect(q[q.length - 1] === Math.max(...v)).toBe(true);
      }),
    );
  });

  it('are monotone in every calibrated shipped image model, calibrated on its held-out split with the trap-proof method', () => {
    const images = shipped().filter((m) => m.shape.length === 2 && m.calibration);
    // the MNIST flow and VAE ship calibrated; a model exported before calibration existed gets it on its next export
    expect(images.map((m) => m.id)).toEqual(expect.arrayContaining(['flow-realnvp-ms-mnist', 'vae-conv-mnist']));
    for (const m of images) {
      const c = m.calibration;
      expect(calibrationProblem(c), m.id).toBeNull();
      expect(c!.method).toBe('typicality+complexity');
      expect(c!.data.dataset).toBe(m.dataset);
      expect(c!.data.split).toMatch(/^test rows 0-/);
      for (let i = 1; i < c!.quantiles.length; i++) expect(c!.quantiles[i], `${m.id} level ${i}`).toBeGreaterThanOrEqual(c!.quantiles[i - 1]);
    }
  });

  it('are refused when they decrease, are not finite or have the wrong count', () => {
    const good = shipped().find((m) => m.calibration)!.calibration!;
    expect(calibrationProblem(good)).toBeNull();
    const q = [...good.quantiles];
    [q[100], q[101]] = [q[101] + 1, q[100]];
    expect(calibrationProblem({ ...good, quantiles: q })).toMatch(/decrease/);
    expect(calibrationProblem({ ...good, quantiles: good.quantiles.slice(1) })).toMatch(/quantiles/);
    expect(calibrationProblem({ ...good, quantiles: good.quantiles.map((v, i) => (i === 5 ? NaN : v)) })).toMatch(/finite/);
    expect(calibrationProblem(undefined)).toBe('no calibration');
  });
});

describe('threshold and percentile', () => {
  it('the threshold level is 1 - fpr raised by a one-sided 95% binomial bound, shrinking with the held-out rows', () => {
    expect(thresholdLevel(0.05, 500)).toBeCloseTo(0.95 + 1.6449 * Math.sqrt(0.0475 / 500), 6);
    expect(thresholdLevel(0.05, 500)).toBeCloseTo(0.966, 3);
    expect(thresholdLevel(0.05, 2000)).toBeCloseTo(0.958, 3);
    expect(thresholdLevel(0.05, 1e9)).toBeCloseTo(0.95, 4);
    expect(thresholdLevel(0.5, 1)).toBe(1);
    // simulated: rows from one distribution, thresholds from 500 of them flag at most 5% of new rows in >= 90% of draws
    const rng = new Prng(7);
    let within = 0;
    for (let trial = 0; trial < 200; trial++) {
      const cal = calibrationQuantiles(rng.normals(500));
      const t = thresholdFor(cal, 0.05, 500);
      const fresh = rng.normals(2000);
      if (fresh.filter((v) => v > t).length / fresh.length <= 0.05) within++;
    }
    expect(within / 200).toBeGreaterThanOrEqual(0.9);
  });

  it('the threshold at fpr is exceeded by under fpr of the calibration scores, by the bound for their number, and percentiles invert the quantiles', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -100, max: 100, noNaN: true }), { minLength: 400, maxLength: 400 }), fc.double({ min: 0.01, max: 0.5, noNaN: true }), (v, fpr) => {
        const q = calibrationQuantiles(v);
        const t = thresholdFor(q, fpr, v.length);
        const over = v.filter((s) => s > t).length / v.length;
        const level = thresholdLevel(fpr, v.length);
        expect(over).toBeLessThanOrEqual(1 - level + 0.01);
        expect(level).toBeGreaterThan(1 - fpr);
        // a score above the threshold sits above the bound's percentile, one below it under
        expect(percentileOf(q, t + 1e-6 + Math.abs(t) * 1e-9)).toBeGreaterThanOrEqual(100 * level - 1e-6);
        expect(percentileOf(q, q[0] - 1)).toBe(0);
        expect(percentileOf(q, q[q.length - 1] + 1)).toBe(100);
      }),
      { numRuns: 50 },
    );
  });
});

describe('scores', () => {
  const cal = { nll: standardiser([2, 2.5, 3, 3.5, 4, 6, 9]), corrected: standardiser([0.5, 0.6, 0.8, 1, 1.2, 2]) };
  it('typicality flags rows too likely as well as too unlikely; the corrected score only the unlikely', () => {
    const D = 784;
    const nats = (bits: number) => -bits * D * Math.LN2;
    const likely = rowScores(nats(0.5), D, 'typicality+complexity', 0.4, cal);
    const typical = rowScores(nats(3), D, 'typicality+complexity', 2.2, cal);
    expect(likely.typicality!).toBeGreaterThan(typical.typicality! + 3);
    expect(likely.anomaly).toBeGreaterThan(typical.anomaly);
    expect(likely.corrected).toBeCloseTo(0.1, 9);
    // 2-D models: one-sided standardised nll
    expect(rowScores(nats(9), 2, 'nll', undefined, cal).anomaly).toBeGreaterThan(rowScores(nats(3), 2, 'nll', undefined, cal).anomaly);
  });

  it.each(COMPRESSORS)('complexity (%s): a blank image compresses far below a noise image, and values are clamped to pixels', (c) => {
    const blank = complexityBits(new Array(784).fill(0), 28, c);
    const noise = complexityBits(Array.from(new Prng(5).uniforms(784), (u) => Math.floor(u * 256)), 28, c);
    expect(blank).toBeLessThan(0.3);
    expect(noise).toBeGreaterThan(blank * 10);
    expect(complexityBits(new Array(784).fill(0.7), 28, c)).toBe(blank);
    expect(() => complexityBits(new Array(784).fill(0), 27, c)).toThrow(/not rows of 27/);
  });

  it("complexity png-9: PNG's filters code a smooth image in far fewer bits than raw zlib, and it is the default", () => {
    // a diagonal ramp: every row a shifted gradient, no repeated byte runs for raw deflate, all-constant residuals for Sub
    const ramp = Array.from({ length: 784 }, (_, i) => (3 * (i % 28) + 5 * Math.floor(i / 28)) % 256);
    expect(complexityBits(ramp, 28, 'png-9')).toBeLessThan(complexityBits(ramp, 28, 'zlib-9') / 3);
    expect(complexityBits(ramp, 28)).toBe(complexityBits(ramp, 28, 'png-9'));
  });

  it('the typicality enters the anomaly times the calibration typicalityWeight (absent: 1)', () => {
    const D = 784;
    const nats = (bits: number) => -bits * D * Math.LN2;
    // far too likely, ordinary corrected score: the typicality decides the anomaly
    const [one, weighted] = [cal, { ...cal, typicalityWeight: 0.5 }].map((c) => rowScores(nats(0.5), D, 'typicality+complexity', -0.2, c));
    expect(one.typicality).toBe(weighted.typicality);
    expect(one.anomaly).toBeCloseTo(one.typicality!, 9);
    expect(weighted.anomaly).toBeCloseTo(0.5 * one.typicality!, 9);
    const full: Calibration = { method: 'typicality+complexity', estimator: { k: 1, seed: 0 }, compressor: 'png-9', data: { dataset: 'mnist', split: 'test', rows: 7 }, ...cal, quantiles: calibrationQuantiles([1, 2, 3]) };
    expect(calibrationProblem({ ...full, typicalityWeight: 0.8 })).toBeNull();
    expect(calibrationProblem({ ...full, typicalityWeight: -1 })).toMatch(/typicality weight -1/);
  });
});
