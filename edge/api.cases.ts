/**
 * The one request suite, run against every runtime: in-process against the
 * Node adapter (node/node.test.ts) and over HTTP against a real workerd
 * (worker/worker.test.ts). Each target serves a copy of models/ plus one
 * deliberately corrupted model (testing.ts).
 */
import { expect, it } from 'vitest';
import { API_LIMITS } from '../core/api';
import type { Manifest, ModelIndex } from '../core/manifest';
import { FAMILY_ORDER, familyOf } from '../core/families';
import { dataDim, sampleWork } from '../core/protocol';
import { MAX_WORK_UNITS } from './engine';
import type { Target } from './testing';

const post = (t: Target, path: string, body: unknown, headers: Record<string, string> = {}) =>
  t.fetch(path, {
    method: 'POST',
    body: typeof body === 'string' ? body : JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...headers },
  });

async function expectError(res: Response, status: number, code: string): Promise<{ code: string; message: string; limit?: number }> {
  const body = (await res.json()) as { error: { code: string; message: string; limit?: number } };
  expect({ status: res.status, code: body.error?.code }).toEqual({ status, code });
  expect(typeof body.error.message).toBe('string');
  return body.error;
}

const dim = dataDim;

/** Points on the two moons (train/data/toys.ts without its noise) and points far from them. */
function moonsAndFar(count: number): { on: number[][]; far: number[][] } {
  const on: number[][] = [];
  const far: number[][] = [];
  for (let i = 0; i < count; i++) {
    const t = (Math.PI * (i + 0.5)) / count;
    on.push(i % 2 ? [Math.cos(t), Math.sin(t)] : [1 - Math.cos(t), 0.5 - Math.sin(t)]);
    far.push([6 + (i % 5), -6 - (i % 3)]);
  }
  return { on, far };
}

