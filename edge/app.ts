/**
 * The edgegen API: one Hono app, written once against the Runtime interface
 * (runtime.ts) and served by the Worker adapter (worker/) and the Node adapter
 * (node/). Routes, fields and limits follow DESIGN.md and core/api.ts.
 */
import { Hono, type Context } from 'hono';
import { cors } from 'hono/cors';
import { API_LIMITS } from '../core/api';
import type { Capability, Manifest } from '../core/manifest';
import type { DecodeResponse, InterpolateResponse, SampleResponse } from '../core/api';
import { HttpError, badRequest } from './errors';
import { decode, density, encode, interpolate, isImage, sample, toRows, type Batch } from './infer';
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

function randomSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0];
}

export function createApp(runtime: Runtime, options: Partial<AppOptions> = {}) {
  const opts = { ...defaults, ...options };
  const store = new ModelStore(runtime);
  const app = new Hono();

  app.use('*', cors({ origin: '*', allowMethods: ['GET', 'POST', 'OPTIONS'], allowHeaders: ['Content-Type', 'Accept'] }));

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

  app.post('/v1/models/:id/sample', async (c) => {
    const { m, body } = await prepare(c, sampleBody, 'sample', 'sample', budget.sample);
    // ?format= wins over the Accept header, so a browser link can ask for either
    const format = c.req.query('format');
    if (format !== undefined && format !== 'png' && format !== 'json') throw badRequest('invalid_value', 'format must be json or png');
    const wantPng = format === 'png' || (format === undefined && (c.req.header('accept') ?? '').includes('image/png'));
    if (wantPng && !isImage(m)) {
      throw new HttpError(406, 'png_unavailable', `${m.id} samples are points of shape [${m.shape}], not images; ask for JSON`);
    }
    const seed = body.seed ?? randomSeed();
    const batch = await sample(store, m, { ...body, seed });
    if (wantPng) {
      const png = await gridPng(batch.data, batch.n, m.shape);
      return c.body(png as Uint8Array<ArrayBuffer>, 200, { 'content-type': 'image/png', 'x-edgegen-seed': String(seed) });
    }
    const res: SampleResponse = { ...samplesJson(batch, m.shape), seed };
    return c.json(res);
  });

  app.post('/v1/models/:id/density', async (c) => {
    const { m, body } = await prepare(c, densityBody, 'density', 'compute a density', budget.density);
    return c.json(await density(store, m, body));
  });

  app.post('/v1/models/:id/encode', async (c) => {
    const { m, body } = await prepare(c, encodeBody, 'encode', 'encode x -> z', budget.encode);
    return c.json(await encode(store, m, body));
  });

  app.post('/v1/models/:id/decode', async (c) => {
    const { m, body } = await prepare(c, decodeBody, 'sample', 'decode', budget.decode);
    const res: DecodeResponse = samplesJson(await decode(store, m, body), m.shape);
    return c.json(res);
  });

  app.post('/v1/models/:id/interpolate', async (c) => {
    const { m, body } = await prepare(c, interpolateBody, 'sample', 'interpolate', budget.interpolate);
    const res: InterpolateResponse = samplesJson(await interpolate(store, m, body), m.shape);
    return c.json(res);
  });

  return app;
}

