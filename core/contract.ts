/**
 * The HTTP contract, once, as zod schemas: what each endpoint takes and what it
 * answers. edge/ validates requests with these and generates /openapi.json from
 * them (edge/routes.ts); core/api.ts infers its types from them, so the page,
 * the tests and the server read one definition.
 *
 * This file imports zod and nothing else. core/ stays dependency-free at run
 * time for every stage that does not serve HTTP: core/index.ts does not
 * re-export this file or manifest-schema.ts (the manifest's schemas, which
 * this one re-exports), and core/api.ts takes only types from it (`import type`,
 * erased by the compiler), so train/, export/ and the browser bundle never load
 * zod; only edge/ does. `.meta()` carries the descriptions, examples and
 * component names into the document.
 */
import { z } from 'zod';
import { API_LIMITS } from './api';
import { DensityKind, Dtype, Manifest, ScoreMethod, shape, temperatureValue } from './manifest-schema';
import { CLASSIFY_FPR, DEFAULT_FPR } from './score';

// the artifact's schemas (models/<id>/manifest.json) are the answers of GET /v1/models/{id} too
export { Calibration, Capability, DensityKind, Dtype, Family, Manifest, ScoreMethod } from './manifest-schema';

/** The largest finite float32; the models compute in float32. */
export const FLOAT32_MAX = 3.4028234663852886e38;

const uint32 = (description: string) => z.int().min(0).max(0xffffffff).meta({ description });

const temperature = temperatureValue
  .optional()
  .meta({ description: "scales the latent noise (and the VAE observation noise); 1 samples the model as trained, lower is more typical. Absent: the model's `sampleTemperature` (GET /v1/models), else 1" });
const mode = z.enum(['mean', 'sample']).default('sample').meta({
  description: "VAE only: 'sample' draws x from p(x|z), 'mean' returns the decoder mean",
});

const typeName = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

/** An issue carrying the API's own error code (and bound), read by edge/routes.ts's validation hook. */
export interface CodedIssue {
  path: (string | number)[];
  message: string;
  code: string;
  limit?: number;
}

/**
 * The first thing wrong with a would-be matrix, in one pass that stops there.
 * It runs before zod's element-by-element check (see `rows`), which would
 * otherwise collect an issue per bad value: a 4 MiB body of strings is over a
 * million issues, enough to overflow the stack in zod's issue merging.
 */
export function matrixProblem(value: unknown, maxRows: number): CodedIssue | null {
  if (!Array.isArray(value)) return { path: [], code: 'invalid_type', message: `must be an array of rows, got ${typeName(value)}` };
  if (value.length === 0) return { path: [], code: 'bad_shape', message: 'must have at least one row' };
  if (value.length > maxRows) return { path: [], code: 'limit_exceeded', message: `has ${value.length} rows; at most ${maxRows} allowed`, limit: maxRows };
  let width = -1;
  for (let i = 0; i < value.length; i++) {
    const row = value[i];
    if (!Array.isArray(row)) return { path: [i], code: 'invalid_type', message: `must be an array of numbers, got ${typeName(row)}` };
    if (row.length === 0) {
      return { path: [i], code: 'bad_shape', message: "is an empty row: each row is one flattened sample, as many numbers as the model's width" };
    }
    if (width < 0) width = row.length;
    if (row.length !== width) {
      return { path: [], code: 'bad_shape', message: `must be rectangular: row ${i} has ${row.length} values, row 0 has ${width}` };
    }
    for (let j = 0; j < row.length; j++) {
      const x = row[j];
      if (typeof x !== 'number') return { path: [i, j], code: 'invalid_type', message: `must be a number, got ${typeName(x)}` };
      if (!Number.isFinite(x)) return { path: [i, j], code: 'not_finite', message: 'must be finite' };
      // models compute in float32: a larger magnitude would silently become Infinity
      if (Math.abs(x) > FLOAT32_MAX) {
        return { path: [i, j], code: 'out_of_range', message: `= ${x} is beyond float32 (|x| <= ${FLOAT32_MAX})`, limit: FLOAT32_MAX };
      }
    }
  }
  return null;
}

