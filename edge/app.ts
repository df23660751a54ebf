/**
 * The edgegen API's HTTP layer: one Hono app over the serving engine
 * (engine.ts), which a runtime plugs into (`Runtime`: the Worker adapter in
 * worker/, the Node adapter in node/). The routes (routes.ts) are
 * @hono/zod-openapi definitions over the schemas in core/contract.ts: they
 * validate requests, make /openapi.json and type the `hc` client (`AppType`),
 * so the three cannot disagree. This file holds the middleware, the request
 * bodies (JSON or float32), the handlers and the answers' formats (JSON
 * written from float32 rows, raw float32, PNG grids).
 *
 * Each POST runs, in order: the model (404) and its capability (422), the body
 * limit (413), the body read as JSON or float32 (400 bad_json, bad_shape), the
 * route's zod validators (400, codes from routes.ts's hook), the work budget
 * (400 over_budget), and only then a model.
 */
import { OpenAPIHono } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler, TypedResponse } from 'hono';
import type { JSONParsed } from 'hono/utils/types';
import { cors } from 'hono/cors';
import { HTTPException } from 'hono/http-exception';
import { methodNotAllowed } from 'hono/method-not-allowed';
import { API_LIMITS, type DecodeResponse, type EncodeResponse, type InterpolateResponse, type SampleResponse } from '../core/api';
import type { Capability, Manifest } from '../core/manifest';
import { encodePng } from '../core/png';
import { isImage } from '../core/protocol';
import { DOCS_FILES, DOCS_HTML, type DocsFile } from './docs';
import { Engine, HttpError, Owned, Phases, badRequest, budget, densityJson, encodeJson, limitsOf, operationsOf, requireInterpolate, type Batch, type Runtime, type ServeOptions } from './engine';
import { JsonBytes } from './float32';
import {
  HEADERS,
  type AppEnv,
  validationHook,
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
import { classify, score, scoreBudget } from './score';

export interface AppOptions {
  /** largest request body in bytes */
  maxBodyBytes: number;
  /**
   * The API reference's script and stylesheet (docs.ts), for runtimes that do
   * not serve them as static files (Node). Absent: /docs/ui/* is left to the
   * static assets (the Worker).
   */
  docsFile?: (name: DocsFile) => Promise<Uint8Array | null>;
  /** batching, session LRU and admission bounds (engine.ts SERVE_DEFAULTS) */
  serve?: Partial<ServeOptions>;
  /**
   * Where large JSON answers are written: `before`, the rows as JSON (the
   * bytes float32.ts's JsonBytes.rows writes), then `after`. The rows are
   * handed over. Node writes them on a thread of its own (node/runtime.ts
   * JsonThread); absent: in line.
   */
  writeJson?: (rows: Owned, before: string, after: string) => Promise<Uint8Array>;
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

/** The answer headers a page on another origin may read (CORS Access-Control-Expose-Headers). */
export const EXPOSED_HEADERS = [HEADERS.shape, HEADERS.rowShape, HEADERS.seed, HEADERS.kind, 'server-timing', 'retry-after'] as const;

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

// ---------------------------------------------------------------------------
// Request bodies

/**
 * Request bodies, as middleware that runs before the route's zod validators
 * (routes.ts): `bodyLimit` reads at most `maxBytes` (413 otherwise, declared or
 * chunked), and `parseBody` turns what was read into the value the validators
 * check: JSON whatever the content type (an empty body means "all defaults"),
 * or, where the endpoint takes them, raw float32 rows.
 */

/**
 * Refuse a body over `maxBytes` without buffering it: a declared length over the
 * limit is refused before reading; a chunked body is counted while it arrives.
 * The bytes read are kept for parseBody.
 */
export function bodyLimit(maxBytes: number): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const tooLarge = () => new HttpError(413, 'body_too_large', `request body over ${maxBytes} bytes`, maxBytes);
    const declared = Number(c.req.header('content-length') ?? NaN);
    if (declared > maxBytes) throw tooLarge();
    if (declared >= 0) {
      // a declared length within the limit: the HTTP parser delivers exactly that many
      // bytes, so read them at once (on Node, @hono/node-server then reads the socket
      // directly instead of building a web ReadableStream over it)
      c.set('bodyBytes', new Uint8Array(await c.req.raw.arrayBuffer()));
      return next();
    }
    const chunks: Uint8Array[] = [];
    let size = 0;
    const body = c.req.raw.body;
    if (body) {
      const reader = body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        size += value.length;
        if (size > maxBytes) {
          // read the rest and drop it instead of cancelling: a cancelled upload left
          // workerd's connection broken for the next request (seen under wrangler dev);
          // Cloudflare itself refuses bodies over 100 MB, which bounds the draining
          for (let r = await reader.read(); !r.done; r = await reader.read());
          throw tooLarge();
        }
        chunks.push(value);
      }
    }
    const bytes = new Uint8Array(size);
    let o = 0;
    for (const ch of chunks) {
      bytes.set(ch, o);
      o += ch.length;
    }
    c.set('bodyBytes', bytes);
    await next();
  };
}

