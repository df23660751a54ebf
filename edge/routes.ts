/**
 * The routes of the API as @hono/zod-openapi definitions over the schemas in
 * core/contract.ts: each one is at once the validator the app runs, the
 * operation in /openapi.json and the type `hc` gives its callers. app.ts
 * implements them; nothing here runs a model. Below them, the hook that turns
 * a failed validation into the API's error codes.
 */
import { createRoute, z, type OpenAPIHonoOptions } from '@hono/zod-openapi';
import { API_LIMITS } from '../core/api';
import {
  FLOAT32_MAX,
  ApiError,
  ClassifyRequest,
  ClassifyResponse,
  DecodeRequest,
  DensityRequest,
  DensityResponse,
  EncodeRequest,
  EncodeResponse,
  Health,
  InterpolateRequest,
  ModelDetail,
  ModelList,
  SampleRequest,
  SampleResponse,
  SamplesResponse,
  ScoreRequest,
  ScoreResponse,
} from '../core/contract';
import type { Manifest } from '../core/manifest';
import { HttpError, badRequest, type Phases } from './engine';

/** What the app's middleware leave for the handlers: the model, the body read, whether it was float32, the request's timing. */
export type AppEnv = { Variables: { manifest: Manifest; bodyBytes: Uint8Array; binaryBody: boolean; phases: Phases } };

/** Custom response and request headers (exposed to browsers through CORS). */
export const HEADERS = {
  shape: 'x-edgegen-shape',
  rowShape: 'x-edgegen-row-shape',
  seed: 'x-edgegen-seed',
  kind: 'x-edgegen-kind',
} as const;

const header = (description: string) => ({ description, schema: { type: 'string' as const } });
const binary = (description: string) => ({ schema: { type: 'string' as const, format: 'binary', description } });
const errorContent = { 'application/json': { schema: ApiError } };

const ERRORS = {
  400: 'bad input: malformed JSON (bad_json), wrong type or shape (invalid_type, bad_shape), NaN or Infinity (not_finite), beyond a bound (out_of_range, limit_exceeded, over_budget; `limit` says the bound), unknown body field or query parameter (unknown_field), a value outside an enum (invalid_value), an HTTP request Node could not parse (bad_request)',
  404: 'model_not_found: no model by this id (GET /v1/models lists them)',
  406: 'png_unavailable: a PNG grid was asked of a model whose samples are not images',
  413: `body_too_large: the body is over ${API_LIMITS.maxBodyBytes} bytes (\`limit\`)`,
  422: "capability_unavailable: the model cannot do this (the message says why, e.g. GANs define no tractable density, an unconditional model has no classes); non_finite_output: the model's output overflowed float32",
  429: 'rate_limited: the Worker\'s optional rate limit (see edge/README.md) was reached; retry after `retry-after` seconds',
  431: "headers_too_large: the URL or headers are over the runtime's limit (Node: 16 KiB). Node answers in the error shape; under workerd the runtime answers first, in text/plain",
  500: 'model_corrupt: a model file does not match its manifest or cannot be loaded; index_missing; internal',
  503: 'overloaded: this instance has as much work queued and running as it takes (`limit`, in work units); retry after `retry-after` seconds',
} as const;
type ErrorStatus = keyof typeof ERRORS;
/** The error answers of an operation; 431 can answer any request, so every operation lists it. */
const errors = <S extends Exclude<ErrorStatus, 431>>(...statuses: S[]) =>
  Object.fromEntries(
    [...statuses, 431 as const].map((s) => [
      s,
      { description: ERRORS[s], content: s === 431 ? { ...errorContent, 'text/plain': { schema: { type: 'string' as const } } } : errorContent },
    ]),
  ) as unknown as { [K in S | 431]: { description: string; content: typeof errorContent } };

const IdParams = z.object({
  id: z
    .string()
    .min(1)
    .meta({
      param: { name: 'id', in: 'path' },
      description: 'a model id from GET /v1/models',
      examples: ['flow-realnvp-moons', 'vae-conv-mnist', 'dcgan-mnist'],
      example: 'flow-realnvp-moons',
    }),
});

