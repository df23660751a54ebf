/**
 * The edgegen API: one Hono app, written once against the Runtime interface
 * (runtime.ts) and served by the Worker adapter (worker/) and the Node adapter
 * (node/). The routes (routes.ts) are @hono/zod-openapi definitions over the
 * schemas in core/contract.ts: they validate requests, make /openapi.json and
 * type the `hc` client (`AppType`), so the three cannot disagree.
 *
 * Each POST runs, in order: the model (404) and its capability (422), the body
 * limit (413), the body read as JSON or float32 (400 bad_json, bad_shape), the
 * route's zod validators (400, codes from issues.ts), the work budget (400
 * over_budget), and only then a model.
 */
import { OpenAPIHono } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler, TypedResponse } from 'hono';
import type { JSONParsed } from 'hono/utils/types';
import { cors } from 'hono/cors';
import { HTTPException } from 'hono/http-exception';
import { methodNotAllowed } from 'hono/method-not-allowed';
import { API_LIMITS, type DecodeResponse, type EncodeResponse, type InterpolateResponse, type SampleResponse } from '../core/api';
import type { Capability, Manifest } from '../core/manifest';
import { bodyLimit, parseBody, type AppEnv } from './body';
import { budget } from './budget';
import { DOCS_FILES, DOCS_HTML, type DocsFile } from './docs';
import { HttpError, badRequest } from './errors';
import { JsonBytes } from './float32';
import { limitsOf, operationsOf } from './budget';
import { decode, density, densityJson, encode, encodeJson, interpolate, isImage, requireInterpolate, sample, type Batch } from './infer';
import { validationHook } from './issues';
import { gridPng } from './png';
import {
  HEADERS,
  classifyRoute,
  decodeRoute,
  densityRoute,
  encodeRoute,
  healthRoute,
  interpolateRoute,
  listRoute,
  manifestRoute,
  sampleRoute,
  scoreRoute,
} from './routes';
import type { Runtime } from './runtime';
import { classify, score, scoreBudget } from './score';
import { ModelStore, type ServeOptions } from './store';
import { Phases } from './timing';

export interface AppOptions {
  /** largest request body in bytes */
  maxBodyBytes: number;
  /**
   * The API reference's script and stylesheet (docs.ts), for runtimes that do
   * not serve them as static files (Node). Absent: /docs/ui/* is left to the
   * static assets (the Worker).
   */
  docsFile?: (name: DocsFile) => Promise<Uint8Array | null>;
  /** batching, session LRU and admission bounds (store.ts SERVE_DEFAULTS) */
  serve?: Partial<ServeOptions>;
}

const defaults: AppOptions = { maxBodyBytes: API_LIMITS.maxBodyBytes };

/** Byte order of this host: true on every platform workerd and Node ship for. */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Float32 values as little-endian bytes: on a little-endian host (every one
 * workerd and Node ship for) a view of the same memory, no copy; the arrays
 * handed here are the request's own (a graph's output or a batch's share of it).
 */
function float32Bytes(data: Float32Array): Uint8Array<ArrayBuffer> {
  if (LITTLE_ENDIAN) return new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
  const bytes = new Uint8Array(data.byteLength);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i], true);
  return bytes;
}

/**
 * A 200 JSON answer from bytes already written, typed as c.json would type
 * `T` (so `hc` callers see the same answer type), with c.json's content type.
 */
function jsonBytes<T>(c: Context, bytes: Uint8Array<ArrayBuffer>) {
  return c.body(bytes, 200, { 'content-type': 'application/json' }) as unknown as Response & TypedResponse<JSONParsed<T>, 200, 'json'>;
}

export type Format = 'json' | 'png' | 'f32';

/**
 * The answer's format: ?format= (already checked against the route's enum)
 * wins over the Accept header, so a browser link can ask for either; without
 * either, JSON. Accept: image/png is looked at before application/octet-stream.
 */
function negotiate(c: Context, format: Format | undefined, offered: readonly Format[]): Format {
  if (format !== undefined) return format;
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
    [HEADERS.shape]: shape.join(','),
    ...headers,
  });
}

/**
 * A float32 body carries only the rows; the endpoint's other fields may come
 * from the query. A JSON body carries its own, so the query may not repeat them.
 */
function withQueryFields<T extends object>(c: Context<AppEnv>, body: T, query: Record<string, unknown>): T {
  const given = Object.entries(query).filter(([k, v]) => k !== 'format' && v !== undefined);
  if (!given.length) return body;
  if (!c.get('binaryBody')) {
    throw badRequest('invalid_value', `query.${given[0][0]} is for float32 bodies only; a JSON body carries ${given[0][0]} itself`);
  }
  return { ...body, ...Object.fromEntries(given) };
}

function randomSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0];
}