/**
 * Rows of a batch: a non-empty rectangular matrix of finite float32 values,
 * at most API_LIMITS.maxRows rows. The width each model takes is checked by
 * the handler, which knows the model. `matrixProblem` finds the first fault
 * (as a custom issue with the API's code); the zod schema after it is what the
 * document and the types are made from.
 */
export const rows = (description: string) =>
  // typed number[][] on the way in as well, so callers (hc) see rows, not unknown
  z.preprocess(
    (value: number[][], ctx) => {
      const problem = matrixProblem(value, API_LIMITS.maxRows);
      if (problem) {
        ctx.addIssue({ code: 'custom', input: value, path: problem.path, message: problem.message, params: { code: problem.code, limit: problem.limit } });
      }
      return value;
    },
    // matrixProblem has checked every value already: what follows only describes them
    // (the document's schema: an array of rows of float32-range numbers). A zod array of
    // arrays here checked each value a second time, ~0.1 us apiece: 1.4 ms of a 16-row
    // MNIST request, ~80 ms of a 1024-row one.
    z.custom<number[][]>(() => true).meta({
      type: 'array',
      items: { type: 'array', items: { type: 'number', minimum: -FLOAT32_MAX, maximum: FLOAT32_MAX }, minItems: 1 },
      minItems: 1,
      maxItems: API_LIMITS.maxRows,
      description: `${description}; at most ${API_LIMITS.maxRows} rows, all of one width`,
    }),
  );

// ------------------------------------------------------------------ requests

const dtype = Dtype.optional().meta({
  description:
    "precision of the sampler graph: float32, or int8 where the model ships an int8 copy (GET /v1/models lists each model's `dtypes`; the manifest's `variants` state its measured error). Absent: the model's `sampleDtype`, else float32",
});

/** A class by id (0-based, the order of the model's `classes.names`) or by name. */
const classRef = z.union([z.int().min(0).max(0xffff), z.string().min(1).max(64)]);
/** `label` of the requests that decode: one class for every row, or one per row. */
const labelField = (rows: string) =>
  z
    .union([classRef, z.array(classRef).min(1).max(API_LIMITS.maxSamples)])
    .optional()
    .meta({
      description: `class-conditional models (those whose \`classes\` GET /v1/models lists): the class to draw, by id or name, one for every row or a list of ${rows}, one per row. Absent: each row's class is drawn from the prior p(y) with the seed. Unconditional models answer 422`,
    });

export const SampleRequest = z
  .strictObject({
    n: z.int().min(1).max(API_LIMITS.maxSamples).default(16).meta({ description: 'number of samples' }),
    seed: uint32('seed of the noise; absent means a random seed, returned in the answer').optional(),
    temperature,
    mode,
    label: labelField('n'),
    dtype,
  })
  .meta({ id: 'SampleRequest', description: 'Draw n samples x = G(z), z ~ N(0, temperature^2 I), from a seeded PRNG (core/prng.ts); conditional models: of the classes `label` names', example: { n: 4, seed: 42 } });

export const DensityRequest = z
  .strictObject({
    x: rows('rows in data space, one flattened sample each; image models take pixels in [0, 256)'),
    k: z
      .int()
      .min(1)
      .max(API_LIMITS.maxImportanceSamples)
      .default(1)
      .meta({ description: 'VAE only: importance samples; 1 gives the ELBO, more gives the tighter IWAE estimate' }),
    seed: uint32('seed of the VAE eps and of the uniform dequantisation noise added to integer pixels').default(0),
  })
  .meta({ id: 'DensityRequest', description: 'log p(x) per row, in nats (exact for flows, a lower bound for VAEs)', example: { x: [[0.5, 0.25]] } });