const formatParam = <F extends string>(formats: readonly [F, ...F[]], description: string) =>
  z
    .enum(formats)
    .optional()
    .meta({
      param: { name: 'format', in: 'query' },
      description: `${description} Wins over the Accept header.`,
    });

const f32Text = (carries: string) =>
  `f32 (or Accept: application/octet-stream): raw little-endian float32, row-major, the JSON's \`${carries}\` bit for bit;`;

/**
 * The float32 request body (edge/README.md, "Binary requests"). The document
 * says what travels (binary); the TypeScript type is the JSON body's, because
 * app.ts's parseBody turns the rows into exactly that value before the JSON schema checks
 * it, so handlers and `hc` callers see one body type.
 */
const binaryBody = <T>(carries: string) => ({
  schema: z.custom<T>(() => true).meta({
    type: 'string',
    format: 'binary',
    description: `raw little-endian float32 rows for \`${carries}\`, row-major, with header ${HEADERS.shape}: rows,width; the other fields come from the query`,
  }),
});

const shapeRequestHeader = z.object({
  [HEADERS.shape]: z
    .string()
    .regex(/^\d+,\d+$/)
    .optional()
    .meta({ param: { name: HEADERS.shape, in: 'header' }, description: 'binary (application/octet-stream) bodies only: rows,width of the float32 rows', example: '2,2' }),
});

/**
 * A number in the query, for float32 bodies (whose fields cannot travel in the
 * body). The text must be a number ('' is refused, not read as 0), and the
 * document states the bounds the server enforces, not only "a string".
 */
const numberQuery = (name: string, inner: z.ZodNumber, bounds: Record<string, number | string>, description: string) =>
  z
    .string()
    .min(1)
    .transform((s) => (s.trim() === '' ? NaN : Number(s)))
    .pipe(inner)
    .optional()
    .meta({ param: { name, in: 'query' }, ...bounds, description: `binary bodies only (a JSON body carries it itself): ${description}` });

const intQuery = (name: string, min: number, max: number, description: string) =>
  numberQuery(name, z.int().min(min).max(max), { type: 'integer', minimum: min, maximum: max }, description);

const uint32Query = (name: string, description: string) => intQuery(name, 0, 0xffffffff, description);

/** score's and classify's query, for float32 bodies: the false-positive rate and the seed */
const scoredRowsQuery = () => z.strictObject({ fpr: fprQuery(), seed: uint32Query('seed', 'seed of the dequantisation noise and the VAE eps') });

const fprQuery = () => numberQuery('fpr', z.number().gt(0).lt(1), { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1 }, 'the false-positive rate');

const modeQuery = z
  .enum(['mean', 'sample'])
  .optional()
  .meta({ param: { name: 'mode', in: 'query' }, description: "binary bodies only (a JSON body carries it itself): VAE 'mean' or 'sample'" });

// ------------------------------------------------------------------ GET

export const healthRoute = createRoute({
  method: 'get',
  path: '/healthz',
  summary: 'liveness: the runtime and how many models it lists',
  request: { query: z.strictObject({}) },
  responses: {
    200: { description: 'OK', content: { 'application/json': { schema: Health } } },
    ...errors(400, 500),
  },
});

export const listRoute = createRoute({
  method: 'get',
  path: '/v1/models',
  summary: 'list the models (models/index.json)',
  request: { query: z.strictObject({}) },
  responses: {
    200: { description: 'the models, each with its family, shape and capabilities', content: { 'application/json': { schema: ModelList } } },
    ...errors(400, 500),
  },
});

export const manifestRoute = createRoute({
  method: 'get',
  path: '/v1/models/{id}',
  summary: "one model's manifest: family, shape, capabilities, training run and held-out metrics",
  request: { params: IdParams, query: z.strictObject({}) },
  responses: {
    200: { description: "manifest.json, with the model's request limits and the operations it answers", content: { 'application/json': { schema: ModelDetail } } },
    ...errors(400, 404, 500),
  },
});

// ------------------------------------------------------------------ POST