export function createApp(runtime: Runtime, options: Partial<AppOptions> = {}) {
  const opts = { ...defaults, ...options };
  const store = new ModelStore(runtime, opts.serve);
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  // Server-Timing on every answer, errors included (timing.ts)
  app.use('*', async (c, next) => {
    const phases = new Phases();
    c.set('phases', phases);
    await next();
    phases.lap('encode');
    c.res.headers.set('server-timing', phases.header());
  });

  app.use(
    '*',
    cors({
      origin: '*',
      allowMethods: ['GET', 'POST', 'OPTIONS'],
      allowHeaders: ['Content-Type', 'Accept', HEADERS.shape],
      exposeHeaders: [HEADERS.shape, HEADERS.rowShape, HEADERS.seed, HEADERS.kind, 'server-timing', 'retry-after'],
    }),
  );

  // a known path asked with a method it does not take: Hono's methodNotAllowed
  // turns the 404 into 405 with Allow (the methods of the routes on that path,
  // HEAD beside GET), in the error shape; OPTIONS is answered by cors above
  app.use(
    methodNotAllowed({
      app,
      onMethodNotAllowed: (c, methods) => {
        const allow = [...methods, 'OPTIONS'].join(', ');
        return c.json({ error: { code: 'method_not_allowed', message: `${c.req.method} is not allowed on ${c.req.path}; use ${allow}` } }, 405, { allow });
      },
    }),
  );

  // `?=1` names no parameter: the query validators never see it (an empty key is
  // dropped before them), so it would pass silently; refuse it like any unknown one
  app.use('*', async (c, next) => {
    const q = c.req.url.indexOf('?');
    if (q >= 0 && [...new URLSearchParams(c.req.url.slice(q + 1)).keys()].includes('')) {
      throw badRequest('unknown_field', 'the query has a parameter with an empty name (as in ?=1); name every parameter');
    }
    await next();
  });

  app.onError((err, c) => {
    if (err instanceof HttpError) return c.json(err.body(), err.status, err.headers);
    if (err instanceof HTTPException && err.status < 500) {
      // raised by a library before our own checks (none is expected: parseBody
      // hands the validators parsed JSON); still an error in the documented shape
      return c.json({ error: { code: 'bad_request', message: err.message } }, 400);
    }
    console.error(err);
    return c.json({ error: { code: 'internal', message: String((err as Error)?.message ?? err) } }, 500);
  });
  app.notFound((c) => c.json({ error: { code: 'not_found', message: `no route ${c.req.method} ${c.req.path}` } }, 404));

  /** The model named by {id} (404), able to do what is asked (422), in c.var.manifest. */
  const modelFor =
    (capability: Capability, what: string): MiddlewareHandler<AppEnv> =>
    async (c, next) => {
      const m = await store.manifest(c.req.param('id') ?? '');
      store.require(m, capability, what);
      c.set('manifest', m);
      await next();
    };
  /** What runs before a POST route's validators (see the top of this file). */
  const post = (capability: Capability, what: string, binaryField?: 'x' | 'z') =>
    [modelFor(capability, what), bodyLimit(opts.maxBodyBytes), parseBody(binaryField)];

  /**
   * {samples, shape[, seed]} as JSON bytes written straight from the float32
   * rows (float32.ts JsonBytes): the same text c.json gives, typed as its answer.
   */
  const samplesJson = async <T extends SampleResponse | DecodeResponse>(c: Context, b: Batch, shape: number[], seed?: number) => {
    const after = `,"shape":${JSON.stringify(shape)}${seed !== undefined ? `,"seed":${JSON.stringify(seed)}` : ''}}`;
    // the whole answer where the runtime writes it (Node: a thread of its own for large answers)
    if (runtime.jsonRows) return jsonBytes<T>(c, (await runtime.jsonRows(b.data, b.n, b.width, '{"samples":', after)) as Uint8Array<ArrayBuffer>);
    return jsonBytes<T>(c, new JsonBytes(b.n * b.width * 10 + 64).ascii('{"samples":').rows(b.data, b.n, b.width).ascii(after).bytes());
  };
  /** rows of samples as binary: shape rows,width; the JSON's `shape` goes in x-edgegen-row-shape */
  const samplesF32 = (c: Context, b: Batch, m: Manifest, headers: Record<string, string> = {}) =>
    f32Response(c, b.data, [b.n, b.width], { [HEADERS.rowShape]: m.shape.join(','), ...headers });

  const routes = app
    .openapi(healthRoute, async (c) => {
      const index = await store.list();
      return c.json({ status: 'ok' as const, runtime: runtime.name as 'node' | 'workerd', models: index.models.length, memory: store.stats() }, 200);
    })
    // what a client needs before it calls: each model's limits and the operations it answers
    .openapi(listRoute, async (c) => c.json({ models: (await store.list()).models.map((e) => ({ ...e, limits: limitsOf(e), operations: operationsOf(e) })) }, 200))
    .openapi(manifestRoute, async (c) => {
      const m = await store.manifest(c.req.valid('param').id);
      return c.json({ ...m, limits: limitsOf(m), operations: operationsOf(m) }, 200);
    })
    .openapi({ ...sampleRoute, middleware: post('sample', 'sample') }, async (c) => {
      const m = c.get('manifest');
      const body = c.req.valid('json');
      budget.sample(body, m);
      const format = negotiate(c, c.req.valid('query').format, ['json', 'png', 'f32']);
      if (format === 'png' && !isImage(m)) {
        throw new HttpError(406, 'png_unavailable', `${m.id} samples are points of shape [${m.shape}], not images; ask for JSON`);
      }
      const seed = body.seed ?? randomSeed();
      const batch = await sample(store, m, { ...body, seed }, c.get('phases'));
      if (format === 'png') {
        const png = await gridPng(batch.data, batch.n, m.shape);
        return c.body(png as Uint8Array<ArrayBuffer>, 200, { 'content-type': 'image/png', [HEADERS.seed]: String(seed) });
      }
      if (format === 'f32') return samplesF32(c, batch, m, { [HEADERS.seed]: String(seed) });
      return samplesJson<SampleResponse>(c, batch, m.shape, seed);
    })
    // binary answers carry the primary array only: logp here, z for encode;
    // elbo, bitsPerDim and logvar stay JSON-only
    .openapi({ ...densityRoute, middleware: post('density', 'compute a density', 'x') }, async (c) => {
      const m = c.get('manifest');
      const { format, ...fields } = c.req.valid('query');
      const body = withQueryFields(c, c.req.valid('json'), fields);
      budget.density(body, m);
      const r = await density(store, m, body, c.get('phases'));
      if (negotiate(c, format, ['json', 'f32']) === 'f32') return f32Response(c, r.logp, [r.logp.length], { [HEADERS.kind]: r.kind });
      return c.json(densityJson(r, m), 200);
    })
    .openapi({ ...encodeRoute, middleware: post('encode', 'encode x -> z', 'x') }, async (c) => {
      const m = c.get('manifest');
      const body = c.req.valid('json');
      budget.encode(body, m);
      const r = await encode(store, m, body, c.get('phases'));
      if (negotiate(c, c.req.valid('query').format, ['json', 'f32']) === 'f32') return f32Response(c, r.z.data, [r.z.n, r.z.width]);
      return jsonBytes<EncodeResponse>(c, encodeJson(r));
    })
    .openapi({ ...decodeRoute, middleware: post('sample', 'decode', 'z') }, async (c) => {
      const m = c.get('manifest');
      const { format, ...fields } = c.req.valid('query');
      const body = withQueryFields(c, c.req.valid('json'), fields);
      budget.decode(body, m);
      const batch = await decode(store, m, body, c.get('phases'));
      if (negotiate(c, format, ['json', 'f32']) === 'f32') return samplesF32(c, batch, m);
      return samplesJson<DecodeResponse>(c, batch, m.shape);
    })
    .openapi({ ...interpolateRoute, middleware: post('sample', 'interpolate') }, async (c) => {
      const m = c.get('manifest');
      const body = c.req.valid('json');
      requireInterpolate(m);
      budget.interpolate(body, m);
      const batch = await interpolate(store, m, body, c.get('phases'));
      if (negotiate(c, c.req.valid('query').format, ['json', 'f32']) === 'f32') return samplesF32(c, batch, m);
      return samplesJson<InterpolateResponse>(c, batch, m.shape);
    })
    // score: density's rows and checks (edge/score.ts); JSON answers only
    .openapi({ ...scoreRoute, middleware: post('density', 'score anomalies', 'x') }, async (c) => {
      const m = c.get('manifest');
      const body = withQueryFields(c, c.req.valid('json'), c.req.valid('query'));
      scoreBudget(body, m);
      return c.json(await score(store, m, body, c.get('phases')), 200);
    })
    // classify: score's density run, read through Bayes' rule (edge/score.ts)
    .openapi({ ...classifyRoute, middleware: post('density', 'classify', 'x') }, async (c) => {
      const m = c.get('manifest');
      const body = withQueryFields(c, c.req.valid('json'), c.req.valid('query'));
      scoreBudget(body, m);
      return c.json(await classify(store, m, body, c.get('phases')), 200);
    });

  let document: ReturnType<typeof app.getOpenAPI31Document> | undefined;
  app.get('/openapi.json', (c) =>
    c.json(
      (document ??= app.getOpenAPI31Document({
        openapi: '3.1.0',
        info: {
          title: 'edgegen',
          version: '1',
          description:
            'Sample, score and encode with VAEs, GANs and normalizing flows exported to ONNX. Rows travel as JSON or as raw little-endian float32 (application/octet-stream with x-edgegen-shape: rows,width), in both directions. Errors are always { error: { code, message, limit? } }.',
        },
      })),
    ),
  );

  app.get('/docs', (c) => c.html(DOCS_HTML));
  if (opts.docsFile) {
    const read = opts.docsFile;
    app.get('/docs/ui/:file', async (c) => {
      const name = c.req.param('file') as DocsFile;
      const bytes = Object.hasOwn(DOCS_FILES, name) ? await read(name) : null;
      if (!bytes) return c.json({ error: { code: 'not_found', message: `no file ${c.req.path}` } }, 404);
      return c.body(bytes as Uint8Array<ArrayBuffer>, 200, { 'content-type': DOCS_FILES[name], 'cache-control': 'public, max-age=3600' });
    });
  }

  return routes;
}

/** The app's routes as types: `hc<AppType>(base)` is a typed client of this API. */
export type AppType = ReturnType<typeof createApp>;
