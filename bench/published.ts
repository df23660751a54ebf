/**
 * Published figures bench/quality.ts sets beside the shipped models: per
 * family and data set, and per data set for the compressor table.
 */
import type { Family, Manifest } from '../core';
import { resolveDatasetName } from '../train/data';

const GLOW_FASHION = 'Glow 2.90 bits/dim on the Fashion-MNIST test split (Nalisnick et al. 2019; dequantised 8-bit, 60k/10k split, multi-scale conv flow)';

/** Published figures to set beside a model, per family (every family required) and data set. */
export const REFERENCES: { [F in Family]: (fashion: boolean) => string } = {
  flow: (fashion) =>
    fashion ? GLOW_FASHION : 'RealNVP 1.06 bits/dim (Dinh et al. 2017), Glow 1.05 (Kingma & Dhariwal 2018): dequantised 8-bit MNIST, 60k/10k split, multi-scale conv nets; figures as tabulated by Grathwohl et al. 2019 (FFJORD, Table 2), which states no parameter counts',
  made: (fashion) =>
    fashion ? `no published MADE figure on Fashion-MNIST known to us; ${GLOW_FASHION}` : 'MADE 2.04, MAF 1.89 bits/dim (Papamakarios et al. 2017; dequantised MNIST, 60k/10k split; as tabulated by Grathwohl et al. 2019, Table 2): larger mixture MADEs',
  vae: (fashion) =>
    fashion
      ? `no published VAE figure on dequantised 8-bit Fashion-MNIST known to us; ${GLOW_FASHION}`
      : 'Burda et al. 2016 (IWAE), binarized MNIST, test log-likelihood estimated with k = 5000: 1 stochastic layer (784-200-200-50, about 0.42M weights by our count): VAE -86.76, IWAE(k=50 training) -84.78 nats; 2 stochastic layers: VAE -85.33, IWAE -82.90 nats. Binary pixels, not dequantised 8-bit: a different task, the nats do not convert into our bits/dim',
  gan: () => "no published figure on this scale: FD is in our own classifier's features (not Inception), so it compares our models with each other and with the floor only",
};

export function reference(m: Manifest): string {
  return REFERENCES[m.family](resolveDatasetName(m.dataset) === 'fashion-mnist');
}

export const PUBLISHED: Record<string, string> = {
  mnist: 'RealNVP 1.06, Glow 1.05, FFJORD 0.99, MAF 1.89, MADE 2.04 (Grathwohl et al. 2019, Table 2; 60k/10k split)',
  'fashion-mnist': 'Glow 2.90 on the test split; the same model scores MNIST at 1.83 (Nalisnick et al. 2019)',
};