export const sampleRoute = createRoute({
  method: 'post',
  path: '/v1/models/{id}/sample',
  summary: 'draw samples',
  request: {
    params: IdParams,
    query: z.strictObject({
      format: formatParam(['json', 'png', 'f32'], `png (or Accept: image/png): a grid image, image models only. ${f32Text('samples')}`),
    }),
    body: { required: false, content: { 'application/json': { schema: SampleRequest } } },
  },
  responses: {
    200: {
      description: 'the samples: JSON, raw float32 (x-edgegen-shape n,D) or a PNG grid',
      headers: {
        [HEADERS.shape]: header('binary answers: n,D'),
        [HEADERS.rowShape]: header("binary answers: one row's shape, the JSON's `shape`"),
        [HEADERS.seed]: header('png and binary answers: the seed used'),
      },
      content: {
        'application/json': { schema: SampleResponse },
        'application/octet-stream': binary('samples as float32, n x D'),
        'image/png': binary('a grid of the samples (image models)'),
      },
    },
    ...errors(400, 404, 406, 413, 422, 429, 500, 503),
  },
});

export const densityRoute = createRoute({
  method: 'post',
  path: '/v1/models/{id}/density',
  summary: 'log p(x) per row',
  request: {
    params: IdParams,
    headers: shapeRequestHeader,
    query: z.strictObject({
      format: formatParam(['json', 'f32'], `${f32Text('logp')} elbo and bitsPerDim stay JSON-only.`),
      k: intQuery('k', 1, API_LIMITS.maxImportanceSamples, 'VAE importance samples'),
      seed: uint32Query('seed', 'seed of the VAE eps and of the dequantisation noise'),
    }),
    body: {
      required: true,
      content: { 'application/json': { schema: DensityRequest }, 'application/octet-stream': binaryBody<z.output<typeof DensityRequest>>('x') },
    },
  },
  responses: {
    200: {
      description: 'log-densities: JSON, or raw float32 logp (x-edgegen-shape rows)',
      headers: { [HEADERS.shape]: header('binary answers: rows'), [HEADERS.kind]: header('binary answers: exact, elbo or iwae') },
      content: { 'application/json': { schema: DensityResponse }, 'application/octet-stream': binary('logp as float32') },
    },
    ...errors(400, 404, 413, 422, 429, 500, 503),
  },
});

export const encodeRoute = createRoute({
  method: 'post',
  path: '/v1/models/{id}/encode',
  summary: 'x -> z',
  request: {
    params: IdParams,
    headers: shapeRequestHeader,
    query: z.strictObject({ format: formatParam(['json', 'f32'], `${f32Text('z')} logvar stays JSON-only.`) }),
    body: { required: true, content: { 'application/json': { schema: EncodeRequest }, 'application/octet-stream': binaryBody<z.output<typeof EncodeRequest>>('x') } },
  },
  responses: {
    200: {
      description: 'latents: JSON, or raw float32 z (x-edgegen-shape rows,width)',
      headers: { [HEADERS.shape]: header('binary answers: rows,width') },
      content: { 'application/json': { schema: EncodeResponse }, 'application/octet-stream': binary('z as float32') },
    },
    ...errors(400, 404, 413, 422, 429, 500, 503),
  },
});

export const decodeRoute = createRoute({
  method: 'post',
  path: '/v1/models/{id}/decode',
  summary: 'z -> x',
  request: {
    params: IdParams,
    headers: shapeRequestHeader,
    query: z.strictObject({
      format: formatParam(['json', 'f32'], f32Text('samples')),
      mode: modeQuery,
      seed: uint32Query('seed', 'VAE: seed of the observation noise'),
    }),
    body: { required: true, content: { 'application/json': { schema: DecodeRequest }, 'application/octet-stream': binaryBody<z.output<typeof DecodeRequest>>('z') } },
  },
  responses: {
    200: {
      description: 'decoded rows: JSON, or raw float32 (x-edgegen-shape rows,D)',
      headers: { [HEADERS.shape]: header('binary answers: rows,D'), [HEADERS.rowShape]: header("binary answers: one row's shape") },
      content: { 'application/json': { schema: SamplesResponse }, 'application/octet-stream': binary('samples as float32') },
    },
    ...errors(400, 404, 413, 422, 429, 500, 503),
  },
});

