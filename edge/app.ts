/**
 * The edgegen API: one Hono app, written once against the Runtime interface
 * (runtime.ts) and served by the Worker adapter (worker/) and the Node adapter
 * (node/). Routes, fields and limits follow core/api.ts and edge/README.md.
 */
import { Hono, type Context } from 'hono';
import { cors } from 'hono/cors';
import { API_LIMITS } from '../core/api';
import type { Capability, Manifest } from '../core/manifest';
import type { DecodeResponse, InterpolateResponse, SampleResponse } from '../core/api';
import { HttpError, badRequest } from './errors';
import { decode, density, densityJson, encode, encodeJson, interpolate, isImage, sample, toRows, type Batch } from './infer';
import { openApiDocument } from './openapi';
import { gridPng } from './png';
import type { Runtime } from './runtime';
import { budget, decodeBody, densityBody, encodeBody, interpolateBody, sampleBody } from './schemas';
import { ModelStore } from './store';
import type { Validator } from './validate';

export interface AppOptions {
  /** largest request body in bytes */
  maxBodyBytes: number;
}

const defaults: AppOptions = { maxBodyBytes: API_LIMITS.maxBodyBytes };

/** Read the body as JSON, refusing more than `limit` bytes without buffering them all. */
async function readJson(c: Context, limit: number): Promise<unknown> {
  const declared = Number(c.req.header('content-length') ?? NaN);
  const tooLarge = () => new HttpError(413, 'body_too_large', `request body over ${limit} bytes`, limit);
  if (declared > limit) throw tooLarge();
  const body = c.req.raw.body;
  if (!body) return {};
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > limit) {
      // read the rest and drop it instead of cancelling: a cancelled upload left
      // workerd's connection broken for the next request (seen under wrangler dev);
      // Cloudflare itself refuses bodies over 100 MB, which bounds the draining
      for (let r = await reader.read(); !r.done; r = await reader.read());
      throw tooLarge();
    }
    chunks.push(value);
  }
  if (size === 0) return {}; // an empty body means "all defaults"
  const bytes = new Uint8Array(size);
  let o = 0;
  for (const ch of chunks) {
    bytes.set(ch, o);
    o += ch.length;
  }
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (err) {
    throw badRequest('bad_json', `request body is not valid JSON: ${(err as Error).message}`);
  }
}

/** Byte order of this host: true on every platform workerd and Node ship for. */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Float32 values as little-endian bytes, in a buffer of their own. */
function float32Bytes(data: Float32Array): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(data.byteLength);
  if (LITTLE_ENDIAN) {
    bytes.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  } else {
    const view = new DataView(bytes.buffer);
    for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i], true);
  }
  return bytes;
}

export type Format = 'json' | 'png' | 'f32';

/**
 * The answer's format: ?format= wins over the Accept header, so a browser link
 * can ask for either; without either, JSON. Accept: image/png is looked at
 * before application/octet-stream (as before the binary format existed).
 * A ?format= the endpoint does not offer is a 400 invalid_value.
 */
function negotiate(c: Context, offered: readonly Format[]): Format {
  const format = c.req.query('format');
  if (format !== undefined) {
    if (!(offered as readonly string[]).includes(format)) throw badRequest('invalid_value', `format must be ${offered.join(', ').replace(/, ([^,]*)$/, ' or $1')}`);
    return format as Format;
  }
  const accept = c.req.header('accept') ?? '';
  if (offered.includes('png') && accept.includes('image/png')) return 'png';
  if (accept.includes('application/octet-stream')) return 'f32';
  return 'json';
}

/**
 * The binary answer: raw little-endian float32, row-major, the values the JSON
 * would carry bit for bit. x-edgegen-shape is the shape of what the body
 * carries (rows,width for row arrays; rows for density's logp).
 */
function f32Response(c: Context, data: Float32Array, shape: number[], headers: Record<string, string> = {}) {
  return c.body(float32Bytes(data), 200, {
    'content-type': 'application/octet-stream',
    'x-edgegen-shape': shape.join(','),
    ...headers,
  });
}

function randomSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0];
}

