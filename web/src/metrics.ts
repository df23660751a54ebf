/**
 * Held-out metrics as sentences with their units, for people: the manifests
 * keep raw keys (train/evaluate.ts writes testNll, elbo, iwae, iwaeK, mmd,
 * trueNll, bitsPerDim), which mean little on a card.
 */
import type { Manifest } from '../../core/manifest';

const f = (v: number, digits = 3): string => (Math.abs(v) >= 100 ? v.toFixed(0) : Number(v.toPrecision(digits + 1)).toString());

export function metricSentences(m: Pick<Manifest, 'metrics' | 'shape' | 'discrete'>): string[] {
  const x = m.metrics;
  const per = m.shape.length === 2 ? 'per image' : 'per point';
  const out: string[] = [];
  const bpd = x.bitsPerDim !== undefined ? ` (${f(x.bitsPerDim)} bits per dimension)` : '';
  if (x.elbo !== undefined && x.iwae !== undefined) {
    out.push(`On held-out data the ELBO is ${f(x.elbo)} nats ${per} and the tighter IWAE bound (K = ${x.iwaeK ?? '?'}) is ${f(x.iwae)} nats${bpd}: log p(x) is at least that.`);
  } else if (x.testNll !== undefined) {
    out.push(`Held-out negative log-likelihood: ${f(x.testNll)} nats ${per}${bpd}, exact.`);
  }
  if (x.trueNll !== undefined) out.push(`The true density scores ${f(x.trueNll)} nats on the same points, the best any model can do.`);
  if (x.mmd !== undefined) out.push(`Squared MMD between 2 000 samples and held-out data: ${f(x.mmd, 2)} (0 = indistinguishable; no density to report).`);
  return out;
}