export const interpolateRoute = createRoute({
  method: 'post',
  path: '/v1/models/{id}/interpolate',
  summary: 'decode a path between two latents',
  request: {
    params: IdParams,
    query: z.strictObject({ format: formatParam(['json', 'f32'], f32Text('samples')) }),
    body: { required: false, content: { 'application/json': { schema: InterpolateRequest } } },
  },
  responses: {
    200: {
      description: 'points on the path: JSON, or raw float32 (x-edgegen-shape steps,D)',
      headers: { [HEADERS.shape]: header('binary answers: steps,D'), [HEADERS.rowShape]: header("binary answers: one row's shape") },
      content: { 'application/json': { schema: SamplesResponse }, 'application/octet-stream': binary('samples as float32') },
    },
    ...errors(400, 404, 413, 422, 429, 500, 503),
  },
});

export const scoreRoute = createRoute({
  method: 'post',
  path: '/v1/models/{id}/score',
  summary: 'anomaly / out-of-distribution score per row, with a calibrated outlier verdict',
  description:
    "Takes rows as density does (JSON or float32). Answers log p(x) and, for a model calibrated at export, `anomaly` (higher = more anomalous; for images the larger of a typicality test and the complexity-corrected likelihood, which a blank image or an easier data set cannot fool), its `percentile` among held-out in-distribution rows, and `outlier` at the threshold calibrated for `fpr`. A model without calibration answers the raw fields and `uncalibrated` (why). GANs answer 422.",
  request: {
    params: IdParams,
    headers: shapeRequestHeader,
    query: scoredRowsQuery(),
    body: { required: true, content: { 'application/json': { schema: ScoreRequest }, 'application/octet-stream': binaryBody<z.output<typeof ScoreRequest>>('x') } },
  },
  responses: {
    200: { description: 'scores per row', content: { 'application/json': { schema: ScoreResponse } } },
    ...errors(400, 404, 413, 422, 429, 500),
  },
});

export const classifyRoute = createRoute({
  method: 'post',
  path: '/v1/models/{id}/classify',
  summary: "classify rows by Bayes' rule over a class-conditional model, abstaining on rows of no class and uncertain ones",
  description:
    "Takes rows as density does (JSON or float32). For a class-conditional density model (GET /v1/models lists `classes`), answers per row the posterior p(y | x) (log p(x | y) + log p(y), normalised), the top label with its name and probability, log p(x), score's anomaly and outlier, and `abstain`: null where the label stands, 'out_of_distribution' where the row is an outlier at `fpr`, 'uncertain' where the top posterior is under the threshold calibrated at export (`confidence`, for `coverage` of held-out rows). GANs and unconditional models answer 422.",
  request: {
    params: IdParams,
    headers: shapeRequestHeader,
    query: scoredRowsQuery(),
    body: { required: true, content: { 'application/json': { schema: ClassifyRequest }, 'application/octet-stream': binaryBody<z.output<typeof ClassifyRequest>>('x') } },
  },
  responses: {
    200: { description: 'a class and an abstention verdict per row', content: { 'application/json': { schema: ClassifyResponse } } },
    ...errors(400, 404, 413, 422, 429, 500),
  },
});

// ---------------------------------------------------------------------------
// Validation failures as the API's error codes

/**
 * The validation hook: zod's issues, as the API's error codes. @hono/zod-openapi
 * calls it whenever a request's params, query, headers or body fail their
 * schema (above); the first issue becomes one 400 in the documented shape,
 * with the codes the hand-written validators used to answer.
 */
const TARGET_NAME: Record<string, string> = { json: 'body', query: 'query', param: 'path', header: 'header' };

/** `body.x[0][1]`, `query.format` */
function where(target: string, path: readonly PropertyKey[]): string {
  let out = TARGET_NAME[target] ?? target;
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `.${String(p)}`;
  return out;
}