export const EncodeRequest = z
  .strictObject({ x: rows('rows in data space') })
  .meta({ id: 'EncodeRequest', description: 'x -> z: exact inverse for flows, posterior mean and log-variance for VAEs', example: { x: [[0.5, 0.25]] } });

export const DecodeRequest = z
  .strictObject({
    z: rows('latent rows, latentDim values each'),
    mode,
    seed: uint32('VAE: seed of the observation noise; conditional models: of the classes drawn when `label` is absent').default(0),
    label: labelField('rows'),
    dtype,
  })
  .meta({ id: 'DecodeRequest', description: 'z -> x through the generator, decoder or inverse flow', example: { z: [[0, 1]] } });

export const InterpolateRequest = z
  .strictObject({
    seedA: uint32('seed of the first latent').default(0),
    seedB: uint32('seed of the second latent').default(1),
    steps: z.int().min(2).max(API_LIMITS.maxSteps).default(8).meta({ description: 'points on the path, ends included' }),
    temperature,
    label: classRef.optional().meta({ description: 'class-conditional models: the class of the whole path, by id or name; absent: the class seedA draws from the prior' }),
    dtype,
  })
  .meta({ id: 'InterpolateRequest', description: 'Decode points on the great-circle path between the latents of two seeds', example: { seedA: 1, seedB: 2, steps: 5 } });

const fprField = (byDefault: number) =>
  z.number().gt(0).lt(1).default(byDefault).meta({
    description: 'false-positive rate the outlier threshold is calibrated for: at most this share of in-distribution rows is flagged, with 95% confidence over the held-out rows the export calibrated on',
  });

export const ScoreRequest = z
  .strictObject({
    x: rows('rows in data space, as for density; image models take pixels in [0, 256)'),
    fpr: fprField(DEFAULT_FPR),
    seed: uint32('seed of the dequantisation noise and the VAE eps (the calibration used 0)').default(0),
  })
  .meta({
    id: 'ScoreRequest',
    description: 'Anomaly / out-of-distribution score per row, calibrated on held-out data at export time (core/score.ts)',
    example: { x: [[0.5, 0.25], [4, 4]] },
  });

/** classify takes score's fields: the same rows, fpr and seed feed the same density run; its fpr defaults lower (core/score.ts CLASSIFY_FPR) */
export const ClassifyRequest = ScoreRequest.extend({ fpr: fprField(CLASSIFY_FPR) })
  .meta({
    id: 'ClassifyRequest',
    description: 'Classify rows by Bayes\' rule over the class-conditional densities, abstaining on rows of no class (out of distribution) and on uncertain ones',
    example: { x: [[0, 0]] },
  });

// ------------------------------------------------------------------ answers

const numbers = z.array(z.number());
const matrix = z.array(z.array(z.number()));


export const SampleResponse = z
  .object({ samples: matrix.meta({ description: 'one flattened row per sample' }), shape, seed: uint32('the seed used (random when the request gave none)') })
  .meta({ id: 'SampleResponse' });
export const SamplesResponse = z.object({ samples: matrix, shape }).meta({ id: 'SamplesResponse' });
export const DensityResponse = z
  .object({
    logp: numbers.meta({ description: 'log p(x) per row, in nats: exact, or the ELBO (k = 1) or IWAE (k > 1) bound' }),
    kind: DensityKind,
    bitsPerDim: numbers.meta({ description: 'image models: -logp / (D ln 2)' }).optional(),
    elbo: numbers.meta({ description: 'VAE: the ELBO per row from the same draws' }).optional(),
    posterior: matrix.meta({ description: 'class-conditional models: p(y | x) per row over the classes (Bayes\' rule on the same per-class densities; classify adds abstention)' }).optional(),
  })
  .meta({ id: 'DensityResponse' });
export const EncodeResponse = z
  .object({ z: matrix, logvar: matrix.meta({ description: 'VAE: posterior log-variance' }).optional() })
  .meta({ id: 'EncodeResponse' });

