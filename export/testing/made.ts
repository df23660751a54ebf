/**
 * Float64 reference of core/spec.ts `MadeSpec`, row by row, independent of
 * train/: the masked net with explicit degree checks instead of the masks.
 */
import { madeNet } from '../../core/families';
import { dataDim, type MadeSpec, type NamedWeight } from '../../core/spec';
import { refMlp, refPost, refPre } from './fixtures';

const LOG2PI = Math.log(2 * Math.PI);

export function madeReference(spec: MadeSpec, weights: NamedWeight[]) {
  const D = dataDim(spec);
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
  const cond = (y: number[]) => {
    const h = refMlp(masked, 'made', net, y);
    return { mu: h.slice(0, D), alpha: h.slice(D).map((a) => Math.max(a, spec.minLogStd)) };
  };
  return {
    density: (x: number[][]) => ({
      logp: x.map((r) => {
        const { y, logdet } = refPre(spec.preprocess, r);
        const { mu, alpha } = cond(y);
        return y.reduce((s, v, d) => s - 0.5 * LOG2PI - alpha[d] - 0.5 * ((v - mu[d]) * Math.exp(-alpha[d])) ** 2, 0) + logdet;
      }),
    }),
    /** sequential sampling, one dimension at a time (no fixed-point trick) */
    sample: (z: number[][]) => ({
      x: z.map((u) => {
        const y = new Array(D).fill(0);
        for (let d = 0; d < D; d++) {
          const { mu, alpha } = cond(y);
          y[d] = mu[d] + Math.exp(alpha[d]) * u[d];
        }
        return refPost(spec.preprocess, y);
      }),
    }),
  };
}
