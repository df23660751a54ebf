/**
 * 2-D toy distributions, drawn from the project PRNG so a seed fixes them.
 *
 * Three have a density in closed form (exported as `logDensity`), so a model's
 * held-out log-likelihood can be compared with the truth: E[-log p_true] is the
 * best NLL any model can reach (the entropy, estimated on the test set).
 *   eightgaussians: equal mixture of N(c_k, SIGMA_8^2 I), c_k on a circle of radius 2
 *   checkerboard:   uniform on the 8 dark unit squares of a 4x4 board on [-2, 2]^2
 *   rings:          angle ~ U[0, 2pi), radius |r| with r ~ sum_k w_k N(R_k, SIGMA_R^2)
 */
import { Prng } from '../../core';

export const TOYS = ['moons', 'eightgaussians', 'checkerboard', 'spirals', 'rings'] as const;
export type ToyName = (typeof TOYS)[number];
/** accepted spellings on the command line */
export const TOY_ALIASES: Record<string, ToyName> = { '8gaussians': 'eightgaussians', '8g': 'eightgaussians' };

const SIGMA_8 = 0.15;
const RING_R = [0.75, 1.5, 2.25];
// weights proportional to the radius, so the rings have about equal density per unit length
const RING_W = RING_R.map((r) => r / RING_R.reduce((a, b) => a + b, 0));
const SIGMA_R = 0.08;
const LOG_2PI = Math.log(2 * Math.PI);

function logSumExp(v: number[]): number {
  const m = Math.max(...v);
  if (m === -Infinity) return -Infinity;
  return m + Math.log(v.reduce((s, x) => s + Math.exp(x - m), 0));
}

/**
 * A standard normal by Box-Muller on two of the generator's uniforms: how the
 * toy sets were drawn before core/prng.ts's normals became the ziggurat
 * (2026-11-25). A data set is a fixed object that models are scored on (the
 * held-out files in web/public, every moons figure in the docs), so it keeps
 * its numbers; only model noise moved to the faster method.
 */
function dataNormal(rng: Prng): number {
  const u1 = rng.uniformOpen();
  const u2 = rng.uniform();
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

function point(name: ToyName, rng: Prng): [number, number] {
  switch (name) {
    case 'moons': {
      // two interleaved half circles with Gaussian noise 0.1 (the usual "two moons")
      const t = Math.PI * rng.uniform();
      const upper = rng.uniform() < 0.5;
      const x = upper ? Math.cos(t) : 1 - Math.cos(t);
      const y = upper ? Math.sin(t) : 0.5 - Math.sin(t);
      return [x + 0.1 * dataNormal(rng), y + 0.1 * dataNormal(rng)];
    }
    case 'eightgaussians': {
      const k = rng.int(8);
      const a = (2 * Math.PI * k) / 8;
      return [2 * Math.cos(a) + SIGMA_8 * dataNormal(rng), 2 * Math.sin(a) + SIGMA_8 * dataNormal(rng)];
    }
    case 'checkerboard': {
      // pick one of the 8 dark cells (i + j even) then a uniform point in it
      const cell = rng.int(8);
      const i = Math.floor(cell / 2);
      const j = 2 * (cell % 2) + (i % 2);
      return [-2 + j + rng.uniform(), -2 + i + rng.uniform()];
    }
    case 'spirals': {
      // two interleaved Archimedean spirals, radius proportional to the angle
      const t = Math.sqrt(rng.uniform()) * 3 * Math.PI;
      const sign = rng.uniform() < 0.5 ? 1 : -1;
      const r = t / (1.5 * Math.PI);
      return [sign * r * Math.cos(t) + 0.08 * dataNormal(rng), sign * r * Math.sin(t) + 0.08 * dataNormal(rng)];
    }
    case 'rings': {
      let k = 0;
      const u = rng.uniform();
      for (let acc = RING_W[0]; u >= acc && k < RING_R.length - 1; acc += RING_W[++k]);
      const r = Math.abs(RING_R[k] + SIGMA_R * dataNormal(rng));
      const a = 2 * Math.PI * rng.uniform();
      return [r * Math.cos(a), r * Math.sin(a)];
    }
  }
}

/** n points, row-major [n, 2]. */
export function sampleToy(name: ToyName, n: number, rng: Prng): Float32Array {
  const out = new Float32Array(2 * n);
  for (let i = 0; i < n; i++) {
    const [a, b] = point(name, rng);
    out[2 * i] = a;
    out[2 * i + 1] = b;
  }
  return out;
}

function logNormal1(x: number, mu: number, s: number): number {
  return -0.5 * LOG_2PI - Math.log(s) - (0.5 * (x - mu) ** 2) / (s * s);
}

/** The true log-density at (x, y), or undefined where the toy has no closed form. */
export function toyLogDensityFn(name: ToyName): ((x: number, y: number) => number) | undefined {
  switch (name) {
    case 'eightgaussians':
      return (x, y) => {
        const terms: number[] = [];
        for (let k = 0; k < 8; k++) {
          const a = (2 * Math.PI * k) / 8;
          terms.push(logNormal1(x, 2 * Math.cos(a), SIGMA_8) + logNormal1(y, 2 * Math.sin(a), SIGMA_8));
        }
        return logSumExp(terms) - Math.log(8);
      };
    case 'checkerboard':
      return (x, y) => {
        if (x < -2 || x >= 2 || y < -2 || y >= 2) return -Infinity;
        const j = Math.floor(x + 2);
        const i = Math.floor(y + 2);
        return (i + j) % 2 === 0 ? -Math.log(8) : -Infinity;
      };
    case 'rings':
      // polar change of variables: p(x, y) = p_r(r) / (2 pi r); |r| folds the
      // radial Gaussian, so both N(r; R, s) and N(-r; R, s) contribute.
      return (x, y) => {
        const r = Math.hypot(x, y);
        const terms: number[] = [];
        RING_R.forEach((R, k) => {
          terms.push(Math.log(RING_W[k]) + logNormal1(r, R, SIGMA_R));
          terms.push(Math.log(RING_W[k]) + logNormal1(-r, R, SIGMA_R));
        });
        return logSumExp(terms) - Math.log(2 * Math.PI * r);
      };
    default:
      return undefined;
  }
}

/** Row-wise true log-density of a [n, 2] array. */
export function toyLogDensity(name: ToyName, xy: Float32Array): Float64Array | undefined {
  const f = toyLogDensityFn(name);
  if (!f) return undefined;
  const out = new Float64Array(xy.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = f(xy[2 * i], xy[2 * i + 1]);
  return out;
}
