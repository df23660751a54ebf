/**
 * The sampler's precisions in the API, run against every runtime
 * (node/node.test.ts, worker/worker.test.ts): `dtype` in /sample, /decode and
 * /interpolate picks the model's int8 copy (export/variant.ts), whose answers
 * stay within the error its manifest states, and a model's `sampleDtype` is
 * what a request that names none gets. The shipped models must include one
 * with an int8 sampler: a suite that found none would fail, not pass empty.
 */
import { beforeAll, expect, it } from 'vitest';
import type { ModelEntry } from '../core/api';
import { VARIANT_ERROR, type Manifest } from '../core/manifest';
import { isImage, sampleTolerance } from '../core/protocol';
import type { Target } from './testing';

const post = (t: Target, path: string, body: unknown) =>
  t.fetch(path, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });

async function f32(t: Target, path: string, body: unknown): Promise<Float32Array> {
  const res = await post(t, `${path}?format=f32`, body);
  expect(res.status, `${path} ${JSON.stringify(body)}: ${res.status}`).toBe(200);
  return new Float32Array(await res.arrayBuffer());
}

export function dtypeCases(getTarget: () => Target, skip: () => string[] = () => []): void {
  const t = () => getTarget();
  let models: ModelEntry[] = [];
  const withInt8 = () => models.filter((m) => m.dtypes?.includes('int8') && !skip().includes(m.id));

  beforeAll(async () => {
    models = ((await (await t().fetch('/v1/models')).json()) as { models: ModelEntry[] }).models;
  });

  it('an int8 sampler answers within the error its manifest states', async () => {
    expect(withInt8().length, 'models/ must ship a model with an int8 sampler').toBeGreaterThan(0);
    for (const e of withInt8()) {
      const m = (await (await t().fetch(`/v1/models/${e.id}`)).json()) as Manifest;
      const v = m.variants!.find((x) => x.precision === 'int8' && x.capability === 'sample')!;
      expect(v, e.id).toBeDefined();
      // the seed and rows the export measured the error on, so the bound is the stated one, not a guess
      const body = { n: VARIANT_ERROR.rows, seed: VARIANT_ERROR.seeds[0], ...(m.sampleTemperature !== undefined ? { temperature: m.sampleTemperature } : {}) };
      const a = await f32(t(), `/v1/models/${m.id}/sample`, { ...body, dtype: 'float32' });
      const b = await f32(t(), `/v1/models/${m.id}/sample`, { ...body, dtype: 'int8' });
      const unit = isImage(m) ? 256 : 1;
      let max = 0;
      let sum = 0;
      a.forEach((x, i) => {
        const d = Math.abs(x - b[i]) / unit;
        max = Math.max(max, d);
        sum += d;
      });
      expect(max, `${m.id}: int8 is a different graph`).toBeGreaterThan(0);
      // onnxruntime-node measured it; the Worker's wasm integer kernels may round a sum differently
      expect(max, m.id).toBeLessThanOrEqual(v.maxError + sampleTolerance(m));
      expect(sum / a.length, m.id).toBeLessThanOrEqual(2 * v.meanError! + 1e-6);
    }
  });

  it("a request that names no dtype runs at the model's sampleDtype, else float32, in /sample, /decode and /interpolate", async () => {
    for (const e of withInt8()) {
      const m = (await (await t().fetch(`/v1/models/${e.id}`)).json()) as Manifest;
      const byDefault = m.sampleDtype ?? 'float32';
      const other = byDefault === 'int8' ? 'float32' : 'int8';
      const sample = { n: 3, seed: 5 };
      expect(await f32(t(), `/v1/models/${m.id}/sample`, sample), m.id).toEqual(await f32(t(), `/v1/models/${m.id}/sample`, { ...sample, dtype: byDefault }));
      expect(await f32(t(), `/v1/models/${m.id}/sample`, sample), m.id).not.toEqual(await f32(t(), `/v1/models/${m.id}/sample`, { ...sample, dtype: other }));
      if (e.operations.includes('decode')) {
        const z = [Array.from({ length: m.latentDim }, (_, i) => Math.sin(i))];
        expect(await f32(t(), `/v1/models/${m.id}/decode`, { z }), m.id).toEqual(await f32(t(), `/v1/models/${m.id}/decode`, { z, dtype: byDefault }));
        expect(await f32(t(), `/v1/models/${m.id}/decode`, { z }), m.id).not.toEqual(await f32(t(), `/v1/models/${m.id}/decode`, { z, dtype: other }));
      }
      if (e.operations.includes('interpolate')) {
        const path = { seedA: 1, seedB: 2, steps: 3 };
        expect(await f32(t(), `/v1/models/${m.id}/interpolate`, path), m.id).toEqual(await f32(t(), `/v1/models/${m.id}/interpolate`, { ...path, dtype: byDefault }));
        expect(await f32(t(), `/v1/models/${m.id}/interpolate`, path), m.id).not.toEqual(await f32(t(), `/v1/models/${m.id}/interpolate`, { ...path, dtype: other }));
      }
    }
  });

  it('a dtype the model does not ship is a 422 naming the ones it does; an unknown dtype is a 400', async () => {
    const plain = models.find((m) => !m.dtypes?.includes('int8') && m.capabilities.includes('sample') && !skip().includes(m.id));
    expect(plain, 'models/ must ship a model without an int8 sampler').toBeDefined();
    const res = await post(t(), `/v1/models/${plain!.id}/sample`, { n: 1, dtype: 'int8' });
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect({ status: res.status, code: body.error.code }).toEqual({ status: 422, code: 'capability_unavailable' });
    expect(body.error.message).toContain('float32');
    const bad = await post(t(), `/v1/models/${withInt8()[0].id}/sample`, { n: 1, dtype: 'float16' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('invalid_value');
  });
}
