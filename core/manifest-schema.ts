/**
 * models/<id>/manifest.json as zod schemas: what an exported model states about
 * itself (family, shape, files with their sha256, calibration, variants), and
 * the enums it is built from. core/manifest.ts holds the same as TypeScript
 * types for the stages that do not load zod (a type test keeps the two equal);
 * core/contract.ts re-exports these, since GET /v1/models/{id} answers the
 * manifest, and builds the requests' temperature and dtype fields on them.
 */
import { z } from 'zod';
import { CALIBRATION_LEVELS, COMPRESSORS, SCORE_METHODS } from './score';
import { FAMILIES } from './spec';

/** The bounds of a temperature, the request's and the manifest's. */
export const temperatureValue = z.number().min(0).max(10);
/** The precisions a sampler graph can be asked for (core/manifest.ts `Dtype`). */
export const Dtype = z.enum(['float32', 'int8']);
export const shape = z.array(z.int().min(1)).meta({ description: "one sample's shape, e.g. [2] or [28, 28]; rows are flattened" });
export const Family = z.enum(FAMILIES);
export const Capability = z.enum(['sample', 'density', 'encode']);
export const DensityKind = z.enum(['exact', 'elbo', 'iwae']);
export const ScoreMethod = z.enum(SCORE_METHODS);
const standardiser = z.object({ median: z.number(), lower: z.number(), upper: z.number() });
/** manifest.calibration (core/score.ts `Calibration`). */
export const Calibration = z
  .object({
    method: ScoreMethod,
    estimator: z.object({ k: z.int(), seed: z.int() }),
    compressor: z.enum(COMPRESSORS).optional(),
    typicalityWeight: z.number().min(0).meta({ description: "the typicality's weight in the anomaly (absent: 1)" }).optional(),
    data: z.object({ dataset: z.string(), split: z.string(), rows: z.int() }),
    nll: standardiser,
    corrected: standardiser.optional(),
    quantiles: z.array(z.number()).meta({ description: `anomaly-score quantiles at ${CALIBRATION_LEVELS} evenly spaced levels 0..1` }),
    confidence: z
      .object({ coverage: z.number(), threshold: z.number(), accuracy: z.number(), overall: z.number() })
      .meta({ description: "class-conditional models: classify's abstention rule: rows whose top posterior is under `threshold` abstain (uncertain); `coverage` of the held-out rows are answered, `accuracy` of those right (`overall`: of all rows)" })
      .optional(),
  })
  .meta({ id: 'Calibration', description: 'how the score endpoint turns log p into anomaly, percentile and outlier, measured at export on held-out rows' });

const manifestFile = z.object({ capability: Capability, file: z.string(), bytes: z.int(), sha256: z.string() });
/** models/<id>/manifest.json (core/manifest.ts `Manifest`; a type test keeps the two equal). */
export const Manifest = z
  .object({
    id: z.string(),
    family: Family,
    model: z.string(),
    dataset: z.string(),
    shape,
    // min/maxItems: the document states the tuple's length, not only its items
    range: z.tuple([z.number(), z.number()]).meta({ minItems: 2, maxItems: 2, description: 'data-space range: toys [min, max] of the training data, images [0, 256)' }),
    discrete: z.boolean(),
    latentDim: z.int(),
    capabilities: z.array(Capability),
    density: DensityKind.nullable(),
    unavailable: z.object({ sample: z.string().optional(), density: z.string().optional(), encode: z.string().optional() }),
    opset: z.int(),
    files: z.array(manifestFile),
    training: z.object({ steps: z.number(), backend: z.string(), seconds: z.number(), batchSize: z.number(), seed: z.number(), command: z.string() }),
    metrics: z.record(z.string(), z.number()),
    parameters: z.number(),
    description: z.string(),
    variants: z
      .array(
        manifestFile.extend({
          precision: z.enum(['float16', 'int8']),
          maxError: z.number(),
          meanError: z.number().optional(),
          fd: z.object({ float32: z.number(), variant: z.number(), dataset: z.string() }).optional(),
        }),
      )
      .optional()
      .meta({ description: 'smaller copies of graphs, each with its largest and mean absolute difference from the float32 graph over the same seeds (data units: pixels / 256 for images) and, for image samplers, the Fréchet distance of both to the test split in the project classifier (export/variant.ts)' }),
    classes: z
      .object({ names: z.array(z.string()), prior: z.array(z.number()) })
      .meta({ description: 'class-conditional models: the class names in id order (a sample request names a class by id or by name) and the prior p(y) of the training split; absent: the model is unconditional' })
      .optional(),
    calibration: Calibration.optional(),
    parity: z
      .object({ samples: z.number(), measured: z.number(), how: z.string() })
      .meta({ description: "how closely this model's samples agree between runtimes for one seed: `samples` is the stated relative tolerance (at least 1e-4), `measured` what the export measured" })
      .optional(),
    sampleTemperature: temperatureValue
      .optional()
      .meta({ description: 'the temperature a sample or interpolate request that names none draws at (chosen per model with bench/temperature.ts: lower trades diversity for samples more typical of their class); absent: 1, the model as trained' }),
    sampleDtype: Dtype.optional().meta({ description: "the precision a sample, decode or interpolate request that names no dtype runs at (set where the bench shows the int8 copy gains); absent: float32" }),
    dtypes: z.array(Dtype).optional().meta({ description: 'the precisions of the sampler graph this model answers (float32 always; int8 where it ships an int8 copy); absent: float32 only' }),
  })
  .meta({ id: 'Manifest', description: "one model's manifest: family, shape, capabilities, training run and held-out metrics" });

