/**
 * The OpenAPI 3.1 document, built from the same validators that check the
 * request bodies (schemas.ts), so the description cannot drift from behaviour.
 */
import { API_LIMITS } from '../core/api';
import { decodeBody, densityBody, encodeBody, interpolateBody, sampleBody } from './schemas';
import type { JsonSchema } from './validate';

const error: JsonSchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' }, limit: { type: 'number' } },
    },
  },
};
const rows: JsonSchema = { type: 'array', items: { type: 'array', items: { type: 'number' } } };
const numbers: JsonSchema = { type: 'array', items: { type: 'number' } };
const errorRef = { content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
const errors = (...codes: number[]) => {
  const text: Record<number, string> = {
    400: 'bad input: malformed JSON, wrong shape, non-finite or beyond-float32 numbers, over a limit, over the work budget (over_budget)',
    404: 'unknown model',
    413: `body larger than ${API_LIMITS.maxBodyBytes} bytes`,
    422: "the family lacks this capability (the message says why), or the model's output overflowed float32 (non_finite_output)",
    500: 'model_corrupt: the model file does not match its manifest',
  };
  return Object.fromEntries(codes.map((c) => [String(c), { description: text[c], ...errorRef }]));
};
const json = (schema: JsonSchema) => ({ content: { 'application/json': { schema } } });
const idParam = [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }];

const header = (description: string) => ({ description, schema: { type: 'string' } });

/** What the binary (raw float32) answer of an endpoint carries: see edge/README.md. */
interface Binary {
  /** which JSON array the body carries */
  carries: string;
  /** what x-edgegen-shape says */
  shape: string;
  headers?: Record<string, ReturnType<typeof header>>;
  /** the arrays that stay JSON-only */
  jsonOnly?: string;
  /** formats besides json and f32 */
  more?: string[];
}

function post(summary: string, body: JsonSchema, ok: JsonSchema, bin: Binary) {
  const formats = ['json', ...(bin.more ?? []), 'f32'];
  const f32 =
    `f32 (or Accept: application/octet-stream): raw little-endian float32, row-major, the JSON's \`${bin.carries}\` bit for bit` +
    (bin.jsonOnly ? `; ${bin.jsonOnly} stay JSON-only` : '');
  return {
    post: {
      summary,
      parameters: [
        ...idParam,
        {
          name: 'format',
          in: 'query',
          required: false,
          schema: { type: 'string', enum: formats },
          description:
            (bin.more?.includes('png') ? 'png (or Accept: image/png): a grid image, image models only. ' : '') +
            `${f32}. Wins over the Accept header; other values 400 invalid_value.`,
        },
      ],
      requestBody: { required: false, ...json(body) },
      responses: {
        '200': {
          description: 'OK',
          headers: {
            'x-edgegen-shape': header(`binary answers: the shape of the body, comma-separated (${bin.shape})`),
            ...bin.headers,
          },
          content: {
            'application/json': { schema: ok },
            'application/octet-stream': { schema: { type: 'string', format: 'binary', description: f32 } },
            ...(bin.more?.includes('png') ? { 'image/png': { schema: { type: 'string', format: 'binary' } } } : {}),
          },
        },
        ...errors(400, 404, 413, 422, 500),
      },
    },
  };
}

const rowShape = { 'x-edgegen-row-shape': header("binary answers: the shape of one row, the JSON's `shape`") };

const samplesOut: JsonSchema = {
  type: 'object',
  required: ['samples', 'shape'],
  properties: { samples: rows, shape: numbers, seed: { type: 'integer' } },
};

export function openApiDocument(): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'edgegen',
      version: '1',
      description: 'Sample, score and encode with VAEs, GANs and normalizing flows exported to ONNX.',
    },
    paths: {
      '/healthz': { get: { summary: 'liveness', responses: { '200': { description: 'OK' } } } },
      '/v1/models': {
        get: { summary: 'list the models', responses: { '200': { description: 'models/index.json', ...json({ type: 'object' }) } } },
      },
      '/v1/models/{id}': {
        get: {
          summary: "one model's manifest: family, shape, capabilities, training run and held-out metrics",
          parameters: idParam,
          responses: { '200': { description: 'manifest.json', ...json({ type: 'object' }) }, ...errors(404) },
        },
      },
      '/v1/models/{id}/sample': post('draw samples', sampleBody.schema, samplesOut, {
        carries: 'samples',
        shape: 'n,D',
        more: ['png'],
        headers: { ...rowShape, 'x-edgegen-seed': header('png and binary answers: the seed used') },
      }),
      '/v1/models/{id}/density': post(
        'log p(x) per row',
        densityBody.schema,
        {
          type: 'object',
          required: ['logp', 'kind'],
          properties: {
            logp: numbers,
            kind: { type: 'string', enum: ['exact', 'elbo', 'iwae'] },
            bitsPerDim: numbers,
            elbo: numbers,
          },
        },
        {
          carries: 'logp',
          shape: 'rows',
          jsonOnly: 'elbo and bitsPerDim',
          headers: { 'x-edgegen-kind': header('binary answers: exact, elbo or iwae, the JSON kind') },
        },
      ),
      '/v1/models/{id}/encode': post(
        'x -> z',
        encodeBody.schema,
        { type: 'object', required: ['z'], properties: { z: rows, logvar: rows } },
        { carries: 'z', shape: 'rows,width', jsonOnly: 'logvar' },
      ),
      '/v1/models/{id}/decode': post('z -> x', decodeBody.schema, samplesOut, { carries: 'samples', shape: 'rows,D', headers: rowShape }),
      '/v1/models/{id}/interpolate': post('decode a path between two latents', interpolateBody.schema, samplesOut, {
        carries: 'samples',
        shape: 'steps,D',
        headers: rowShape,
      }),
    },
    components: { schemas: { Error: error } },
  };
}
