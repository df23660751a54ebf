/**
 * The artifact contract between export/ and its readers (edge/, web/).
 *
 * models/index.json  -> ModelIndex
 * models/<id>/manifest.json -> Manifest
 * models/<id>/<capability>.onnx
 *
 * Graph signatures (N is a dynamic batch dimension, D = prod(shape), L =
 * latentDim) are each family's `signatures` in core/families/, and
 * core/protocol.ts says how they are fed and read. Every graph takes and gives
 * float32; samples and inputs are flattened rows, and `shape` says how to view
 * one row. Densities are in nats, of x in data space.
 */
import type { Calibration } from './score';
import type { Conditioning, Family } from './spec';

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
  /** class-conditional models: the class names in id order and the prior p(y) (core/spec.ts `Conditioning`); absent: unconditional */
  classes?: Conditioning;
  /** anomaly-score calibration on held-out data (export/calibrate.ts); absent: the score endpoint answers raw fields only */
  calibration?: Calibration;
  /** how closely samples agree between runtimes (export/parity.ts); absent: the contract's 1e-4 */
  parity?: ManifestParity;
  /**
   * the temperature a sample or interpolate request that names none draws at
   * (export --temperature, chosen with bench/temperature.ts); absent: 1, the
   * model as trained. core/protocol.ts `temperatureOf`.
   */
  sampleTemperature?: number;
}

/**
 * The cross-runtime tolerance a model's samples are held to (core/protocol.ts
 * `sampleTolerance`): relative, |a - b| / max(1, |b|), for the same seed in Node,
 * the Worker and the page.
 */
export interface ManifestParity {
  /** the stated tolerance: at least 1e-4 */
  samples: number;
  /** the worst difference measured at export between the evaluations in `how` */
  measured: number;
  how: string;
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
  models: Array<Pick<Manifest, 'id' | 'family' | 'model' | 'dataset' | 'shape' | 'capabilities' | 'density' | 'description' | 'classes' | 'sampleTemperature'>>;
}
