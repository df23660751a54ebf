/**
 * Hostile input, cost bounds and broken models, run against every runtime:
 * in-process on the Node adapter (node/reliability.test.ts, many fuzz runs)
 * and over HTTP on a real workerd (worker/reliability.test.ts, fewer runs).
 *
 * The property: whatever the body, headers, content type or path, the API
 * answers within a per-request timeout, never with a 5xx (only the faults made
 * on purpose may answer 500 model_corrupt), and every 4xx has the documented
 * { error: { code, message, limit? } } shape.
 */
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { API_LIMITS } from '../core/api';
import type { Manifest, ModelIndex } from '../core/manifest';
import { densityClassFactor, sampleWork } from '../core/protocol';
import { MAX_DENSITY_DRAWS, MAX_WORK_UNITS } from './engine';
import { MODELS, type Target } from './testing';

export const ENDPOINTS = ['sample', 'density', 'encode', 'decode', 'interpolate', 'score'] as const;

/** The broken models added next to the healthy ones (see modelsWithFaults). */
export interface Faults {
  dir: string;
  /** id -> what was done to it */
  broken: Record<string, string>;
  /** a healthy model to check the others keep serving */
  healthy: string;
}

/**
 * A temp copy of models/ plus one broken copy of a shipped flow per fault:
 * - `-truncated`: sample.onnx cut to half its bytes (manifest unchanged)
 * - `-badhash`: the files intact, the manifest's sha256 for sample edited
 * - `-garbage`: sample.onnx replaced by bytes that are not ONNX, manifest
 *   updated to match them, so only onnxruntime can tell
 * - `-missingfile`: sample.onnx deleted
 * - `-nofolder`: listed in index.json, no folder at all
 * - `-badmanifest`: manifest.json is not JSON
 */
export function modelsWithFaults(): Faults {
  const dir = join(mkdtempSync(join(tmpdir(), 'edgegen-faults-')), 'models');
  cpSync(MODELS, dir, { recursive: true });
  const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as ModelIndex;
  const source = index.models.find((m) => m.family === 'flow' && m.shape.length === 1) ?? index.models[0];
  const broken: Record<string, string> = {};
  const add = (suffix: string, what: string, damage: (folder: string, m: Manifest, sampleFile: string) => Manifest | void) => {
    const id = `${source.id}-${suffix}`;
    const folder = join(dir, id);
    cpSync(join(dir, source.id), folder, { recursive: true });
    const m = JSON.parse(readFileSync(join(folder, 'manifest.json'), 'utf8')) as Manifest;
    m.id = id;
    const sampleFile = join(folder, m.files.find((f) => f.capability === 'sample')!.file);
    const changed = damage(folder, m, sampleFile) ?? m;
    if (suffix !== 'badmanifest') writeFileSync(join(folder, 'manifest.json'), JSON.stringify(changed));
    if (suffix === 'nofolder') rmSync(folder, { recursive: true, force: true });
    index.models.push({ ...source, id });
    broken[id] = what;
  };
  add('truncated', 'sample.onnx cut to half its length', (_f, _m, file) => {
    const bytes = readFileSync(file);
    writeFileSync(file, bytes.subarray(0, bytes.length >> 1));
  });
  add('badhash', "manifest's sha256 does not match an intact file", (_f, m) => {
    const e = m.files.find((f) => f.capability === 'sample')!;
    e.sha256 = e.sha256.replace(/^./, (c) => (c === '0' ? '1' : '0'));
  });
  add('garbage', 'sample.onnx is not ONNX (manifest hash matches the garbage)', (_f, m, file) => {
    const bytes = new Uint8Array(4096).map((_, i) => (i * 131 + 7) & 0xff);
    writeFileSync(file, bytes);
    const e = m.files.find((f) => f.capability === 'sample')!;
    e.bytes = bytes.length;
    e.sha256 = sha256Sync(bytes);
  });
  add('missingfile', 'sample.onnx deleted', (_f, _m, file) => rmSync(file));
  add('nofolder', 'listed in index.json, folder missing', () => {});
  add('badmanifest', 'manifest.json is not JSON', (folder) => writeFileSync(join(folder, 'manifest.json'), '{"id": "trunc'));
  writeFileSync(join(dir, 'index.json'), JSON.stringify(index));
  return { dir, broken, healthy: source.id };
}