export const ScoreResponse = z
  .object({
    logp: numbers.meta({ description: 'log p(x) per row, in nats, as density answers it (VAE: the ELBO with the calibrated k)' }),
    kind: DensityKind,
    bitsPerDim: numbers.meta({ description: 'image models: -logp / (D ln 2)' }).optional(),
    complexity: numbers.meta({ description: "image models: the code length per row under the calibration's compressor, bits/dim (png-9: PNG's row filters then zlib level 9; zlib-9: zlib level 9 of the raw bytes)" }).optional(),
    fpr: z.number().meta({ description: 'the false-positive rate asked for' }),
    method: ScoreMethod.optional().meta({ description: "how `anomaly` is computed: 'typicality+complexity' (images) or 'nll' (2-D models); see edge/README.md" }),
    anomaly: numbers.meta({ description: 'higher = more anomalous; calibrated models only' }).optional(),
    percentile: numbers.meta({ description: 'percent of held-out in-distribution rows whose anomaly is lower (0-100); calibrated models only' }).optional(),
    outlier: z.array(z.boolean()).meta({ description: 'anomaly > threshold; calibrated models only' }).optional(),
    threshold: z.number().meta({ description: 'the anomaly above which a row is an outlier at this fpr: the quantile of held-out scores at 1 - fpr raised by a 95% binomial bound for their number (core/score.ts thresholdLevel)' }).optional(),
    uncalibrated: z.string().meta({ description: 'present when the model has no usable calibration: why anomaly, percentile, outlier and threshold are missing' }).optional(),
  })
  .meta({ id: 'ScoreResponse' });

export const Abstain = z.enum(['out_of_distribution', 'uncertain']);
export const ClassifyResponse = z
  .object({
    classes: z.array(z.string()).meta({ description: "the model's class names in id order: the columns of `posterior`" }),
    posterior: matrix.meta({ description: 'p(y | x) per row over the classes: log p(x | y) + log p(y), normalised' }),
    label: z.array(z.int()).meta({ description: 'the most probable class id per row' }),
    name: z.array(z.string()).meta({ description: "that class's name" }),
    probability: numbers.meta({ description: "that class's posterior probability" }),
    logp: numbers.meta({ description: 'log p(x) per row, in nats: the mixture over the classes, as density answers it' }),
    kind: DensityKind,
    anomaly: numbers.meta({ description: 'the anomaly score of score, per row; calibrated models only' }).optional(),
    outlier: z.array(z.boolean()).meta({ description: "score's outlier verdict at `fpr`; calibrated models only" }).optional(),
    abstain: z
      .array(Abstain.nullable())
      .meta({ description: "null where the label stands; 'out_of_distribution' where the row is an outlier (no class fits), 'uncertain' where the top posterior is under `confidence`" }),
    fpr: z.number().meta({ description: 'the false-positive rate asked for' }),
    threshold: z.number().meta({ description: 'the anomaly above which a row is an outlier at this fpr' }).optional(),
    confidence: z.number().meta({ description: 'the top posterior under which a row abstains as uncertain, calibrated at export for `coverage`' }).optional(),
    coverage: z.number().meta({ description: 'the share of held-out in-distribution rows the confidence threshold answers' }).optional(),
    uncalibrated: z.string().meta({ description: 'present when the model has no usable calibration: why rows cannot abstain' }).optional(),
  })
  .meta({ id: 'ClassifyResponse' });

export const Operation = z.enum(['sample', 'density', 'score', 'classify', 'encode', 'decode', 'interpolate']);

/** What a client may ask of one model in one request, from the work budget (edge/engine.ts): known before it calls. */
export const ModelLimits = z
  .object({
    sample: z.int().min(0).meta({ description: 'largest n of one sample request' }),
    rows: z.int().min(0).meta({ description: 'most rows of one density, score, classify or encode request (VAE: at k = 1)' }),
    k: z.int().min(0).optional().meta({ description: 'VAE: most importance samples for a single row' }),
    interpolate: z.int().min(0).optional().meta({ description: 'most interpolation steps; absent where interpolate cannot answer (the operation is not offered)' }),
  })
  .meta({ id: 'ModelLimits' });

