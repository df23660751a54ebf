/**
 * Float64 reference of core/spec.ts `MadeSpec`, row by row, independent of
 * train/: the masked net with explicit degree checks instead of the masks.
 * Conditional specs: a one-hot label row adds label V_i to every layer.
 */
import { madeComponents, madeDegree, madeNet } from '../../core/families';
import { madeLabelWeight } from '../../core/families/made';
import { classCount, dataDim, preSupport, VAE_LOGISTIC_MAX_LOGSCALE, type MadeSpec, type NamedWeight } from '../../core/spec';
import { refAct, refLogisticLogMass, refLogisticNoise, refPost, refPre } from './fixtures';

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
  const deg = (layer: number, k: number) => (layer === 0 ? k + 1 : madeDegree(k, net.sizes[layer], D));
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
  const C = classCount(spec);
  /** the masked net on one row, with label V_i added to every layer for a one-hot `label` */
  const netRow = (y: number[], label: number[]) => {
    let h = y;
    for (let i = 0; i < k; i++) {
      const W = masked.get(`made.${i}.W`)!;
      const [din, dout] = W.shape;
      const a = Array.from(ws.get(`made.${i}.b`)!.data);
      for (let r = 0; r < din; r++) for (let c = 0; c < dout; c++) a[c] += h[r] * W.data[r * dout + c];
      if (C) {
        const V = ws.get(madeLabelWeight(i))!.data;
        for (let l = 0; l < C; l++) for (let c = 0; c < dout; c++) a[c] += label[l] * V[l * dout + c];
      }
      h = a.map((v) => refAct(v, i < k - 1 ? net.hidden : net.output));
    }
    return h;
  };
  const logistic = spec.likelihood === 'logistic';
  /** per dimension d: K means, log-stds and mixture weights (the logistic: K mu and log s on the pixel scale) */
  const cond = (y: number[], label: number[]) => {
    const h = netRow(y, label);
    return Array.from({ length: D }, (_, d) => {
      const at = (b: number) => Array.from({ length: K }, (_, k) => h[(b * K + k) * D + d]);
      const mu = logistic ? at(0).map((a) => 127.5 * (1 + a)) : at(0);
      const alpha = logistic ? at(1).map((b) => Math.log(127.5) + Math.min(VAE_LOGISTIC_MAX_LOGSCALE, Math.max(spec.minLogStd, b))) : at(1).map((a) => Math.max(a, spec.minLogStd));
      if (K === 1) return { mu, alpha, w: [1] };
      const l = at(2);
      const top = Math.max(...l);
      const e = l.map((v) => Math.exp(v - top));
      const z = e.reduce((a, b) => a + b, 0);
      return { mu, alpha, w: e.map((v) => v / z) };
    });
  };
  const logp = (r: number[], label: number[]) => {
    const { y, logdet } = refPre(spec.preprocess, r);
    const c = cond(y, label);
    return y.reduce((s, v, d) => {
      const { mu, alpha, w } = c[d];
      // log sum_k w_k p_k, max-shifted: far from the means each term underflows on its own;
      // the logistic's p_k is the mass of x_d's pixel bin (alpha: log s)
      const terms = w.map((wk, k) => Math.log(wk) + (logistic ? refLogisticLogMass(r[d], mu[k], alpha[k]) : -0.5 * LOG2PI - alpha[k] - 0.5 * ((v - mu[k]) * Math.exp(-alpha[k])) ** 2));
      const top = Math.max(...terms);
      return s + top + Math.log(terms.reduce((a, t) => a + Math.exp(t - top), 0));
    }, 0) + (logistic ? 0 : logdet); // the logistic's mass is a density of dequantised x already: no logdet(pre)
  };
  const oneHot = (c: number) => Array.from({ length: C }, (_, j) => (j === c ? 1 : 0));
  /** logsumexp_y (log prior_y + logpy_y) */
  const mix = (logpy: number[]) => {
    const a = logpy.map((v, c) => v + Math.log(spec.conditional!.prior[c]));
    const mx = Math.max(...a);
    return mx + Math.log(a.reduce((s, v) => s + Math.exp(v - mx), 0));
  };
  return {
    /** conditional specs: logpy [N][C] for every class and logp their mixture over the prior */
    density: (x: number[][]) => {
      if (!C) return { logp: x.map((r) => logp(r, [])) };
      const logpy = x.map((r) => Array.from({ length: C }, (_, c) => logp(r, oneHot(c))));
      return { logpy, logp: logpy.map(mix) };
    },
    /** sequential sampling, one dimension at a time (no fixed-point trick); conditional specs: one-hot `label` rows */
    sample: (z: number[][], label: number[][] = z.map(() => [])) => ({
      x: z.map((noise, i) => {
        const y = new Array(D).fill(0);
        for (let d = 0; d < D; d++) {
          const { mu, alpha, w } = cond(y, label[i])[d];
          // K > 1: the component whose cdf segment holds Phi(z[D + d]); the last takes the rest
          const u = K > 1 ? 0.5 * (1 + erf(noise[D + d] / Math.SQRT2)) : 0;
          let k = 0;
          for (let acc = w[0]; k < K - 1 && u >= acc; acc += w[++k]);
          // the logistic: its draw of a pixel bin, dequantised, on y's 0..1 scale
          y[d] = logistic ? (mu[k] + Math.exp(alpha[k]) * refLogisticNoise(noise[d]) + 0.5) / 256 : mu[k] + Math.exp(alpha[k]) * noise[d];
          if (support) y[d] = Math.min(support[1], Math.max(support[0], y[d]));
        }
        return refPost(spec.preprocess, y);
      }),
    }),
  };
}
