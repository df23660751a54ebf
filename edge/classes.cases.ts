/**
 * Classes in the API, run against every runtime (node/node.test.ts,
 * worker/worker.test.ts): what GET /v1/models tells a client before it calls
 * (classes, limits, operations), `label` in /sample, and /classify. The
 * shipped models must include a class-conditional GAN and a class-conditional
 * density model: a suite that found none would fail, not pass empty.
 */
import { beforeAll, expect, it } from 'vitest';
import type { ClassifyResponse, DensityResponse, ModelEntry, SampleResponse } from '../core/api';
import { dataDim, sampleWork } from '../core/protocol';
import { CLASSIFY_FPR } from '../core/score';
import { MAX_WORK_UNITS } from './engine';
import type { Target } from './testing';

const post = (t: Target, path: string, body: unknown) =>
  t.fetch(path, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });

async function expectError(res: Response, status: number, code: string): Promise<string> {
  const body = (await res.json()) as { error: { code: string; message: string } };
  expect({ status: res.status, code: body.error?.code }).toEqual({ status, code });
  return body.error.message;
}

export function classesCases(getTarget: () => Target, skip: () => string[] = () => []): void {
  const t = () => getTarget();
  let models: ModelEntry[] = [];
  const shipped = () => models.filter((m) => !skip().includes(m.id));
  const conditional = (pred: (m: ModelEntry) => boolean) => {
    const m = shipped().find((e) => e.classes && pred(e));
    if (!m) throw new Error('no class-conditional model of this kind ships: models/ must hold one');
    return m;
  };
  const sample = async (id: string, body: Record<string, unknown>) => {
    const res = await post(t(), `/v1/models/${id}/sample`, body);
    expect(res.status, JSON.stringify(body)).toBe(200);
    return ((await res.json()) as SampleResponse).samples;
  };

  beforeAll(async () => {
    models = ((await (await t().fetch('/v1/models')).json()) as { models: ModelEntry[] }).models;
  });

  it('lists every model with its limits and operations, and the conditional ones with their classes', async () => {
    expect(shipped().length).toBeGreaterThan(1);
    for (const m of shipped()) {
      expect(m.limits.sample, m.id).toBe(Math.min(1024, Math.floor(MAX_WORK_UNITS / sampleWork(m, 1))));
      expect(m.limits.rows, m.id).toBeGreaterThan(0);
      expect(m.operations.includes('classify'), m.id).toBe(!!m.classes && m.capabilities.includes('density'));
      expect(m.operations.includes('interpolate'), m.id).toBe(m.limits.interpolate !== undefined);
      if (m.classes) {
        expect(m.classes.names.length, m.id).toBe(m.classes.prior.length);
        expect(m.classes.prior.reduce((a, b) => a + b, 0), m.id).toBeCloseTo(1, 6);
      }
      const detail = (await (await t().fetch(`/v1/models/${m.id}`)).json()) as ModelEntry;
      expect(detail.limits, m.id).toEqual(m.limits);
      expect(detail.operations, m.id).toEqual(m.operations);
    }
    expect(shipped().some((m) => m.dataset === 'fashion-mnist' && m.classes?.names.includes('Sneaker'))).toBe(true);
  });

  it('a listed sample limit is the largest n that answers; one more is over budget', async () => {
    const m = shipped().reduce((a, b) => (a.limits.sample <= b.limits.sample ? a : b));
    if (m.limits.sample < 1024) {
      await expectError(await post(t(), `/v1/models/${m.id}/sample`, { n: m.limits.sample + 1, seed: 1 }), 400, 'over_budget');
    }
    const res = await post(t(), `/v1/models/${m.id}/sample?format=f32`, { n: m.limits.sample, seed: 1 });
    expect(res.status, m.id).toBe(200);
  });

  it('an operation that is not listed answers 422 with the reason, never 400', async () => {
    for (const m of shipped()) {
      if (!m.capabilities.includes('sample') || m.operations.includes('interpolate')) continue;
      const msg = await expectError(await post(t(), `/v1/models/${m.id}/interpolate`, { steps: 2 }), 422, 'capability_unavailable');
      expect(msg).toMatch(/work budget/);
    }
    const gan = conditional((m) => m.family === 'gan');
    expect(await expectError(await post(t(), `/v1/models/${gan.id}/classify`, { x: [new Array(dataDim(gan)).fill(0)] }), 422, 'capability_unavailable')).toMatch(/density/);
    const plain = shipped().find((m) => !m.classes && m.capabilities.includes('density'))!;
    expect(await expectError(await post(t(), `/v1/models/${plain.id}/classify`, { x: [new Array(dataDim(plain)).fill(0)] }), 422, 'capability_unavailable')).toMatch(/not class-conditional/);
  });

  it('a label changes what /sample draws, by id or by name, and a seed repeats it', async () => {
    const gan = conditional((m) => m.family === 'gan');
    const names = gan.classes!.names;
    const a = await sample(gan.id, { n: 4, seed: 9, label: 1 });
    const again = await sample(gan.id, { n: 4, seed: 9, label: names[1] });
    const b = await sample(gan.id, { n: 4, seed: 9, label: 2 });
    expect(again).toEqual(a);
    expect(b).not.toEqual(a);
    // one label per row: row i of a mixed request is row i of the single-label requests
    const mixed = await sample(gan.id, { n: 4, seed: 9, label: [1, 2, 1, 2] });
    expect([mixed[0], mixed[1], mixed[2], mixed[3]]).toEqual([a[0], b[1], a[2], b[3]]);
    // no label: classes drawn from the prior with the seed, the same every time
    expect(await sample(gan.id, { n: 8, seed: 3 })).toEqual(await sample(gan.id, { n: 8, seed: 3 }));
  });

  it("a request that names no temperature draws at the model's listed sampleTemperature (else 1), in /sample and /interpolate", async () => {
    const samplers = shipped().filter((m) => m.capabilities.includes('sample'));
    const tuned = samplers.find((m) => m.sampleTemperature !== undefined && m.sampleTemperature !== 1);
    if (!tuned) throw new Error('no shipped model states a sampleTemperature: models/ must hold one');
    const plain = samplers.find((m) => m.sampleTemperature === undefined && m.shape.length === 1)!;
    for (const m of [tuned, plain]) {
      const body = { n: 3, seed: 9, ...(m.classes ? { label: 0 } : {}) };
      const at = m.sampleTemperature ?? 1;
      expect(await sample(m.id, body), m.id).toEqual(await sample(m.id, { ...body, temperature: at }));
      const path = (await post(t(), `/v1/models/${m.id}/interpolate`, { seedA: 1, seedB: 2, steps: 3 })).json();
      expect(await path).toEqual(await (await post(t(), `/v1/models/${m.id}/interpolate`, { seedA: 1, seedB: 2, steps: 3, temperature: at })).json());
    }
    const body = { n: 3, seed: 9, ...(tuned.classes ? { label: 0 } : {}) };
    expect(await sample(tuned.id, body)).not.toEqual(await sample(tuned.id, { ...body, temperature: 1 }));
  });

  it('refuses labels the model does not have, with its classes in the message; unconditional models refuse any label', async () => {
    const gan = conditional((m) => m.family === 'gan');
    const C = gan.classes!.names.length;
    const path = `/v1/models/${gan.id}/sample`;
    expect(await expectError(await post(t(), path, { n: 2, label: C }), 400, 'invalid_value')).toContain(gan.classes!.names[C - 1]);
    expect(await expectError(await post(t(), path, { n: 2, label: 'no such class' }), 400, 'invalid_value')).toContain(gan.classes!.names[C - 1]);
    await expectError(await post(t(), path, { n: 2, label: -1 }), 400, 'out_of_range');
    await expectError(await post(t(), path, { n: 2, label: 1.5 }), 400, 'invalid_type');
    await expectError(await post(t(), path, { n: 2, label: [0, 1, 2] }), 400, 'bad_shape');
    await expectError(await post(t(), path, { n: 2, label: [] }), 400, 'bad_shape');
    await expectError(await post(t(), path, { n: 2, label: { id: 1 } }), 400, 'invalid_type');
    const plain = shipped().find((m) => !m.classes && m.capabilities.includes('sample'))!;
    expect(await expectError(await post(t(), `/v1/models/${plain.id}/sample`, { n: 2, label: 0 }), 422, 'capability_unavailable')).toMatch(/not class-conditional/);
  });

  it("classify: posteriors sum to 1, log p(x) is density's, and abstention is score's outlier or a low posterior", async () => {
    const m = conditional((e) => e.operations.includes('classify'));
    const C = m.classes!.names.length;
    const rows = await sample(m.id, { n: 2 * C, seed: 4, label: Array.from({ length: 2 * C }, (_, i) => i % C) });
    const D = dataDim(m);
    const noise = Array.from({ length: 4 }, (_, r) => Array.from({ length: D }, (_, j) => ((r * 7919 + j * 104729) % 256) | 0));
    const x = [...rows.map((row) => row.map((v) => Math.min(255, Math.max(0, Math.round(v))))), ...noise];
    const res = await post(t(), `/v1/models/${m.id}/classify`, { x });
    expect(res.status).toBe(200);
    const c = (await res.json()) as ClassifyResponse;
    expect(c.classes).toEqual(m.classes!.names);
    expect(c.fpr).toBe(CLASSIFY_FPR);
    for (let i = 0; i < x.length; i++) {
      expect(c.posterior[i].reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
      expect(c.probability[i]).toBe(Math.max(...c.posterior[i]));
      expect(c.name[i]).toBe(m.classes!.names[c.label[i]]);
      const want = c.outlier?.[i] ? 'out_of_distribution' : c.confidence !== undefined && c.probability[i] < c.confidence ? 'uncertain' : null;
      expect(c.abstain[i], `row ${i}`).toBe(want);
    }
    // uniform-ish noise is no class at all
    for (let i = rows.length; i < x.length; i++) expect(c.abstain[i], `noise row ${i}`).toBe('out_of_distribution');
    // most of the model's own samples of class y classify as y
    const right = rows.filter((_, i) => c.label[i] === i % C).length;
    expect(right / rows.length).toBeGreaterThan(0.5);
    const d = (await (await post(t(), `/v1/models/${m.id}/density`, { x })).json()) as DensityResponse;
    c.logp.forEach((lp, i) => expect(Math.abs(lp - d.logp[i]) / Math.max(1, Math.abs(d.logp[i])), `row ${i}`).toBeLessThan(1e-6));
  });

  it('classify takes float32 rows like density, and checks them the same way', async () => {
    const m = conditional((e) => e.operations.includes('classify'));
    const D = dataDim(m);
    const body = new Float32Array(2 * D).fill(0);
    const res = await t().fetch(`/v1/models/${m.id}/classify`, { method: 'POST', body, headers: { 'content-type': 'application/octet-stream', 'x-edgegen-shape': `2,${D}` } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as ClassifyResponse).posterior.length).toBe(2);
    await expectError(await post(t(), `/v1/models/${m.id}/classify`, { x: [[1, 2, 3]] }), 400, 'bad_shape');
    await expectError(await post(t(), `/v1/models/${m.id}/classify`, { x: [new Array(D).fill(300)] }), 400, 'out_of_range');
  });
}
