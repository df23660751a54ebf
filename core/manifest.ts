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
  /** the precision a sample, decode or interpolate request that names none runs at (export --sample-dtype); absent: float32 */
  sampleDtype?: Dtype;
  /** the sampler's precisions: float32 and those of its sample variants (set by the export); absent: float32 only */
  dtypes?: Dtype[];
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

/** Where an int8 sampler's `maxError` and `meanError` are measured: these seeds, this many rows each, the manifest's sample temperature. */
export const VARIANT_ERROR = { seeds: [11, 12, 13, 14], rows: 64 } as const;

/** The precisions a sampler graph can be asked for: float32, or its int8 copy where the model ships one. */
export type Dtype = 'float32' | 'int8';

/**
 * A smaller copy of a graph. float16: weights stored as float16, arithmetic
 * float32 (export --float16); `maxError` is measured against the float32 graph
 * on the export's verification inputs: max abs error for samples (in data
 * units / 256 for pixels), max relative error for log-densities and latents,
 * worst over all outputs. int8: a sampler with int8 weights and, where its
 * products allow, int8 arithmetic (export/onnx/graph.ts `quantizeInt8`;
 * export/variant.ts); `maxError` and `meanError` are the largest and mean
 * absolute differences of its samples from the float32 graph's for the same
 * seeds, and `fd` the Fréchet distance of both graphs' samples to the test
 * split in the project classifier (train/classifier.ts), for image models.
 */
export interface ManifestVariant extends ManifestFile {
  precision: 'float16' | 'int8';
  maxError: number;
  meanError?: number;
  fd?: { float32: number; variant: number; dataset: string };
}

export interface ModelIndex {
  models: Array<Pick<Manifest, 'id' | 'family' | 'model' | 'dataset' | 'shape' | 'capabilities' | 'density' | 'description' | 'classes' | 'sampleTemperature' | 'sampleDtype' | 'dtypes'>>;
}