const isBinary = (c: Context) => (c.req.header('content-type') ?? '').split(';')[0].trim().toLowerCase() === 'application/octet-stream';

/**
 * Raw little-endian float32 rows, shaped by `x-edgegen-shape: rows,width`, as
 * the JSON rows the schema checks (NaN and Infinity are caught there, as in JSON).
 */
function float32Rows(c: Context, bytes: Uint8Array): number[][] {
  const header = c.req.header(HEADERS.shape);
  const m = /^(\d{1,9}),(\d{1,9})$/.exec(header?.trim() ?? '');
  if (!m) throw badRequest('bad_shape', `a float32 body needs a ${HEADERS.shape}: rows,width header${header === undefined ? '' : `, got '${header.slice(0, 40)}'`}`);
  const [rows, width] = [Number(m[1]), Number(m[2])];
  if (rows > API_LIMITS.maxRows) throw badRequest('limit_exceeded', `${HEADERS.shape} says ${rows} rows; at most ${API_LIMITS.maxRows} allowed`, API_LIMITS.maxRows);
  if (rows === 0 || width === 0) throw badRequest('bad_shape', `${HEADERS.shape} must name at least one row of at least one value, got ${rows},${width}`);
  if (bytes.length !== rows * width * 4) {
    throw badRequest('bad_shape', `${HEADERS.shape} ${rows},${width} needs ${rows * width * 4} bytes of float32, the body has ${bytes.length}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: number[][] = new Array(rows);
  for (let i = 0; i < rows; i++) {
    const row = new Array<number>(width);
    for (let j = 0; j < width; j++) row[j] = view.getFloat32((i * width + j) * 4, true);
    out[i] = row;
  }
  return out;
}

/**
 * Hand the route's JSON validator the body as a parsed value. `binaryField`
 * names the field float32 rows fill on endpoints that take them (density and
 * encode: x, decode: z); elsewhere every body is read as JSON, whatever its
 * content type, as the API always has.
 */
export function parseBody(binaryField?: string): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const bytes = c.get('bodyBytes');
    let value: unknown;
    const binary = binaryField !== undefined && isBinary(c);
    if (binary) value = { [binaryField]: float32Rows(c, bytes) };
    else if (bytes.length === 0) value = {};
    else {
      try {
        value = JSON.parse(new TextDecoder().decode(bytes));
      } catch (err) {
        throw badRequest('bad_json', `request body is not valid JSON: ${(err as Error).message}`);
      }
    }
    c.set('binaryBody', binary);
    // The route's validators take the body from c.req.json() once the content
    // type (c.req.header) says JSON. Hand them the value parsed here, as JSON:
    // Hono's own json() would re-read the body (gone) or round-trip a cached
    // value through JSON.stringify, which turns Infinity and NaN into null.
    // (Overriding the one header is cheaper than a new Request without a body.)
    const header = c.req.header.bind(c.req) as (name?: string) => unknown;
    Object.defineProperty(c.req, 'header', {
      value: (name?: string) => (name !== undefined && name.toLowerCase() === 'content-type' ? 'application/json' : header(name)),
    });
    const parsed = Promise.resolve(value);
    Object.defineProperty(c.req, 'json', { value: () => parsed });
    await next();
  };
}

// ---------------------------------------------------------------------------
// The sample grid as a PNG

/**
 * Tile n samples (each h x w x channels, values in pixel units [0, 256)) into a
 * near-square grid with a 1-pixel gap, and encode it.
 */
export function gridPng(samples: Float32Array, n: number, shape: number[]): Uint8Array {
  const [h, w] = shape;
  const channels = shape[2] === 3 ? 3 : 1;
  const cols = Math.ceil(Math.sqrt(n));
  const rows = Math.ceil(n / cols);
  const width = cols * (w + 1) - 1;
  const height = rows * (h + 1) - 1;
  const pixels = new Uint8Array(width * height * channels);
  const per = h * w * channels;
  for (let s = 0; s < n; s++) {
    const ox = (s % cols) * (w + 1);
    const oy = Math.floor(s / cols) * (h + 1);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w * channels; x++) {
        const v = samples[s * per + y * w * channels + x];
        pixels[(oy + y) * width * channels + ox * channels + x] = Math.min(255, Math.max(0, Math.floor(v)));
      }
    }
  }
  return encodePng(pixels, width, height, channels);
}

// ---------------------------------------------------------------------------
// The app

export function createApp(runtime: Runtime, options: Partial<AppOptions> = {}) {
  const opts = { ...defaults, ...options };
  const engine = new Engine(runtime, opts.serve);
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  // Server-Timing on every answer, errors included (engine.ts Phases)
  app.use('*', async (c, next) => {
    const phases = new Phases();
    c.set('phases', phases);
    await next();
    phases.lap('encode');
    c.res.headers.set('server-timing', phases.header());
  });

  // CORS: Hono's middleware answers the preflight. On every other request it
  // sets its headers on c.res before the route runs, and Hono then merges the
  // route's answer into that response: on Node the answer becomes a stream of a
  // copy of its body (@hono/node-server leaves its direct write), measured at
  // 0.2-0.5 ms of the main thread per 64-image f32 sample (SERVING.md, "Where a
  // request's CPU goes on Node"). So the same two headers go in as headers the
  // answer is built with.
  const preflight = cors({ origin: '*', allowMethods: ['GET', 'POST', 'OPTIONS'], allowHeaders: ['Content-Type', 'Accept', HEADERS.shape], exposeHeaders: [...EXPOSED_HEADERS] });
  const exposed = EXPOSED_HEADERS.join(',');
  app.use('*', async (c, next) => {
    if (c.req.method === 'OPTIONS') return preflight(c, next);
    c.header('access-control-allow-origin', '*');
    c.header('access-control-expose-headers', exposed);
    await next();
  });

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
      const m = await engine.manifest(c.req.param('id') ?? '');
      engine.require(m, capability, what);
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
    // the whole answer where the adapter writes it (Node: a thread of its own for large answers)
    if (opts.writeJson) return jsonBytes<T>(c, (await opts.writeJson(new Owned(b.data, [b.n, b.width]), '{"samples":', after)) as Uint8Array<ArrayBuffer>);
    return jsonBytes<T>(c, new JsonBytes(b.n * b.width * 10 + 64).ascii('{"samples":').rows(b.data, b.n, b.width).ascii(after).bytes());
  };
  /** rows of samples as binary: shape rows,width; the JSON's `shape` goes in x-edgegen-row-shape */
  const samplesF32 = (c: Context, b: Batch, m: Manifest, headers: Record<string, string> = {}) =>
    f32Response(c, b.data, [b.n, b.width], { [HEADERS.rowShape]: m.shape.join(','), ...headers });

  const routes = app
    .openapi(healthRoute, async (c) => {
      const index = await engine.list();
      return c.json({ status: 'ok' as const, runtime: runtime.name, models: index.models.length, memory: engine.stats() }, 200);
    })
    // what a client needs before it calls: each model's limits and the operations it answers
    .openapi(listRoute, async (c) => c.json({ models: (await engine.list()).models.map((e) => ({ ...e, limits: limitsOf(e), operations: operationsOf(e) })) }, 200))
    .openapi(manifestRoute, async (c) => {
      const m = await engine.manifest(c.req.valid('param').id);
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
      const batch = await engine.sample(m, { ...body, seed }, c.get('phases'));
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
      const r = await engine.density(m, body, c.get('phases'));
      if (negotiate(c, format, ['json', 'f32']) === 'f32') return f32Response(c, r.logp, [r.logp.length], { [HEADERS.kind]: r.kind });
      return c.json(densityJson(r, m), 200);
    })
    .openapi({ ...encodeRoute, middleware: post('encode', 'encode x -> z', 'x') }, async (c) => {
      const m = c.get('manifest');
      const body = c.req.valid('json');
      budget.encode(body, m);
      const r = await engine.encode(m, body, c.get('phases'));
      if (negotiate(c, c.req.valid('query').format, ['json', 'f32']) === 'f32') return f32Response(c, r.z.data, [r.z.n, r.z.width]);
      return jsonBytes<EncodeResponse>(c, encodeJson(r));
    })
    .openapi({ ...decodeRoute, middleware: post('sample', 'decode', 'z') }, async (c) => {
      const m = c.get('manifest');
      const { format, ...fields } = c.req.valid('query');
      const body = withQueryFields(c, c.req.valid('json'), fields);
      budget.decode(body, m);
      const batch = await engine.decode(m, body, c.get('phases'));
      if (negotiate(c, format, ['json', 'f32']) === 'f32') return samplesF32(c, batch, m);
      return samplesJson<DecodeResponse>(c, batch, m.shape);
    })
    .openapi({ ...interpolateRoute, middleware: post('sample', 'interpolate') }, async (c) => {
      const m = c.get('manifest');
      const body = c.req.valid('json');
      requireInterpolate(m);
      budget.interpolate(body, m);
      const batch = await engine.interpolate(m, body, c.get('phases'));
      if (negotiate(c, c.req.valid('query').format, ['json', 'f32']) === 'f32') return samplesF32(c, batch, m);
      return samplesJson<InterpolateResponse>(c, batch, m.shape);
    })
    // score: density's rows and checks (edge/score.ts); JSON answers only
    .openapi({ ...scoreRoute, middleware: post('density', 'score anomalies', 'x') }, async (c) => {
      const m = c.get('manifest');
      const body = withQueryFields(c, c.req.valid('json'), c.req.valid('query'));
      scoreBudget(body, m);
      return c.json(await score(engine, m, body, c.get('phases')), 200);
    })
    // classify: score's density run, read through Bayes' rule (edge/score.ts)
    .openapi({ ...classifyRoute, middleware: post('density', 'classify', 'x') }, async (c) => {
      const m = c.get('manifest');
      const body = withQueryFields(c, c.req.valid('json'), c.req.valid('query'));
      scoreBudget(body, m);
      return c.json(await classify(engine, m, body, c.get('phases')), 200);
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