export function apiCases(getTarget: () => Target, corruptId: () => string): void {
  let models: ModelIndex['models'] = [];
  const t = () => getTarget();
  const manifests = new Map<string, Manifest>();
  const pick = (pred: (m: Manifest) => boolean) => [...manifests.values()].find((m) => !m.id.endsWith('-corrupt') && pred(m));

  it('lists the shipped models, each with a manifest', async () => {
    const res = await t().fetch('/v1/models');
    expect(res.status).toBe(200);
    models = ((await res.json()) as ModelIndex).models;
    expect(models.length).toBeGreaterThan(1);
    for (const entry of models) {
      const r = await t().fetch(`/v1/models/${entry.id}`);
      expect(r.status).toBe(200);
      const m = (await r.json()) as Manifest;
      expect(m.id).toBe(entry.id);
      expect(m.family).toBe(entry.family);
      manifests.set(m.id, m);
    }
  });

  it('answers /healthz and an OpenAPI document generated from the schemas', async () => {
    const h = await t().fetch('/healthz');
    expect(await h.json()).toMatchObject({ status: 'ok', runtime: t().runtime });
    const doc = (await (await t().fetch('/openapi.json')).json()) as any;
    expect(doc.openapi).toBe('3.1.0');
    for (const p of ['sample', 'density', 'encode', 'decode', 'interpolate']) expect(doc.paths[`/v1/models/{id}/${p}`]).toBeTruthy();
    const deref = (s: any) => (s.$ref ? doc.components.schemas[s.$ref.split('/').pop()] : s);
    const sampleSchema = deref(doc.paths['/v1/models/{id}/sample'].post.requestBody.content['application/json'].schema);
    expect(sampleSchema.properties.n.maximum).toBe(API_LIMITS.maxSamples);
    for (const p of ['sample', 'density', 'encode', 'decode', 'interpolate']) {
      const op = doc.paths[`/v1/models/{id}/${p}`].post;
      expect(op.parameters.find((q: any) => q.name === 'format').schema.enum).toContain('f32');
      expect(op.responses['200'].content['application/octet-stream']).toBeTruthy();
      expect(op.responses['200'].headers['x-edgegen-shape']).toBeTruthy();
    }
  });

  it('gives the same samples for the same seed, and others for another seed, for every model', async () => {
    for (const m of manifests.values()) {
      if (!m.capabilities.includes('sample') || m.id === corruptId()) continue;
      // MADE on MNIST: 784 passes a sample, one sample within the work budget
      const n = Math.min(5, Math.floor(MAX_WORK_UNITS / sampleWork(m, 1)));
      const a = (await (await post(t(), `/v1/models/${m.id}/sample`, { n, seed: 42 })).json()) as any;
      const b = (await (await post(t(), `/v1/models/${m.id}/sample`, { n, seed: 42 })).json()) as any;
      const c = (await (await post(t(), `/v1/models/${m.id}/sample`, { n, seed: 43 })).json()) as any;
      expect(a.samples.length, m.id).toBe(n);
      expect(a.samples[0].length).toBe(dim(m));
      expect(a.shape).toEqual(m.shape);
      expect(a.seed).toBe(42);
      expect(b.samples).toEqual(a.samples); // bit-identical on one runtime
      expect(c.samples).not.toEqual(a.samples);
      expect(a.samples.flat().every(Number.isFinite)).toBe(true);
    }
  });

  it('gives a flow trained on moons more density on the moons than far from them', async () => {
    const flow = pick((m) => m.family === 'flow' && m.dataset === 'moons');
    expect(flow, 'a flow trained on moons ships in models/').toBeTruthy();
    const { on, far } = moonsAndFar(40);
    const r1 = (await (await post(t(), `/v1/models/${flow!.id}/density`, { x: on })).json()) as any;
    const r2 = (await (await post(t(), `/v1/models/${flow!.id}/density`, { x: far })).json()) as any;
    expect(r1.kind).toBe('exact');
    const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
    expect(mean(r1.logp)).toBeGreaterThan(mean(r2.logp) + 5);
    expect(Math.min(...r1.logp)).toBeGreaterThan(Math.max(...r2.logp));
  });

  it('inverts a flow exactly: decode(encode(x)) = x, and interpolation starts at the seed-A sample', async () => {
    const flow = pick((m) => m.family === 'flow')!;
    const x = ((await (await post(t(), `/v1/models/${flow.id}/sample`, { n: 8, seed: 7 })).json()) as any).samples;
    const { z } = (await (await post(t(), `/v1/models/${flow.id}/encode`, { x })).json()) as any;
    const back = ((await (await post(t(), `/v1/models/${flow.id}/decode`, { z })).json()) as any).samples as number[][];
    back.forEach((row, i) => row.forEach((v, j) => expect(v).toBeCloseTo(x[i][j], 3)));
    const path = (await (await post(t(), `/v1/models/${flow.id}/interpolate`, { seedA: 7, seedB: 8, steps: 5 })).json()) as any;
    expect(path.samples.length).toBe(5);
    path.samples[0].forEach((v: number, j: number) => expect(v).toBeCloseTo(x[0][j], 5));
  });

  it('scores a VAE with the ELBO (k = 1) and the tighter IWAE bound (k > 1)', async () => {
    // a VAE with an encoder (a conditional one has none), whose 16 x 64 draws fit the budget
    const vae = pick((m) => m.family === 'vae' && m.capabilities.includes('encode'))!;
    expect(vae, 'a VAE with an encoder ships in models/').toBeTruthy();
    const x = ((await (await post(t(), `/v1/models/${vae.id}/sample`, { n: 16, seed: 3, mode: 'mean' })).json()) as any).samples;
    const e = (await (await post(t(), `/v1/models/${vae.id}/density`, { x, k: 1, seed: 1 })).json()) as any;
    const w = (await (await post(t(), `/v1/models/${vae.id}/density`, { x, k: 64, seed: 1 })).json()) as any;
    expect(e.kind).toBe('elbo');
    expect(w.kind).toBe('iwae');
    const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
    expect(mean(w.logp)).toBeGreaterThanOrEqual(mean(w.elbo));
    expect(mean(w.logp)).toBeGreaterThan(mean(e.logp) - 1e-3);
    const again = (await (await post(t(), `/v1/models/${vae.id}/density`, { x, k: 64, seed: 1 })).json()) as any;
    expect(again.logp).toEqual(w.logp); // eps comes from the seed
    const enc = (await (await post(t(), `/v1/models/${vae.id}/encode`, { x })).json()) as any;
    expect(enc.z[0].length).toBe(vae.latentDim);
    expect(enc.logvar[0].length).toBe(vae.latentDim);
    const mean1 = (await (await post(t(), `/v1/models/${vae.id}/sample`, { n: 4, seed: 9, mode: 'mean' })).json()) as any;
    const draw1 = (await (await post(t(), `/v1/models/${vae.id}/sample`, { n: 4, seed: 9, mode: 'sample' })).json()) as any;
    expect(draw1.samples).not.toEqual(mean1.samples);
  });

  it('answers 422 with the reason from the manifest for what a GAN cannot do', async () => {
    const gan = pick((m) => m.family === 'gan')!;
    expect(gan, 'a GAN ships in models/').toBeTruthy();
    const x = [new Array(dim(gan)).fill(0)];
    const d = await expectError(await post(t(), `/v1/models/${gan.id}/density`, { x }), 422, 'capability_unavailable');
    expect(d.message).toContain(gan.unavailable.density!);
    expect(d.message.toLowerCase()).toContain('density');
    const e = await expectError(await post(t(), `/v1/models/${gan.id}/encode`, { x }), 422, 'capability_unavailable');
    expect(e.message).toContain(gan.unavailable.encode!);
    // a 422 does not depend on the body being valid: the family lacks the capability
    await expectError(await post(t(), `/v1/models/${gan.id}/density`, {}), 422, 'capability_unavailable');
  });

  it('gives a finite VAE density at |x| = 1e3 (bounded log-variance, stable logsumexp)', async () => {
    const vae = pick((m) => m.family === 'vae' && m.shape.length === 1)!;
    expect(vae, 'a 2-D VAE ships in models/').toBeTruthy();
    const x = [[1e3, 1e3], [-1e3, 0], [0, -1e3], [50, -50]];
    for (const k of [1, 16]) {
      const res = await post(t(), `/v1/models/${vae.id}/density`, { x, k, seed: 1 });
      const body = (await res.json()) as any;
      expect(res.status, JSON.stringify(body)).toBe(200);
      expect(body.logp.every(Number.isFinite)).toBe(true);
      expect(Math.max(...body.logp)).toBeLessThan(-100);
    }
  });

  it('ships every family, and answers 422 with the family reason for each capability it lacks', async () => {
    const shipped = new Set([...manifests.values()].filter((m) => m.id !== corruptId()).map((m) => m.family));
    for (const f of FAMILY_ORDER) expect(shipped.has(f), `a ${f} model ships in models/`).toBe(true);
    for (const m of manifests.values()) {
      if (m.id === corruptId()) continue;
      const d = familyOf(m.family);
      // a conditional model may lack a capability of its family (the VAE's encoder needs the label), with its own reason
      const sigs = d.signatures(dim(m), m.latentDim, m.classes?.names.length ?? 0);
      expect(m.capabilities, m.id).toEqual(d.capabilities.filter((c) => sigs[c]));
      const reasons = { ...d.unavailable, ...Object.fromEntries(d.capabilities.filter((c) => !sigs[c]).map((c) => [c, d.conditionalUnavailable?.[c] ?? ''])) };
      for (const [cap, why] of Object.entries(reasons)) {
        const path = cap === 'sample' ? 'sample' : cap;
        const e = await expectError(await post(t(), `/v1/models/${m.id}/${path}`, { x: [new Array(dim(m)).fill(0)] }), 422, 'capability_unavailable');
        expect(e.message, `${m.id} ${cap}`).toContain(why);
      }
    }
  });

  it('refuses bad input with 4xx before it reaches a model', async () => {
    const flow = pick((m) => m.family === 'flow')!;
    const D = dim(flow);
    const url = `/v1/models/${flow.id}`;
    await expectError(await post(t(), '/v1/models/no-such-model/sample', { n: 1 }), 404, 'model_not_found');
    await expectError(await t().fetch('/v1/models/no-such-model'), 404, 'model_not_found');
    await expectError(await t().fetch('/v1/nothing-here'), 404, 'not_found');
    await expectError(await post(t(), `${url}/density`, { x: [new Array(D + 1).fill(0)] }), 400, 'bad_shape');
    await expectError(await post(t(), `${url}/density`, { x: [new Array(D).fill(0), [0]] }), 400, 'bad_shape');
    await expectError(await post(t(), `${url}/density`, '{"x": [[1e999, 0]]}'), 400, 'not_finite');
    await expectError(await post(t(), `${url}/density`, { x: [[null, 0]] }), 400, 'invalid_type');
    await expectError(await post(t(), `${url}/density`, '{"x": [[NaN, 0]]}'), 400, 'bad_json');
    await expectError(await post(t(), `${url}/sample`, '{"n": 3,'), 400, 'bad_json');
    const n = await expectError(await post(t(), `${url}/sample`, { n: API_LIMITS.maxSamples + 1 }), 400, 'limit_exceeded');
    expect(n.limit).toBe(API_LIMITS.maxSamples);
    const rows = Array.from({ length: API_LIMITS.maxRows + 1 }, () => new Array(D).fill(0));
    const r = await expectError(await post(t(), `${url}/encode`, { x: rows }), 400, 'limit_exceeded');
    expect(r.limit).toBe(API_LIMITS.maxRows);
    await expectError(await post(t(), `${url}/sample`, { n: 2, samples: 3 }), 400, 'unknown_field');
    await expectError(await post(t(), `${url}/sample`, { seed: -1 }), 400, 'out_of_range');
    const big = JSON.stringify({ x: [[0, 0]], pad: 'x'.repeat(API_LIMITS.maxBodyBytes) });
    const tooBig = await expectError(await post(t(), `${url}/density`, big), 413, 'body_too_large');
    expect(tooBig.limit).toBe(API_LIMITS.maxBodyBytes);
    // a chunked body declares no length: the limit is enforced while reading
    const chunk = new TextEncoder().encode(' '.repeat(1 << 20));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(ctl) {
        if (sent++ < 5) ctl.enqueue(chunk);
        else ctl.close();
      },
    });
    const chunked = await t().fetch(`${url}/density`, { method: 'POST', body: stream, duplex: 'half' } as RequestInit);
    await expectError(chunked, 413, 'body_too_large');
  });

  it('answers image/png grids for image models only', async () => {
    const toy = pick((m) => m.shape.length === 1)!;
    await expectError(await post(t(), `/v1/models/${toy.id}/sample?format=png`, { n: 4, seed: 1 }), 406, 'png_unavailable');
    const image = pick((m) => m.shape.length >= 2 && m.discrete);
    if (!image) throw new Error('no image model ships: this case needs one');
    const res = await post(t(), `/v1/models/${image.id}/sample`, { n: 4, seed: 1 }, { accept: 'image/png' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    const png = new Uint8Array(await res.arrayBuffer());
    expect([...png.subarray(1, 4)].map((c) => String.fromCharCode(c)).join('')).toBe('PNG');
    const view = new DataView(png.buffer, png.byteOffset);
    expect(view.getUint32(16)).toBe(2 * image.shape[1] + 1); // 2 x 2 grid, 1-pixel gap
    expect(view.getUint32(20)).toBe(2 * image.shape[0] + 1);
  });

  it('answers raw little-endian float32 rows for Accept: application/octet-stream or ?format=f32, bit for bit the JSON values', async () => {
    /** the body of a binary answer, after checking its headers */
    const f32 = async (res: Response, shape: number[]) => {
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/octet-stream');
      expect(res.headers.get('x-edgegen-shape')).toBe(shape.join(','));
      const bytes = await res.arrayBuffer();
      expect(bytes.byteLength).toBe(4 * shape.reduce((a, b) => a * b, 1));
      const view = new DataView(bytes);
      return Array.from({ length: bytes.byteLength / 4 }, (_, i) => view.getFloat32(4 * i, true));
    };
    const fround = (rows: number[][] | number[]) => (rows as number[]).flat().map(Math.fround);
    const toy = pick((m) => m.family === 'flow' && m.shape.length === 1)!;
    const image = pick((m) => m.shape.length >= 2 && m.capabilities.includes('sample'));
    for (const m of image ? [toy, image] : [toy]) {
      const url = `/v1/models/${m.id}`;
      const D = dim(m);
      const json = (await (await post(t(), `${url}/sample`, { n: 3, seed: 11 })).json()) as any;
      const viaAccept = await post(t(), `${url}/sample`, { n: 3, seed: 11 }, { accept: 'application/octet-stream' });
      expect(viaAccept.headers.get('x-edgegen-seed')).toBe('11');
      expect(viaAccept.headers.get('x-edgegen-row-shape')).toBe(m.shape.join(','));
      expect(await f32(viaAccept, [3, D])).toEqual(fround(json.samples));
      const viaQuery = await post(t(), `${url}/sample?format=f32`, { n: 3, seed: 11 });
      expect(await f32(viaQuery, [3, D])).toEqual(fround(json.samples));
      // ?format= wins over Accept, as for PNG
      const jsonWins = await post(t(), `${url}/sample?format=json`, { n: 1, seed: 11 }, { accept: 'application/octet-stream' });
      expect(jsonWins.headers.get('content-type')).toContain('application/json');
      expect(((await jsonWins.json()) as any).samples[0]).toEqual(json.samples[0]);
      // a random seed comes back in the header
      const random = await post(t(), `${url}/sample?format=f32`, { n: 1 });
      expect(random.headers.get('x-edgegen-seed')).toMatch(/^\d+$/);
      await random.arrayBuffer();

      const z = Array.from({ length: 2 }, (_, i) => Array.from({ length: m.latentDim }, (_, j) => Math.sin(i + j)));
      const dj = (await (await post(t(), `${url}/decode`, { z })).json()) as any;
      expect(await f32(await post(t(), `${url}/decode?format=f32`, { z }), [2, D])).toEqual(fround(dj.samples));
      const ij = (await (await post(t(), `${url}/interpolate`, { seedA: 3, seedB: 4, steps: 4 })).json()) as any;
      const ib = await post(t(), `${url}/interpolate`, { seedA: 3, seedB: 4, steps: 4 }, { accept: 'application/octet-stream' });
      expect(await f32(ib, [4, D])).toEqual(fround(ij.samples));
    }
    // encode and density carry their primary array: z, logp
    const x = ((await (await post(t(), `/v1/models/${toy.id}/sample`, { n: 6, seed: 5 })).json()) as any).samples;
    const ej = (await (await post(t(), `/v1/models/${toy.id}/encode`, { x })).json()) as any;
    expect(await f32(await post(t(), `/v1/models/${toy.id}/encode?format=f32`, { x }), [6, dim(toy)])).toEqual(fround(ej.z));
    const pj = (await (await post(t(), `/v1/models/${toy.id}/density`, { x })).json()) as any;
    const pb = await post(t(), `/v1/models/${toy.id}/density`, { x }, { accept: 'application/octet-stream' });
    expect(pb.headers.get('x-edgegen-kind')).toBe(pj.kind);
    expect(await f32(pb, [6])).toEqual(fround(pj.logp));
    const vae = pick((m) => m.family === 'vae' && m.shape.length === 1);
    if (vae) {
      const vx = ((await (await post(t(), `/v1/models/${vae.id}/sample`, { n: 4, seed: 2, mode: 'mean' })).json()) as any).samples;
      const vj = (await (await post(t(), `/v1/models/${vae.id}/density`, { x: vx, k: 8, seed: 1 })).json()) as any;
      const vb = await post(t(), `/v1/models/${vae.id}/density?format=f32`, { x: vx, k: 8, seed: 1 });
      expect(vb.headers.get('x-edgegen-kind')).toBe('iwae');
      expect(await f32(vb, [4])).toEqual(fround(vj.logp));
      const vej = (await (await post(t(), `/v1/models/${vae.id}/encode`, { x: vx })).json()) as any;
      expect(await f32(await post(t(), `/v1/models/${vae.id}/encode?format=f32`, { x: vx }), [4, vae.latentDim])).toEqual(fround(vej.z));
    }
    // unknown or unoffered formats, and errors, stay as they were: JSON errors
    await expectError(await post(t(), `/v1/models/${toy.id}/sample?format=xml`, { n: 1 }), 400, 'invalid_value');
    await expectError(await post(t(), `/v1/models/${toy.id}/density?format=png`, { x }), 400, 'invalid_value');
    await expectError(await post(t(), `/v1/models/${toy.id}/decode?format=f64`, { z: [[0, 0]] }), 400, 'invalid_value');
    await expectError(await post(t(), `/v1/models/${toy.id}/sample?format=png`, { n: 1 }, { accept: 'application/octet-stream' }), 406, 'png_unavailable');
    await expectError(await post(t(), `/v1/models/${toy.id}/sample?format=f32`, { n: 0 }), 400, 'out_of_range');
    const gan = pick((m) => m.family === 'gan');
    if (gan) await expectError(await post(t(), `/v1/models/${gan.id}/density?format=f32`, { x: [[0]] }), 422, 'capability_unavailable');
  });

  it('takes float32 rows (application/octet-stream, x-edgegen-shape) for density, encode and decode: the same answers as JSON', async () => {
    const flow = pick((m) => m.family === 'flow' && m.shape.length === 1)!;
    const url = `/v1/models/${flow.id}`;
    const x = ((await (await post(t(), `${url}/sample`, { n: 5, seed: 4 })).json()) as any).samples as number[][];
    const bin = (path: string, rows: number[][]) =>
      t().fetch(path, {
        method: 'POST',
        body: new Uint8Array(Float32Array.from(rows.flat()).buffer as ArrayBuffer),
        headers: { 'content-type': 'application/octet-stream', 'x-edgegen-shape': `${rows.length},${rows[0].length}` },
      });
    const dj = await (await post(t(), `${url}/density`, { x, seed: 2 })).json();
    expect(await (await bin(`${url}/density?seed=2`, x)).json()).toEqual(dj);
    const ej = (await (await post(t(), `${url}/encode`, { x })).json()) as any;
    expect(await (await bin(`${url}/encode`, x)).json()).toEqual(ej);
    const back = await (await bin(`${url}/decode`, ej.z)).json();
    expect(back).toEqual(await (await post(t(), `${url}/decode`, { z: ej.z })).json());
    // the query carries the other fields of a float32 body only
    await expectError(await post(t(), `${url}/density?seed=2`, { x }), 400, 'invalid_value');
    await expectError(await t().fetch(`${url}/density`, { method: 'POST', body: new Uint8Array(8), headers: { 'content-type': 'application/octet-stream' } }), 400, 'bad_shape');
  });

  it('follows HTTP conventions: 405 with Allow, unknown query parameters refused, a clear message for an empty row', async () => {
    const flow = pick((m) => m.family === 'flow')!;
    const put = await t().fetch(`/v1/models/${flow.id}/sample`, { method: 'PUT', body: '{}' });
    await expectError(put, 405, 'method_not_allowed');
    expect(put.headers.get('allow')).toBe('POST, OPTIONS');
    const del = await t().fetch('/v1/models', { method: 'DELETE' });
    await expectError(del, 405, 'method_not_allowed');
    expect(del.headers.get('allow')).toBe('GET, HEAD, OPTIONS');
    const q = await expectError(await t().fetch('/v1/models?page=2'), 400, 'unknown_field');
    expect(q.message).toContain('query.page');
    await expectError(await post(t(), `/v1/models/${flow.id}/sample?n=3`, {}), 400, 'unknown_field');
    const empty = await expectError(await post(t(), `/v1/models/${flow.id}/density`, '{"x":[[]]}'), 400, 'bad_shape');
    expect(empty.message).toBe("body.x[0] is an empty row: each row is one flattened sample, as many numbers as the model's width");
  });

  it('allows browsers on other origins (CORS)', async () => {
    const flow = pick((m) => m.family === 'flow' && m.shape.length === 1)!;
    const pre = await t().fetch('/v1/models', {
      method: 'OPTIONS',
      headers: { origin: 'https://example.org', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });
    expect(pre.status).toBeLessThan(300);
    expect(pre.headers.get('access-control-allow-origin')).toBe('*');
    const res = await t().fetch('/v1/models', { headers: { origin: 'https://example.org' } });
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    // a binary answer, an error and an unknown path: a page on another origin may read the shape and timing headers of each
    const answers = [
      await t().fetch(`/v1/models/${flow.id}/sample?format=f32`, { method: 'POST', body: '{"n":2,"seed":1}', headers: { origin: 'https://example.org', 'content-type': 'application/json' } }),
      await post(t(), `/v1/models/${flow.id}/sample`, { n: -1 }),
      await t().fetch('/v1/nowhere', { headers: { origin: 'https://example.org' } }),
    ];
    expect(answers.map((a) => a.status)).toEqual([200, 400, 404]);
    for (const a of answers) {
      expect(a.headers.get('access-control-allow-origin')).toBe('*');
      expect(a.headers.get('access-control-expose-headers')?.split(',')).toEqual(expect.arrayContaining(['x-edgegen-shape', 'server-timing', 'retry-after']));
      expect(a.headers.get('server-timing')).toContain('encode');
    }
    expect(answers[0].headers.get('x-edgegen-shape')).toBe('2,2');
  });

  it('answers 500 model_corrupt for a file that fails its sha256, and keeps serving the others', async () => {
    const bad = await expectError(await post(t(), `/v1/models/${corruptId()}/sample`, { n: 2, seed: 1 }), 500, 'model_corrupt');
    expect(bad.message).toContain('sha256');
    await expectError(await post(t(), `/v1/models/${corruptId()}/sample`, { n: 2, seed: 1 }), 500, 'model_corrupt');
    const source = corruptId().replace(/-corrupt$/, '');
    const ok = await post(t(), `/v1/models/${source}/sample`, { n: 2, seed: 1 });
    expect(ok.status).toBe(200);
    expect((await t().fetch('/healthz')).status).toBe(200);
  });
}