export function createApp(runtime: Runtime, options: Partial<AppOptions> = {}) {
  const opts = { ...defaults, ...options };
  const store = new ModelStore(runtime);
  const app = new Hono();

  app.use(
    '*',
    cors({
      origin: '*',
      allowMethods: ['GET', 'POST', 'OPTIONS'],
      allowHeaders: ['Content-Type', 'Accept'],
      exposeHeaders: ['x-edgegen-shape', 'x-edgegen-row-shape', 'x-edgegen-seed', 'x-edgegen-kind'],
    }),
  );

  app.onError((err, c) => {
    if (err instanceof HttpError) return c.json(err.body(), err.status);
    console.error(err);
    return c.json({ error: { code: 'internal', message: String((err as Error)?.message ?? err) } }, 500);
  });
  app.notFound((c) => c.json({ error: { code: 'not_found', message: `no route ${c.req.method} ${c.req.path}` } }, 404));

  app.get('/healthz', async (c) => {
    const index = await store.list();
    return c.json({ status: 'ok', runtime: runtime.name, models: index.models.length });
  });
  app.get('/openapi.json', (c) => c.json(openApiDocument()));
  app.get('/v1/models', async (c) => c.json({ models: (await store.list()).models }));
  app.get('/v1/models/:id', async (c) => c.json(await store.manifest(c.req.param('id'))));

  /**
   * Look the model up (404), check the family offers what is asked (422), then
   * read and validate the body (413, 400), then check its cost against the
   * work budget (400 over_budget): nothing unchecked reaches a model.
   */
  async function prepare<T>(c: Context, validator: Validator<T>, capability: Capability, what: string, cost: (body: T, m: Manifest) => void) {
    const m = await store.manifest(c.req.param('id') ?? '');
    store.require(m, capability, what);
    const body = validator.parse(await readJson(c, opts.maxBodyBytes), 'body');
    cost(body, m);
    return { m, body };
  }

  const samplesJson = (b: Batch, shape: number[]) => ({ samples: toRows(b), shape });
  /** rows of samples as binary: shape rows,width; the JSON's `shape` goes in x-edgegen-row-shape */
  const samplesF32 = (c: Context, b: Batch, m: Manifest, headers: Record<string, string> = {}) =>
    f32Response(c, b.data, [b.n, b.width], { 'x-edgegen-row-shape': m.shape.join(','), ...headers });

  app.post('/v1/models/:id/sample', async (c) => {
    const { m, body } = await prepare(c, sampleBody, 'sample', 'sample', budget.sample);
    const format = negotiate(c, ['json', 'png', 'f32']);
    if (format === 'png' && !isImage(m)) {
      throw new HttpError(406, 'png_unavailable', `${m.id} samples are points of shape [${m.shape}], not images; ask for JSON`);
    }
    const seed = body.seed ?? randomSeed();
    const batch = await sample(store, m, { ...body, seed });
    if (format === 'png') {
      const png = await gridPng(batch.data, batch.n, m.shape);
      return c.body(png as Uint8Array<ArrayBuffer>, 200, { 'content-type': 'image/png', 'x-edgegen-seed': String(seed) });
    }
    if (format === 'f32') return samplesF32(c, batch, m, { 'x-edgegen-seed': String(seed) });
    const res: SampleResponse = { ...samplesJson(batch, m.shape), seed };
    return c.json(res);
  });

  // binary carries the primary array only: logp here, z for encode; elbo,
  // bitsPerDim and logvar stay JSON-only
  app.post('/v1/models/:id/density', async (c) => {
    const { m, body } = await prepare(c, densityBody, 'density', 'compute a density', budget.density);
    const format = negotiate(c, ['json', 'f32']);
    const r = await density(store, m, body);
    if (format === 'f32') return f32Response(c, r.logp, [r.logp.length], { 'x-edgegen-kind': r.kind });
    return c.json(densityJson(r, m));
  });

  app.post('/v1/models/:id/encode', async (c) => {
    const { m, body } = await prepare(c, encodeBody, 'encode', 'encode x -> z', budget.encode);
    const format = negotiate(c, ['json', 'f32']);
    const r = await encode(store, m, body);
    if (format === 'f32') return f32Response(c, r.z.data, [r.z.n, r.z.width]);
    return c.json(encodeJson(r));
  });

  app.post('/v1/models/:id/decode', async (c) => {
    const { m, body } = await prepare(c, decodeBody, 'sample', 'decode', budget.decode);
    const format = negotiate(c, ['json', 'f32']);
    const batch = await decode(store, m, body);
    if (format === 'f32') return samplesF32(c, batch, m);
    const res: DecodeResponse = samplesJson(batch, m.shape);
    return c.json(res);
  });

  app.post('/v1/models/:id/interpolate', async (c) => {
    const { m, body } = await prepare(c, interpolateBody, 'sample', 'interpolate', budget.interpolate);
    const format = negotiate(c, ['json', 'f32']);
    const batch = await interpolate(store, m, body);
    if (format === 'f32') return samplesF32(c, batch, m);
    const res: InterpolateResponse = samplesJson(batch, m.shape);
    return c.json(res);
  });

  return app;
}

