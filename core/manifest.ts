/**
 * The artifact contract between export/ and its readers (edge/, web/).
 *
 * models/index.json  -> ModelIndex
 * models/<id>/manifest.json -> Manifest
 * models/<id>/<capability>.onnx
 *
 * Graph signatures (N is a dynamic batch dimension, D = prod(shape), L = latentDim):
 * - sample  (vae):  in  z [N, L] float32, noise [N, D] float32
 *                   out x [N, D] (draw from p(x|z)), x_mean [N, D] (decoder mean)
 *   sample  (gan, flow): in z [N, L]; out x [N, D]
 * - density (flow): in x [N, D]; out logp [N]  (nats, density of x in data space)
 *   density (vae):  in x [N, D], eps [N, K, L]; out elbo [N], iwae [N]
 * - encode  (flow): in x [N, D]; out z [N, D]
 *   encode  (vae):  in x [N, D]; out mu [N, L], logvar [N, L]
 * Samples and inputs are flattened rows; `shape` says how to view one row.
 */
import type { Family } from './spec';

export type Capability = 'sample' | 'density' | 'encode';
export type DensityKind = 'exact' | 'elbo' | 'iwae';

export interface ManifestFile {
  capability: Capability;
  file: string;
  bytes: number;
  sha256: string;
}

export interface Manifest {
  id: string;
  family: Family;
  model: string;
  dataset: string;
  /** one sample's shape, e.g. [2] or [28, 28] */
  shape: number[];
  /** range of data-space values: toys [min, max] of the training data, images [0, 256) */
  range: [number, number];
  /** images: pixels are integers 0..255 and densities assume uniform dequantisation */
  discrete: boolean;
  latentDim: number;
  capabilities: Capability[];
  /** null for families with no tractable density (GAN) */
  density: DensityKind | null;
  /** why a capability is missing, shown to users (e.g. GAN density) */
  unavailable: Partial<Record<Capability, string>>;
  opset: number;
  files: ManifestFile[];
  training: {
    steps: number;
    backend: string;
    seconds: number;
    batchSize: number;
    seed: number;
    command: string;
  };
  /** held-out metrics, keyed by name (e.g. testNll, bitsPerDim, elbo, iwae, mmd) */
  metrics: Record<string, number>;
  /** model size */
  parameters: number;
  description: string;
  /** optional smaller copies of the graphs (added by export/ --float16; readers may ignore them) */
  variants?: ManifestVariant[];
}

/**
 * A graph stored with float16 weights (arithmetic stays float32), for the browser.
 * `maxError` is measured against the float32 graph on the export's verification
 * inputs: max abs error for samples (in data units / 256 for pixels), max
 * relative error for log-densities and latents, worst over all outputs.
 */
export interface ManifestVariant extends ManifestFile {
  precision: 'float16';
  maxError: number;
}

export interface ModelIndex {
  models: Array<Pick<Manifest, 'id' | 'family' | 'model' | 'dataset' | 'shape' | 'capabilities' | 'density' | 'description'>>;
}

/** What each family can and cannot do, and why: the table from DESIGN.md as data. */
export const FAMILY_TRAITS: Record<Family, {
  decoder: string;
  training: string;
  logp: string;
  inverse: string;
}> = {
  vae: {
    decoder: 'stochastic decoder p(x|z)',
    training: 'maximise the ELBO',
    logp: 'lower bound: ELBO, and the tighter IWAE estimate with K samples',
    inverse: 'amortised encoder q(z|x): posterior mean and log-variance',
  },
  gan: {
    decoder: 'deterministic generator',
    training: 'minimax game (Jensen-Shannon, non-saturating loss)',
    logp: 'none: a GAN defines no tractable density',
    inverse: 'none: inverting a GAN generator is ill-posed',
  },
  flow: {
    decoder: 'deterministic bijection',
    training: 'exact maximum likelihood',
    logp: 'exact, by the change-of-variables formula',
    inverse: 'exact inverse x -> z',
  },
  made: {
    decoder: 'no latent; sequential sampling',
    training: 'exact maximum likelihood',
    logp: 'exact',
    inverse: 'none',
  },
};