// node:crypto in test support only; the app itself hashes with WebCrypto
const sha256Sync = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** Hostile JSON values: huge and tiny numbers, NaN/Infinity as strings, wrong types, nesting, unicode. */
const number = fc.oneof(
  fc.integer({ min: -3, max: 2000 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(0, -0, 1e308, -1e308, 3.4e38, 3.5e38, 1e-320, 2 ** 53 + 1, 0xffffffff, 0x100000000, 1025, 65_537, 1e30, -1e30),
);
const weird = fc.oneof(
  fc.constantFrom('NaN', 'Infinity', '-Infinity', '1e999', '', '0x10', '\u0000', '\u202e', '😀'.repeat(50), null, true, false, {}, []),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
);
const leaf = fc.oneof({ weight: 4, arbitrary: number }, { weight: 1, arbitrary: weird });
const value = fc.letrec((tie) => ({
  v: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, fc.array(tie('v'), { maxLength: 4 }), fc.dictionary(fc.string({ maxLength: 6 }), tie('v'), { maxKeys: 3 })),
})).v;

/** A matrix near what the model expects: right or wrong width, hostile or fine values, sometimes ragged. */
const matrixFor = (width: number) =>
  fc.oneof(
    fc.array(fc.array(number, { minLength: width, maxLength: width }), { minLength: 1, maxLength: 6 }),
    fc.array(fc.array(leaf, { minLength: 0, maxLength: width + 2 }), { minLength: 0, maxLength: 4 }),
    fc.array(fc.array(fc.integer({ min: -2, max: 300 }), { minLength: width, maxLength: width }), { minLength: 1, maxLength: 3 }),
    value,
  );

const FIELDS: Record<(typeof ENDPOINTS)[number], string[]> = {
  sample: ['n', 'seed', 'temperature', 'mode'],
  density: ['x', 'k', 'seed'],
  encode: ['x'],
  decode: ['z', 'mode', 'seed'],
  interpolate: ['seedA', 'seedB', 'steps', 'temperature'],
  score: ['x', 'fpr', 'seed'],
};
const strayNames = ['__proto__', 'constructor', 'N', 'x ', 'n\u0000', 'é'];
const fieldValue = (width: number, latent: number) =>
  fc.oneof(leaf, value, matrixFor(width), matrixFor(latent), fc.constantFrom('mean', 'sample', 'MEAN'));

/** An object with this endpoint's own fields (any subset, hostile values), sometimes a stray key. */
const fieldsBody = (endpoint: (typeof ENDPOINTS)[number], width: number, latent: number) =>
  fc
    .tuple(
      fc.subarray(FIELDS[endpoint]).chain((keys) => fc.tuple(...keys.map((k) => fc.tuple(fc.constant(k), fieldValue(width, latent))))),
      fc.oneof({ weight: 6, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...strayNames, ...Object.values(FIELDS).flat()), fieldValue(width, latent)) }),
    )
    .map(([pairs, stray]) => {
      const parts = pairs.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`);
      if (stray) parts.push(`${JSON.stringify(stray[0])}:${JSON.stringify(stray[1])}`);
      return `{${parts.join(',')}}`;
    });

/** Whole request bodies (as text), from well-formed objects with odd values to raw junk. */
export const bodyFor = (endpoint: (typeof ENDPOINTS)[number], width: number, latent: number) =>
  fc.oneof(
    { weight: 8, arbitrary: fieldsBody(endpoint, width, latent) },
    { weight: 1, arbitrary: value.map((v) => JSON.stringify(v) ?? '') },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '', ' ', 'null', '"x"', '[]', '{', '{"n": 3,', '{"n": NaN}', '{"n": Infinity}', '{"x": [[1e999, 0]]}', '{"n": 1, "n": "two"}',
        '{"x": [[0, 0]], "x": 5}', '\uFEFF{"n": 2}', '{"n": 2}\u0000', 'n=4&seed=1', '<xml/>', '{"n": 1}{"n": 2}', '{"__proto__": {"n": 5}}',
        '{"n": -0}', '{"n": 1.5}', '{"n": "1"}', '{"seed": 4294967296}', '{"temperature": 1e-400}',
      ),
    },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 5000 }).map((d) => '{"x":' + '['.repeat(d) + ']'.repeat(d) + '}') },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 5000 }).map((d) => '['.repeat(d)) },
  );

export const contentType = fc.constantFrom(
  'application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x', 'application/octet-stream', 'application/json; charset=utf-16', '', '\u00e9/\u00e9',
);

/** Everything an error answer must be. */
export async function expectWellFormed(res: Response, what: string, allow500 = false): Promise<{ status: number; code?: string }> {
  const text = await res.text();
  if (res.status >= 500 && !allow500) throw new Error(`${what}: ${res.status} ${text.slice(0, 300)}`);
  if (res.status >= 400) {
    let body: { error?: { code?: unknown; message?: unknown; limit?: unknown } };
    try {
      body = JSON.parse(text);
    } catch {
      throw new Error(`${what}: ${res.status} with a non-JSON body: ${text.slice(0, 200)}`);
    }
    const e = body.error;
    if (!e || typeof e.code !== 'string' || typeof e.message !== 'string' || (e.limit !== undefined && typeof e.limit !== 'number')) {
      throw new Error(`${what}: ${res.status} without the error shape: ${text.slice(0, 200)}`);
    }
    const extra = Object.keys(body).filter((k) => k !== 'error');
    if (extra.length) throw new Error(`${what}: error answer has extra keys ${extra}`);
    return { status: res.status, code: e.code };
  }
  if (res.status === 200 && (res.headers.get('content-type') ?? '').includes('json')) {
    // a 200 JSON answer holds only finite numbers (JSON would turn NaN/Infinity into null)
    if (/\bnull\b/.test(text)) throw new Error(`${what}: 200 with null in it: ${text.slice(0, 200)}`);
  }
  return { status: res.status };
}

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, fail) => (timer = setTimeout(() => fail(new Error(`${what}: no answer within ${ms} ms (hung request)`)), ms))),
  ]);
}

export interface ReliabilityOptions {
  /** fast-check runs per property */
  runs: number;
  /** per-request timeout, ms */
  timeoutMs: number;
  /** ids of models that are broken on purpose (excluded from fuzzing) */
  broken: () => Record<string, string>;
  healthy: () => string;
  /** counters the suite fills in, reported by the caller */
  tally: Map<string, number>;
}

export function reliabilityCases(getTarget: () => Target, o: ReliabilityOptions): void {
  const t = () => getTarget();
  let models: Manifest[] = [];
  const count = (key: string) => o.tally.set(key, (o.tally.get(key) ?? 0) + 1);
  // A POST on a keep-alive socket that the server (or wrangler's dev proxy)
  // closed while it sat idle fails before any answer, and fetch never retries a
  // POST by itself. That is a client-side race, not a refusal: try once more
  // on a new socket and count it, so a server that really drops connections
  // still fails (the second try fails too) and the tally shows every retry.
  const fetchOnce = (path: string, init: RequestInit) =>
    t().fetch(path, { ...init, signal: AbortSignal.timeout(o.timeoutMs) });
  const fetchRetrying = async (path: string, init: RequestInit) => {
    try {
      return await fetchOnce(path, init);
    } catch (err) {
      const code = (err as { cause?: { code?: string } }).cause?.code;
      if (code !== 'UND_ERR_SOCKET' && code !== 'ECONNRESET') throw err;
      count('retried after a closed keep-alive socket');
      return fetchOnce(path, init);
    }
  };
  const send = async (path: string, init: RequestInit, what: string, allow500 = false) => {
    const res = await withTimeout(fetchRetrying(path, init), o.timeoutMs + 1000, what);
    const r = await withTimeout(expectWellFormed(res, what, allow500), o.timeoutMs, what);
    count(`status ${r.status}`);
    if (r.code) count(`code ${r.code}`);
    return r;
  };

  it('loads the healthy manifests', async () => {
    const index = (await (await t().fetch('/v1/models')).json()) as ModelIndex;
    const broken = o.broken();
    for (const entry of index.models) {
      if (entry.id in broken) continue;
      const res = await t().fetch(`/v1/models/${entry.id}`);
      expect(res.status, entry.id).toBe(200);
      models.push((await res.json()) as Manifest);
    }
    expect(models.length).toBeGreaterThan(1);
  });

  it('answers hostile bodies on every endpoint of every model with a well-formed 4xx or a 2xx, never a 5xx or a hang', async () => {
    const target = fc.constantFrom(...models).chain((m) => {
      const D = m.shape.reduce((a, b) => a * b, 1);
      return fc.constantFrom(...ENDPOINTS).chain((endpoint) => fc.record({
        m: fc.constant(m),
        endpoint: fc.constant(endpoint),
        body: bodyFor(endpoint, D, m.latentDim),
        type: contentType,
        query: fc.constantFrom('', '', '?format=png', '?format=json', '?format=%00', '?format=png&format=json'),
        accept: fc.constantFrom(undefined, 'image/png', '*/*', 'application/json'),
      }));
    });
    await fc.assert(
      fc.asyncProperty(target, async ({ m, endpoint, body, type, query, accept }) => {
        const headers: Record<string, string> = {};
        if (type) headers['content-type'] = type;
        if (accept) headers.accept = accept;
        count('fuzzed bodies');
        await send(`/v1/models/${m.id}/${endpoint}${query}`, { method: 'POST', body, headers }, `POST ${m.id}/${endpoint}${query} ${JSON.stringify(body.slice(0, 120))}`);
      }),
      { numRuns: o.runs, endOnFailure: true },
    );
  });

  it('answers hostile paths and methods with a well-formed 4xx', async () => {
    const id = fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 30 }).map(encodeURIComponent),
      fc.constantFrom('%E0%A4%A', '%', '%%', '..%2F..%2Fpackage.json', '..', '.', 'flow-nice-moons%00', 'a'.repeat(3000), '%2e%2e', '__proto__', 'constructor', 'index.json'),
    );
    const rest = fc.constantFrom('', '/sample', '/density', '/encode', '/decode', '/interpolate', '/nothing', '/sample/extra', '/manifest.json');
    const method = fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH');
    await fc.assert(
      fc.asyncProperty(id, rest, method, async (i, r, meth) => {
        count('fuzzed paths');
        const init: RequestInit = { method: meth, ...(meth === 'GET' ? {} : { body: '{}', headers: { 'content-type': 'application/json' } }) };
        const res = await send(`/v1/models/${i}${r}`, init, `${meth} /v1/models/${i}${r}`);
        // a path that names no model is never a success
        if (!models.some((m) => encodeURIComponent(m.id) === i)) expect(res.status, `${meth} ${i}${r}`).toBeGreaterThanOrEqual(400);
      }),
      { numRuns: Math.ceil(o.runs / 2), endOnFailure: true },
    );
  });

  it('refuses 10 MB bodies (declared and chunked) with 413 on every endpoint', async () => {
    const m = models.find((x) => x.id === o.healthy())!;
    const ten = 10 * 1024 * 1024;
    for (const endpoint of ENDPOINTS) {
      const declared = await send(`/v1/models/${m.id}/${endpoint}`, { method: 'POST', body: '[' + '0,'.repeat(ten / 2) + '0]', headers: { 'content-type': 'application/json' } }, `10 MB ${endpoint}`);
      expect(declared, endpoint).toEqual({ status: 413, code: 'body_too_large' });
      const chunk = new TextEncoder().encode(' '.repeat(1 << 20));
      let sent = 0;
      const stream = new ReadableStream<Uint8Array>({ pull: (ctl) => (sent++ < 10 ? ctl.enqueue(chunk) : ctl.close()) });
      const chunked = await send(`/v1/models/${m.id}/${endpoint}`, { method: 'POST', body: stream, duplex: 'half' } as RequestInit, `chunked 10 MB ${endpoint}`);
      expect(chunked, endpoint).toEqual({ status: 413, code: 'body_too_large' });
    }
    // the server is still fine afterwards
    expect((await t().fetch('/healthz')).status).toBe(200);
  });

  it('refuses values beyond float32, silent prototype keys, and answers 422 rather than null when a model overflows', async () => {
    const flow = models.find((x) => x.family === 'flow' && x.shape.length === 1 && x.shape[0] === 2)!;
    const post = (path: string, body: string) => send(path, { method: 'POST', body, headers: { 'content-type': 'application/json' } }, path + ' ' + body);
    expect(await post(`/v1/models/${flow.id}/density`, '{"x": [[1e308, 0]]}')).toEqual({ status: 400, code: 'out_of_range' });
    expect(await post(`/v1/models/${flow.id}/encode`, '{"x": [[0, -3.5e38]]}')).toEqual({ status: 400, code: 'out_of_range' });
    expect(await post(`/v1/models/${flow.id}/sample`, '{"__proto__": 5}')).toEqual({ status: 400, code: 'unknown_field' });
    expect(await post(`/v1/models/${flow.id}/sample`, '{"constructor": {}}')).toEqual({ status: 400, code: 'unknown_field' });
    expect(await post(`/v1/models/${flow.id}/sample`, '{"toString": 1}')).toEqual({ status: 400, code: 'unknown_field' });
    // float32-representable but absurd: log p overflows; the answer says so instead of {"logp":[null]}
    expect(await post(`/v1/models/${flow.id}/density`, '{"x": [[1e38, -1e38]]}')).toEqual({ status: 422, code: 'non_finite_output' });
    const vae = models.find((x) => x.family === 'vae' && x.shape.length === 1 && x.shape[0] === 2);
    // the VAE's log-variance is bounded and its log-weights held above -1e30: a finite (hopeless) answer, not NaN
    if (vae) expect(await post(`/v1/models/${vae.id}/density`, '{"x": [[1e30, -1e30]], "k": 4}')).toEqual({ status: 200, code: undefined });
  });

  it('holds every request to the work budget (400 over_budget, bound in limit) before any model runs', async () => {
    const post = async (path: string, body: unknown) => {
      const res = await t().fetch(path, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
      return { status: res.status, body: (await res.json()) as { error?: { code: string; limit?: number } } };
    };
    for (const m of models) {
      const D = m.shape.reduce((a, b) => a * b, 1);
      // the largest n within both the row cap and the budget (which counts an autoregressive family's D passes) is served...
      const nMax = Math.min(API_LIMITS.maxSamples, Math.floor(MAX_WORK_UNITS / sampleWork(m, 1)));
      const ok = await post(`/v1/models/${m.id}/sample`, { n: nMax, seed: 1 });
      expect(ok.status, `${m.id} n=${nMax}`).toBe(200);
      if (nMax < API_LIMITS.maxSamples) {
        // ...one more row is over budget (image models), whatever the row cap allows
        const over = await post(`/v1/models/${m.id}/sample`, { n: nMax + 1, seed: 1 });
        expect({ status: over.status, code: over.body.error?.code, limit: over.body.error?.limit }, m.id).toEqual({ status: 400, code: 'over_budget', limit: MAX_WORK_UNITS });
        const rows = Array.from({ length: nMax + 1 }, () => new Array(D).fill(1));
        if (m.capabilities.includes('encode')) {
          const enc = await post(`/v1/models/${m.id}/encode`, { x: rows });
          expect({ status: enc.status, code: enc.body.error?.code }, `${m.id} encode`).toEqual({ status: 400, code: 'over_budget' });
        }
        count('over_budget checks');
      }
      if (m.family === 'vae' && m.capabilities.includes('density')) {
        const zeros = (rows: number) => Array.from({ length: rows }, () => new Array(D).fill(0));
        // a conditional VAE scores every row under each of its classes: c times the work
        const c = densityClassFactor(m);
        if (MAX_DENSITY_DRAWS * D <= MAX_WORK_UNITS) {
          // small rows: the draws bound (eps is rows x k x latentDim) is the one that binds
          const k = API_LIMITS.maxImportanceSamples;
          const rows = Math.floor(MAX_DENSITY_DRAWS / (k * c)) + 1;
          const over = await post(`/v1/models/${m.id}/density`, { x: zeros(rows), k });
          expect({ status: over.status, code: over.body.error?.code, limit: over.body.error?.limit }, m.id).toEqual({ status: 400, code: 'over_budget', limit: MAX_DENSITY_DRAWS });
          expect((await post(`/v1/models/${m.id}/density`, { x: zeros(rows - 1), k })).status, m.id).toBe(200);
        } else {
          // big rows: rows x k x dataDim binds, although rows and k are each within their caps
          const k = Math.min(API_LIMITS.maxImportanceSamples, Math.floor(MAX_WORK_UNITS / (D * c)));
          const rows = Math.floor(MAX_WORK_UNITS / (k * D * c)) + 1;
          const over = await post(`/v1/models/${m.id}/density`, { x: zeros(rows), k });
          expect({ status: over.status, code: over.body.error?.code, limit: over.body.error?.limit }, m.id).toEqual({ status: 400, code: 'over_budget', limit: MAX_WORK_UNITS });
          expect((await post(`/v1/models/${m.id}/density`, { x: zeros(rows - 1), k })).status, m.id).toBe(200);
        }
        count('over_budget checks');
      }
    }
  });

  it('answers a clear error for each broken model and keeps serving the healthy ones', async () => {
    const broken = o.broken();
    const seen: Record<string, string> = {};
    for (const id of Object.keys(broken)) {
      for (let attempt = 0; attempt < 2; attempt++) {
        // twice: a failure is not cached into something worse, and nothing hangs
        const r = await send(`/v1/models/${id}/sample`, { method: 'POST', body: '{"n": 2, "seed": 1}', headers: { 'content-type': 'application/json' } }, `broken ${id}`, true);
        expect(r, `${id} (${broken[id]})`).toEqual({ status: 500, code: 'model_corrupt' });
        count('fault requests');
      }
      const res = await t().fetch(`/v1/models/${id}/sample`, { method: 'POST', body: '{"n": 2, "seed": 1}' });
      seen[id] = ((await res.json()) as { error: { message: string } }).error.message;
      expect(seen[id]).toContain(id); // the message names the model
      // a healthy model answers right after each broken one
      const ok = await t().fetch(`/v1/models/${o.healthy()}/sample`, { method: 'POST', body: '{"n": 2, "seed": 1}' });
      expect(ok.status).toBe(200);
    }
    // the index still lists everything, and /healthz is fine
    expect((await t().fetch('/healthz')).status).toBe(200);
    console.log(Object.entries(seen).map(([id, msg]) => `${id}: ${msg}`).join('\n'));
  });
}
