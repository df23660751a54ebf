/**
 * Float64 reference of core/spec.ts `MadeSpec`, row by row, independent of
 * train/: the masked net with explicit degree checks instead of the masks.
 */
import { madeComponents, madeNet } from '../../core/families';
import { dataDim, preSupport, type MadeSpec, type NamedWeight } from '../../core/spec';
import { refMlp, refPost, refPre } from './fixtures';

const LOG2PI = Math.log(2 * Math.PI);

/** erf by Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7): enough to pick the same mixture component. */
function erf(x: number): number {
  const t = 1 / (1 + 0.3275911 * Math.abs(x));
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return x >= 0 ? y : -y;
}

export function madeReference(spec: MadeSpec, weights: NamedWeight[]) {
  const D = dataDim(spec);
  const support = preSupport(spec.preprocess);
  const net = madeNet(spec);
  // degrees as the spec states them, applied by zeroing weights (the graphs fold the same masks)
  const deg = (layer: number, k: number) => (layer === 0 ? k + 1 : D > 1 ? (k % (D - 1)) + 1 : 1);
  const ws = new Map(weights.map((w) => [w.name, w]));
  const masked = new Map(ws);
  const k = net.sizes.length - 1;
  for (let i = 0; i < k; i++) {
    const W = ws.get(`made.${i}.W`)!;
    const [rows, cols] = W.shape;
    const data = Float32Array.from(W.data, (v, j) => {
      const r = Math.floor(j / cols);
      const c = j % cols;
      const keep = i < k - 1 ? deg(i + 1, c) >= deg(i, r) : (c % D) + 1 > deg(i, r);
      return keep ? v : 0;
    });
    masked.set(W.name, { ...W, shape: [rows, cols], data });
  }
  const K = madeComponents(spec);
  /** per dimension d: K means, log-stds and mixture weights */
  const cond = (y: number[]) => {
    const h = refMlp(masked, 'made', net, y);
    return Array.from({ length: D }, (_, d) => {
      const at = (b: number) => Array.from({ length: K }, (_, k) => h[(b * K + k) * D + d]);
      const mu = at(0);
      const alpha = at(1).map((a) => Math.max(a, spec.minLogStd));
      if (K === 1) return { mu, alpha, w: [1] };
      const l = at(2);
      const top = Math.max(...l);
      const e = l.map((v) => Math.exp(v - top));
      const z = e.reduce((a, b) => a + b, 0);
      return { mu, alpha, w: e.map((v) => v / z) };
    });
  };
  return {
    density: (x: number[][]) => ({
      logp: x.map((r) => {
        const { y, logdet } = refPre(spec.preprocess, r);
        const c = cond(y);
        return y.reduce((s, v, d) => {
          const { mu, alpha, w } = c[d];
          const p = w.reduce((a, wk, k) => a + wk * Math.exp(-0.5 * LOG2PI - alpha[k] - 0.5 * ((v - mu[k]) * Math.exp(-alpha[k])) ** 2), 0);
          return s + Math.log(p);
        }, 0) + logdet;
      }),
    }),
    /** sequential sampling, one dimension at a time (no fixed-point trick) */
    sample: (z: number[][]) => ({
      x: z.map((noise) => {
        const y = new Array(D).fill(0);
        for (let d = 0; d < D; d++) {
          const { mu, alpha, w } = cond(y)[d];
          // K > 1: the component whose cdf segment holds Phi(z[D + d]); the last takes the rest
          const u = K > 1 ? 0.5 * (1 + erf(noise[D + d] / Math.SQRT2)) : 0;
          let k = 0;
          for (let acc = w[0]; k < K - 1 && u >= acc; acc += w[++k]);
          y[d] = mu[k] + Math.exp(alpha[k]) * noise[d];
          if (support) y[d] = Math.min(support[1], Math.max(support[0], y[d]));
        }
        return refPost(spec.preprocess, y);
      }),
    }),
  };
}