export function issueError(issue: z.core.$ZodIssue, target: string): HttpError {
  const at = where(target, issue.path);
  switch (issue.code) {
    case 'custom': {
      // matrixProblem (core/contract.ts) names the code itself
      const params = (issue.params ?? {}) as { code?: 'bad_shape'; limit?: number };
      return badRequest(params.code ?? 'invalid_value', `${at} ${issue.message}`, params.limit);
    }
    case 'unrecognized_keys': {
      const key = issue.keys[0];
      const what = target === 'query' ? 'a parameter of this endpoint' : 'a field of this request';
      return badRequest('unknown_field', `${where(target, [...issue.path, key])} is not ${what}`);
    }
    case 'too_small': {
      const min = Number(issue.minimum);
      if (issue.origin === 'array') return badRequest('bad_shape', `${at} must have at least ${min} item(s)`);
      if (issue.origin === 'string') return badRequest('invalid_value', min === 1 ? `${at} must not be empty` : `${at} must be at least ${min} characters`);
      if (min === -FLOAT32_MAX) return badRequest('out_of_range', `${at} is beyond float32`, FLOAT32_MAX);
      return badRequest('out_of_range', `${at} must be ${issue.inclusive === false ? '>' : '>='} ${min}`, min);
    }
    case 'too_big': {
      const max = Number(issue.maximum);
      if (max === FLOAT32_MAX) return badRequest('out_of_range', `${at} is beyond float32`, FLOAT32_MAX);
      return badRequest('limit_exceeded', `${at} must be ${issue.inclusive === false ? '<' : '<='} ${max}`, max);
    }
    case 'invalid_value':
      return badRequest('invalid_value', `${at} must be ${issue.values.map(String).join(' or ')}`);
    case 'invalid_type': {
      // JSON's 1e999 parses to Infinity; zod reports it as a wrong type
      const received = (issue as { received?: string }).received;
      if (received === 'Infinity' || received === '-Infinity') return badRequest('not_finite', `${at} must be finite`);
      return badRequest('invalid_type', `${at} must be ${issue.expected === 'int' ? 'an integer' : `of type ${issue.expected}`}`);
    }
    case 'invalid_union': {
      // a value that may take several forms (a label: id, name or list): report the
      // branch of the value's own type, e.g. "must be >= 0" for -1, not "no form matched"
      const fits = issue.errors.filter((branch) => !branch.some((i) => i.code === 'invalid_type' && i.path.length === 0));
      if (fits.length) {
        const inner = fits[0][0];
        return issueError({ ...inner, path: [...issue.path, ...inner.path] } as z.core.$ZodIssue, target);
      }
      const expected = issue.errors.map((branch) => branch.find((i) => i.code === 'invalid_type')).map((i) => (i && i.code === 'invalid_type' ? (i.expected === 'int' ? 'an integer' : `a ${i.expected}`) : 'another form'));
      return badRequest('invalid_type', `${at} must be ${[...new Set(expected)].join(' or ')}`);
    }
    case 'invalid_format':
      return badRequest(target === 'header' ? 'bad_shape' : 'invalid_value', `${at} is not in the expected format (${issue.format})`);
    default:
      return badRequest('invalid_value', `${at}: ${issue.message}`);
  }
}

/** The OpenAPIHono default hook: throw the first issue as an HttpError (app.ts's onError answers it). */
export const validationHook: NonNullable<OpenAPIHonoOptions<AppEnv>['defaultHook']> = (result) => {
  if (result.success) return;
  throw issueError(firstIssue(result.error.issues), result.target);
};

/**
 * The issue to answer with: the first, except zod's safe-integer range check
 * (an integer of 2^53 or more) when the field's own bound also failed: "must be
 * <= 1024" tells the caller the field's limit, "<= 9007199254740991" does not.
 */
export function firstIssue(issues: readonly z.core.$ZodIssue[]): z.core.$ZodIssue {
  const [first] = issues;
  const safeRange = (i: z.core.$ZodIssue) => (i.code === 'too_big' || i.code === 'too_small') && i.origin === 'int' && Math.abs(Number(i.code === 'too_big' ? i.maximum : i.minimum)) === Number.MAX_SAFE_INTEGER;
  if (!safeRange(first)) return first;
  const same = (i: z.core.$ZodIssue) => i.path.length === first.path.length && i.path.every((p, k) => p === first.path[k]);
  return issues.find((i) => i !== first && same(i)) ?? first;
}