export const ModelEntry = Manifest.pick({ id: true, family: true, model: true, dataset: true, shape: true, capabilities: true, density: true, description: true, classes: true, sampleTemperature: true, sampleDtype: true, dtypes: true })
  .extend({ limits: ModelLimits, operations: z.array(Operation).meta({ description: 'the POST operations this model answers; the others answer 422 with the reason' }) })
  .meta({ id: 'ModelEntry' });
export const ModelList = z.object({ models: z.array(ModelEntry) }).meta({ id: 'ModelList' });
/** GET /v1/models/{id}: the manifest, with the same limits and operations as the list. */
export const ModelDetail = Manifest.extend({ limits: ModelLimits, operations: z.array(Operation) }).meta({ id: 'ModelDetail' });

const bytes = (description: string) => z.number().min(0).optional().meta({ description });
export const HealthMemory = z
  .object({
    wasmBytes: bytes("onnxruntime's wasm linear memory (Worker; grows, never shrinks)"),
    jsHeapBytes: bytes('JS heap in use, where the runtime tells it'),
    rssBytes: bytes("resident set of the process (Node): onnxruntime's memory included"),
    rssPeakBytes: bytes('the largest resident set the process has had (Node, from /proc: VmHWM)'),
    nativeBytes: bytes(
      "Node: what the resident set grew by outside V8's heap and array buffers since the server started (rssBytes - heap - external, less the same at start): onnxruntime's open sessions (each copy, sessionCopies), its run buffers and what the C allocator keeps of them after a run. sessionFileBytes and the session bounds count model files, not this",
    ),
    sessionCopies: z.int().min(0).optional().meta({ description: 'Node: copies of the open sessions on the onnxruntime threads, all together (a session is copied to another thread only when its runs overlap)' }),
    sessions: z.int().min(0).meta({ description: 'onnxruntime sessions open (least recently used ones are released beyond the bound)' }),
    sessionFileBytes: z.int().min(0).meta({ description: 'model file bytes of the open sessions (an int8 copy counts as its float32 graph: its weights are cast back to float32 when the session opens)' }),
    evictions: z.int().min(0).meta({ description: 'sessions released so far to stay within the bound' }),
    inFlightUnits: z.number().min(0).meta({ description: 'work units queued or running (beyond the bound: 503 overloaded)' }),
  })
  .meta({ id: 'HealthMemory' });
export const Health = z
  .object({
    status: z.literal('ok'),
    runtime: z.enum(['node', 'workerd']),
    models: z.int().min(0).meta({ description: 'models listed' }),
    memory: HealthMemory.optional(),
  })
  .meta({ id: 'Health' });

/**
 * Every error code the API answers, with its status. Codes are stable; the
 * messages are for people.
 */
export const ERROR_CODES = {
  bad_json: 400,
  invalid_type: 400,
  not_finite: 400,
  out_of_range: 400,
  unknown_field: 400,
  bad_shape: 400,
  limit_exceeded: 400,
  over_budget: 400,
  invalid_value: 400,
  bad_request: 400,
  not_found: 404,
  model_not_found: 404,
  method_not_allowed: 405,
  png_unavailable: 406,
  body_too_large: 413,
  headers_too_large: 431,
  capability_unavailable: 422,
  non_finite_output: 422,
  rate_limited: 429,
  model_corrupt: 500,
  index_missing: 500,
  internal: 500,
  overloaded: 503,
} as const;
export type ErrorCode = keyof typeof ERROR_CODES;

export const ApiError = z
  .object({
    error: z.object({
      code: z.enum(Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]]),
      message: z.string(),
      limit: z.number().optional().meta({ description: 'the bound that was crossed (limit_exceeded, over_budget, out_of_range, body_too_large)' }),
    }),
  })
  .meta({ id: 'Error', description: 'Every error answer: a stable code, a message for people, and the bound crossed where there is one' });
