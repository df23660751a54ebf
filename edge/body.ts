/**
 * Request bodies, as middleware that runs before the route's zod validators
 * (routes.ts): `bodyLimit` reads at most `maxBytes` (413 otherwise, declared or
 * chunked), and `parseBody` turns what was read into the value the validators
 * check: JSON whatever the content type (an empty body means "all defaults"),
 * or, where the endpoint takes them, raw float32 rows.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { API_LIMITS } from '../core/api';
import { HttpError, badRequest } from './errors';
import { HEADERS } from './routes';

import type { Manifest } from '../core/manifest';
import type { Phases } from './timing';

/** What the app's middleware leave for the handlers: the model, the body read, whether it was float32, the request's timing. */
export type AppEnv = { Variables: { manifest: Manifest; bodyBytes: Uint8Array; binaryBody: boolean; phases: Phases } };

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
