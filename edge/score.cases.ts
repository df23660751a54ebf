/**
 * The score endpoint's suite, run against every runtime beside api.cases.ts:
 * in process on Node (node/node.test.ts) and over HTTP on workerd
 * (worker/worker.test.ts), on the shipped models.
 */
import { expect, it } from 'vitest';
import type { ScoreResponse } from '../core/api';
import type { Manifest, ModelIndex } from '../core/manifest';
import { Prng } from '../core/prng';
import { CLASSIFY_FPR, DEFAULT_FPR, thresholdLevel } from '../core/score';
import type { Target } from './testing';

type ErrorBody = { error: { code: string; message: string; limit?: number } };
interface Req {
  what: string;
  body: string | Uint8Array;
  headers?: Record<string, string>;
  query?: string;
  model?: string;
}

const json = (v: unknown) => JSON.stringify(v);
const f32 = (values: number[]) => new Uint8Array(Float32Array.from(values).buffer);

export function scoreCases(getTarget: () => Target): void {
  const t = () => getTarget();
  const manifests: Manifest[] = [];
  const by = (pred: (m: Manifest) => boolean) => manifests.filter((m) => !m.id.endsWith('-corrupt') && pred(m));
  const send = (id: string, endpoint: string, r: Req) =>
    t().fetch(`/v1/models/${r.model ?? id}/${endpoint}${r.query ?? ''}`, {
      method: 'POST',
      body: r.body as BodyInit,
      headers: { 'content-type': 'application/json', ...r.headers },
    });
  const scoreOf = async (id: string, x: number[][], extra: Record<string, unknown> = {}): Promise<ScoreResponse> => {
    const res = await send(id, 'score', { what: '', body: json({ x, ...extra }) });
    expect(res.status, await res.clone().text()).toBe(200);
    return (await res.json()) as ScoreResponse;
  };

  it('score: reads the manifests', async () => {
    const { models } = (await (await t().fetch('/v1/models')).json()) as ModelIndex;
    for (const e of models) manifests.push((await (await t().fetch(`/v1/models/${e.id}`)).json()) as Manifest);
    expect(by((m) => m.dataset === 'mnist' && m.capabilities.includes('density')).length).toBeGreaterThanOrEqual(2);
  });

  it('score: is in the OpenAPI document: JSON and float32 bodies, fpr, the answer fields, the errors', async () => {
    const doc = (await (await t().fetch('/openapi.json')).json()) as any;
    const op = doc.paths['/v1/models/{id}/score']?.post;
    expect(op, 'POST /v1/models/{id}/score documented').toBeTruthy();
    expect(Object.keys(op.requestBody.content).sort()).toEqual(['application/json', 'application/octet-stream']);
    expect(op.parameters.map((p: any) => p.name)).toEqual(expect.arrayContaining(['id', 'fpr', 'seed', 'x-edgegen-shape']));
    const answer = doc.components.schemas[op.responses['200'].content['application/json'].schema.$ref.split('/').pop()];
    expect(Object.keys(answer.properties)).toEqual(expect.arrayContaining(['logp', 'bitsPerDim', 'percentile', 'anomaly', 'outlier', 'threshold', 'fpr', 'method', 'uncalibrated']));
    expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['200', '400', '404', '413', '422']));
    const req = doc.components.schemas[op.requestBody.content['application/json'].schema.$ref.split('/').pop()];
    expect(req.properties.fpr).toMatchObject({ default: DEFAULT_FPR, exclusiveMinimum: 0, exclusiveMaximum: 1 });
    // classify takes the same field with its own, lower default
    const cop = doc.paths['/v1/models/{id}/classify'].post;
    const creq = doc.components.schemas[cop.requestBody.content['application/json'].schema.$ref.split('/').pop()];
    expect(creq.properties.fpr).toMatchObject({ default: CLASSIFY_FPR, exclusiveMinimum: 0, exclusiveMaximum: 1 });
  });

  it("score: answers every malformed request exactly as density does (status, code, message)", async () => {
    const toy = by((m) => m.shape.length === 1 && m.capabilities.includes('density'))[0];
    const image = by((m) => m.dataset === 'mnist' && m.capabilities.includes('density'))[0];
    const gan = by((m) => m.family === 'gan')[0];
    const row = [0.5, 0.25];
    const cases: Array<Req & { id: string }> = [
      { id: toy.id, what: 'malformed JSON', body: '{"x": [[1, 2]' },
      { id: toy.id, what: 'no rows', body: json({ x: [] }) },
      { id: toy.id, what: 'an empty row', body: json({ x: [[]] }) },
      { id: toy.id, what: 'a string value', body: json({ x: [[1, 'a']] }) },
      { id: toy.id, what: 'Infinity', body: '{"x": [[1e400, 0]]}' },
      { id: toy.id, what: 'beyond float32', body: json({ x: [[1e39, 0]] }) },
      { id: toy.id, what: 'the wrong width', body: json({ x: [[1, 2, 3]] }) },
      { id: toy.id, what: 'ragged rows', body: json({ x: [row, [1]] }) },
      { id: toy.id, what: 'an unknown field', body: json({ x: [row], foo: 1 }) },
      { id: toy.id, what: 'a prototype name', body: '{"x": [[0, 0]], "__proto__": 1}' },
      { id: toy.id, what: 'too many rows', body: json({ x: Array.from({ length: 1025 }, () => row) }) },
      { id: toy.id, what: 'a bad seed', body: json({ x: [row], seed: -1 }) },
      { id: toy.id, what: 'a query field with a JSON body', body: json({ x: [row] }), query: '?seed=1' },
      { id: toy.id, what: 'an unknown query parameter', body: json({ x: [row] }), query: '?nope=1' },
      { id: toy.id, what: 'an unknown model', body: json({ x: [row] }), model: 'no-such-model' },
      { id: image.id, what: 'a pixel out of [0, 256)', body: json({ x: [new Array(784).fill(300)] }) },
      { id: toy.id, what: 'float32 without a shape header', body: f32(row), headers: { 'content-type': 'application/octet-stream' } },
      { id: toy.id, what: 'float32 with the wrong byte count', body: f32(row), headers: { 'content-type': 'application/octet-stream', 'x-edgegen-shape': '2,2' } },
      { id: toy.id, what: 'float32 NaN', body: f32([NaN, 0]), headers: { 'content-type': 'application/octet-stream', 'x-edgegen-shape': '1,2' } },
      { id: toy.id, what: 'a body over 4 MiB', body: new Uint8Array(5 * 1024 * 1024), headers: { 'content-type': 'application/octet-stream', 'x-edgegen-shape': '1,2' } },
    ];
    for (const c of cases) {
      const [d, s] = [await send(c.id, 'density', c), await send(c.id, 'score', c)];
      const [db, sb] = [(await d.json()) as ErrorBody, (await s.json()) as ErrorBody];
      expect({ what: c.what, status: s.status, error: sb.error }).toEqual({ what: c.what, status: d.status, error: db.error });
      expect(s.status, c.what).toBeGreaterThanOrEqual(400);
    }
    // a GAN: 422 with the manifest's reason, as density
    const [d, s] = [await send(gan.id, 'density', { what: '', body: json({ x: [row] }) }), await send(gan.id, 'score', { what: '', body: json({ x: [row] }) })];
    const [db, sb] = [(await d.json()) as ErrorBody, (await s.json()) as ErrorBody];
    expect([s.status, sb.error.code]).toEqual([422, 'capability_unavailable']);
    expect([d.status, db.error.code]).toEqual([422, 'capability_unavailable']);
    expect(sb.error.message).toContain(gan.unavailable.density!);
  });

  it('score: refuses an fpr outside (0, 1)', async () => {
    const toy = by((m) => m.shape.length === 1 && m.capabilities.includes('density'))[0];
    const codes = { 0: 'out_of_range', '-0.1': 'out_of_range', 1: 'limit_exceeded', 2: 'limit_exceeded', a: 'invalid_type' } as Record<string, string>;
    for (const [fpr, code] of Object.entries(codes)) {
      const res = await send(toy.id, 'score', { what: '', body: json({ x: [[0, 0]], fpr: fpr === 'a' ? fpr : Number(fpr) }) });
      expect(res.status).toBe(400);
      expect(((await res.json()) as ErrorBody).error.code, fpr).toBe(code);
    }
  });

  it('score: calibrated models answer anomaly, percentile and outlier; uncalibrated ones the raw fields and why', async () => {
    for (const m of by((x) => x.capabilities.includes('density'))) {
      const x = m.shape.length === 2 ? [new Array(784).fill(0)] : [[0.5, 0.25]];
      const r = await scoreOf(m.id, x);
      expect(r.logp.length).toBe(1);
      expect(r.fpr).toBe(DEFAULT_FPR);
      if (m.calibration) {
        expect(r.uncalibrated, m.id).toBeUndefined();
        expect(r.method).toBe(m.calibration.method);
        expect([r.anomaly!.length, r.percentile!.length, r.outlier!.length]).toEqual([1, 1, 1]);
        expect(r.outlier![0]).toBe(r.anomaly![0] > r.threshold!);
      } else {
        expect(r.uncalibrated, m.id).toMatch(/calibration/);
        expect([r.anomaly, r.percentile, r.outlier, r.threshold]).toEqual([undefined, undefined, undefined, undefined]);
      }
    }
    // the shipped MNIST flow and VAE carry calibration (a model exported before calibration existed answers as above)
    expect(by((m) => m.dataset === 'mnist' && !!m.calibration).map((m) => m.family)).toEqual(expect.arrayContaining(['flow', 'vae']));
  });

  it('score: the MNIST models flag a blank image and uniform noise, whose raw log p the blank image wins', async () => {
    const noise = Array.from(new Prng(3).uniforms(784), (u) => Math.floor(u * 256));
    const blank = new Array(784).fill(0);
    const calibrated = by((x) => x.dataset === 'mnist' && !!x.calibration);
    expect(calibrated.length).toBeGreaterThanOrEqual(2);
    for (const m of calibrated) {
      const r = await scoreOf(m.id, [blank, noise]);
      expect(r.outlier, m.id).toEqual([true, true]);
      expect(r.percentile![0]).toBeGreaterThan(100 * (1 - DEFAULT_FPR));
      // the trap the score survives: the blank image is more likely than the calibration median
      expect(r.bitsPerDim![0], m.id).toBeLessThan(m.calibration!.nll.median);
    }
  });

  it('score: outlier flips exactly at the threshold as fpr moves, and float32 bodies score as JSON ones', async () => {
    const m = by((x) => x.dataset === 'mnist' && x.family === 'flow' && !!x.calibration)[0];
    // a digit-like image: a bar, typical enough to sit inside the calibrated range
    const digit = new Array(784).fill(0);
    for (let y = 6; y < 22; y++) for (let dx = 13; dx < 16; dx++) digit[y * 28 + dx] = 255;
    const base = await scoreOf(m.id, [digit]);
    const a = base.anomaly![0];
    const p = base.percentile![0];
    expect(p).toBeGreaterThan(0);
    expect(p).toBeLessThan(100);
    // the threshold at fpr is the quantile at thresholdLevel(fpr, rows): a level just below the row's percentile flags it, just above does not
    const rows = m.calibration!.data.rows;
    /** the fpr whose threshold level is `level` (bisection: the level falls as fpr rises over [0.01, 0.999]) */
    const fprAt = (level: number) => {
      let [lo, hi] = [0.01, 0.999];
      for (let i = 0; i < 60; i++) {
        const mid = (lo + hi) / 2;
        if (thresholdLevel(mid, rows) > level) lo = mid;
        else hi = mid;
      }
      return (lo + hi) / 2;
    };
    const below = await scoreOf(m.id, [digit], { fpr: fprAt(p / 100 - 0.01) });
    const above = await scoreOf(m.id, [digit], { fpr: fprAt(p / 100 + 0.01) });
    expect(below.threshold!).toBeLessThan(a);
    expect(below.outlier).toEqual([true]);
    expect(above.threshold!).toBeGreaterThan(a);
    expect(above.outlier).toEqual([false]);
    const bin = await send(m.id, 'score', { what: '', body: f32(digit), headers: { 'content-type': 'application/octet-stream', 'x-edgegen-shape': '1,784' }, query: `?fpr=${below.fpr}` });
    expect(bin.status).toBe(200);
    const br = (await bin.json()) as ScoreResponse;
    expect([br.anomaly, br.outlier, br.threshold]).toEqual([below.anomaly, below.outlier, below.threshold]);
  });
}
