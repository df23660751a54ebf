/**
 * The serving suite, run against Node (in process) and a real workerd (wrangler
 * dev): dynamic batching gives each request the answer it gets alone, every
 * answer carries Server-Timing, the session LRU keeps serving every model, and
 * an instance with too much work in flight answers 503 overloaded in the error
 * shape with Retry-After. The target must run with SERVING_TEST_OPTIONS.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import type { ModelIndex } from '../core/manifest';
import { sampleWork } from '../core/protocol';
import { MAX_WORK_UNITS, type ServeOptions } from './engine';
import { MODELS, type Target } from './testing';

/** Tight bounds so eviction and the 503 path are reached with a handful of requests. */
export const SERVING_TEST_OPTIONS: Partial<ServeOptions> = { maxSessions: 2, maxInFlightUnits: 20_000, batchWaitMs: 5, runMaxRows: 4 };

const index = JSON.parse(readFileSync(join(MODELS, 'index.json'), 'utf8')) as ModelIndex;

async function samples(t: Target, id: string, body: object): Promise<{ data: Float32Array; timing: string; status: number }> {
  const res = await t.fetch(`/v1/models/${id}/sample?format=f32`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  const timing = res.headers.get('server-timing') ?? '';
  if (res.status !== 200) throw new Error(`${id}: HTTP ${res.status} ${await res.text()}`);
  return { data: new Float32Array(await res.arrayBuffer()), timing, status: res.status };
}

const batchOf = (timing: string) => Number(/batch;desc="(\d+)"/.exec(timing)?.[1] ?? 0);
const piecesOf = (timing: string) => Number(/pieces;desc="(\d+)"/.exec(timing)?.[1] ?? 1);

/** float32 bits of both arrays, for an exact comparison that also tells -0 from 0 */
const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

export function servingCases(target: () => Target) {
  // one image model of each family that samples in one pass (an autoregressive sampler runs alone: the next case)
  const picks = ['dcgan-mnist', 'vae-conv-mnist', 'flow-realnvp-ms-mnist', 'flow-realnvp-moons'];

  it('made-moons: an autoregressive sample request runs alone, so its bits never depend on the company', async () => {
    const t = target();
    const alone = await samples(t, 'made-moons', { n: 3, seed: 42 });
    const together = await Promise.all([1, 2, 5].map((k, i) => samples(t, 'made-moons', { n: k, seed: 1000 + i })).concat([samples(t, 'made-moons', { n: 3, seed: 42 })]));
    expect(bits(together[3].data)).toEqual(bits(alone.data));
    expect(batchOf(together[3].timing)).toBe(1);
  });

  it.each(picks)('%s: a request batched with others gets the bits it gets alone', async (id) => {
    const t = target();
    for (const n of [1, 3]) {
      const alone = await samples(t, id, { n, seed: 42 });
      expect(batchOf(alone.timing), alone.timing).toBe(1);
      const other = await samples(t, id, { n: 5, seed: 1002 });
      // requests reach a busy machine one by one: try a few rounds until ours shares a run
      // (the test would mean nothing otherwise); every round must give the lone bits
      let shared = 0;
      for (let round = 0; round < 6 && shared < 2; round++) {
        const sizes = [1, 2, 5, 4, 1, 3, 2];
        const others = sizes.map((k, i) => samples(t, id, { n: k, seed: 1000 + i }));
        const together = await Promise.all([others[0], others[1], samples(t, id, { n, seed: 42 }), ...others.slice(2)]);
        expect(bits(together[2].data)).toEqual(bits(alone.data));
        expect(bits(together[3].data)).toEqual(bits(other.data));
        shared = Math.max(shared, batchOf(together[2].timing));
      }
      expect(shared).toBeGreaterThan(1);
    }
  });

  it.each([
    ['dcgan-mnist', 'decode'],
    ['vae-conv-mnist', 'decode'],
    ['flow-realnvp-ms-mnist', 'encode'],
    ['flow-realnvp-moons', 'density'],
  ])('%s %s: rows over runMaxRows run in pieces, each row the bits it gets alone', async (id, what) => {
    const t = target();
    const m = index.models.find((x) => x.id === id);
    // a renamed or retired model must fail here, not pass without running
    if (!m) throw new Error(`${id} is not shipped: name a shipped model in this case`);
    const D = m.shape.reduce((a, b) => a * b, 1);
    const rows = 10; // runMaxRows 4: pieces of 4, 4 and 2
    const width = what === 'decode' ? (await (await t.fetch(`/v1/models/${id}`)).json() as { latentDim: number }).latentDim : D;
    const x = Array.from({ length: rows }, (_, i) => Array.from({ length: width }, (_, j) => (D > 2 && what !== 'decode' ? (i * 37 + j * 11) % 256 : Math.sin(i * 3 + j) * 1.5)));
    // a conditional decoder draws each row's class from the seed by its place in the request: name one
    // class, so a row alone gets the class it gets among the others
    const label = m.classes ? { label: 3 } : {};
    const call = async (r: number[][]) => {
      const body = what === 'decode' ? { z: r, mode: 'mean', ...label } : what === 'density' ? { x: r, seed: 5 } : { x: r };
      const res = await t.fetch(`/v1/models/${id}/${what}?format=f32`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
      if (res.status !== 200) throw new Error(`${id} ${what}: HTTP ${res.status} ${await res.text()}`);
      return { data: new Float32Array(await res.arrayBuffer()), timing: res.headers.get('server-timing') ?? '' };
    };
    const whole = await call(x);
    expect(piecesOf(whole.timing), whole.timing).toBe(3);
    const per = whole.data.length / rows;
    for (let i = 0; i < rows; i += 3) {
      if (what === 'density' && D > 2) continue; // dequantisation noise is drawn per request from its seed: rows differ alone
      const alone = await call([x[i]]);
      expect(piecesOf(alone.timing)).toBe(1);
      expect(bits(whole.data.subarray(i * per, (i + 1) * per)), `row ${i}`).toEqual(bits(alone.data));
    }
  });

  it('a density row weighs its k draws times the classes its graph tiles: runMaxRows bounds the graph rows of a run', async () => {
    const t = target();
    const density = async (id: string, body: object) => {
      const res = await t.fetch(`/v1/models/${id}/density`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
      if (res.status !== 200) throw new Error(`${id}: HTTP ${res.status} ${await res.text()}`);
      return piecesOf(res.headers.get('server-timing') ?? '');
    };
    const moons = Array.from({ length: 10 }, (_, i) => [Math.sin(i), Math.cos(i)]);
    // runMaxRows 4: k = 2 makes pieces of 2 rows, k = 1 of 4, k = 3 of 1
    expect(await density('vae-moons', { x: moons, k: 2, seed: 1 })).toBe(5);
    expect(await density('vae-moons', { x: moons, k: 1, seed: 1 })).toBe(3);
    expect(await density('vae-moons', { x: moons, k: 3, seed: 1 })).toBe(10);
    // a conditional MADE's density graph runs each row once per class (10): one row a run
    const digits = Array.from({ length: 3 }, (_, i) => Array.from({ length: 784 }, (_, j) => (i * 31 + j * 7) % 256));
    expect(await density('made-mnist', { x: digits })).toBe(3);
    // a conditional VAE's k = 30 over 10 classes: two chunks of 15 draws (core/protocol.ts DENSITY_DRAWS_PER_RUN), a run each
    expect(await density('vae-conv-mnist', { x: digits.slice(0, 1), k: 30, seed: 1 })).toBe(2);
  });

  it('every answer carries Server-Timing with parse, noise, run and encode', async () => {
    const t = target();
    const answers = [
      await t.fetch('/healthz'),
      await t.fetch('/v1/models/flow-realnvp-moons/sample', { method: 'POST', body: '{"n":2,"seed":1}' }),
      await t.fetch('/v1/models/flow-realnvp-moons/density', { method: 'POST', body: '{"x":[[0,0]]}' }),
      await t.fetch('/v1/models/flow-realnvp-moons/sample', { method: 'POST', body: '{"n":-1}' }),
      await t.fetch('/v1/models/nope/sample', { method: 'POST', body: '{}' }),
    ];
    for (const res of answers) {
      const timing = res.headers.get('server-timing') ?? '';
      for (const phase of ['parse', 'noise', 'run', 'encode']) expect(timing, `${res.url} ${res.status}`).toMatch(new RegExp(`\\b${phase};dur=\\d+(\\.\\d+)?`));
      await res.arrayBuffer();
    }
    const ran = answers[1].headers.get('server-timing')!;
    expect(batchOf(ran)).toBeGreaterThanOrEqual(1);
  });

  it('with room for 2 sessions, the LRU evicts and every model keeps answering', async () => {
    const t = target();
    const first = new Map<string, number[]>();
    for (const round of [0, 1]) {
      for (const m of index.models) {
        const caps = m.capabilities.filter((c) => c === 'sample');
        for (const _ of caps) {
          // two rows, or one where the budget counts D passes (MADE on MNIST)
          const n = Math.max(1, Math.min(2, Math.floor(MAX_WORK_UNITS / sampleWork(m, 1))));
          const { data } = await samples(t, m.id, { n, seed: 9 });
          if (round === 0) first.set(m.id, bits(data));
          else expect(bits(data), m.id).toEqual(first.get(m.id));
        }
      }
    }
    const health = (await (await t.fetch('/healthz')).json()) as { memory: { sessions: number; evictions: number } };
    expect(health.memory.sessions).toBeLessThanOrEqual(2);
    expect(health.memory.evictions).toBeGreaterThanOrEqual(index.models.length);
  });

  it('a conditional density counts each class in flight: two 2-row image MADE densities (2 x 784 x 10 units each) are over 20 000 together', async () => {
    const t = target();
    const x = Array.from({ length: 2 }, (_, i) => Array.from({ length: 784 }, (_, j) => (i * 13 + j * 5) % 256));
    const post = () => t.fetch('/v1/models/made-mnist/density', { method: 'POST', body: JSON.stringify({ x }), headers: { 'content-type': 'application/json' } });
    expect((await post()).status).toBe(200); // the session is open before the burst
    const answers = await Promise.all(Array.from({ length: 8 }, post));
    const statuses = answers.map((r) => r.status);
    expect(statuses).toContain(200);
    expect(statuses).toContain(503);
    for (const r of answers) await r.arrayBuffer();
  });

  it('too much work in flight answers 503 overloaded, in the error shape, with Retry-After; then serves again', async () => {
    const t = target();
    // small requests (< 16 rows) wait for company, so several are in flight together; two of 15 x 784 are over 20 000 units
    const post = () => t.fetch('/v1/models/flow-realnvp-ms-mnist/sample?format=f32', { method: 'POST', body: '{"n":15,"seed":3}' });
    const answers = await Promise.all(Array.from({ length: 24 }, post));
    const refused = answers.filter((r) => r.status === 503);
    expect(answers.some((r) => r.status === 200)).toBe(true);
    expect(refused.length).toBeGreaterThan(0);
    for (const r of refused) {
      expect(r.headers.get('retry-after')).toBe('1');
      expect(r.headers.get('content-type')).toContain('application/json');
      const body = (await r.json()) as { error: { code: string; message: string; limit: number } };
      expect(Object.keys(body)).toEqual(['error']);
      expect(body.error.code).toBe('overloaded');
      expect(body.error.message).toMatch(/in flight/);
      expect(body.error.limit).toBe(SERVING_TEST_OPTIONS.maxInFlightUnits);
    }
    for (const r of answers) if (r.status === 200) await r.arrayBuffer();
    expect((await post()).status).toBe(200);
  });
}
