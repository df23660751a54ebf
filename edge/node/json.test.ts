/**
 * JSON answers written from float32 rows (float32.ts JsonBytes): the very text
 * c.json gave before (JSON.stringify of the shortest round-trip doubles), the
 * float32 answer's values, and c.json's content type.
 */
import { afterAll, expect, it } from 'vitest';
import { Prng } from '../../core/prng';
import { JsonBytes, float32Json } from '../float32';
import { Owned } from '../engine';
import { JsonThread, THREAD_FROM_VALUES } from './runtime';
import { MODELS } from '../testing';
import { nodeApp } from './serve';

// the app as the Node server runs it: large answers written on the JSON thread
const { app } = nodeApp(MODELS);
const post = (path: string, body: object) => app.request(path, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
const rowsOf = (data: Float32Array, width: number) => Array.from({ length: data.length / width }, (_, i) => Array.from(data.subarray(i * width, (i + 1) * width), float32Json));

it.each([
  ['flow-realnvp-ms-mnist', 'sample', { n: 3, seed: 9 }],
  // 16 x 784 values: written on the JSON thread (runtime.ts JsonThread)
  ['flow-realnvp-ms-mnist', 'sample', { n: 16, seed: 9 }],
  ['vae-conv-mnist', 'sample', { n: 2, seed: 4, temperature: 0.5 }],
  ['dcgan-mnist', 'interpolate', { seedA: 1, seedB: 2, steps: 3 }],
])('%s %s: the JSON text is JSON.stringify of the float32 answer', async (id, what, body) => {
  const json = await post(`/v1/models/${id}/${what}`, body);
  expect(json.status).toBe(200);
  expect(json.headers.get('content-type')).toBe('application/json');
  const text = await json.text();
  const f32 = await post(`/v1/models/${id}/${what}?format=f32`, body);
  const width = Number(f32.headers.get('x-edgegen-shape')!.split(',')[1]);
  const samples = rowsOf(new Float32Array(await f32.arrayBuffer()), width);
  const shape = f32.headers.get('x-edgegen-row-shape')!.split(',').map(Number);
  expect(text).toBe(JSON.stringify(what === 'sample' ? { samples, shape, seed: (body as { seed: number }).seed } : { samples, shape }));
});

it('encode (z and logvar) and decode answer canonical JSON text', async () => {
  // the shipped VAE with an encoder is the 2-D one: a class-conditional VAE's encoder would need the label
  const x = [[0.5, -0.25], [1.75, 0.125]];
  const enc = await post('/v1/models/vae-moons/encode', { x });
  const text = await enc.text();
  const parsed = JSON.parse(text) as { z: number[][]; logvar: number[][] };
  expect(Object.keys(parsed)).toEqual(['z', 'logvar']);
  expect(JSON.stringify(parsed)).toBe(text);
  const z = await (await post('/v1/models/vae-moons/encode?format=f32', { x })).arrayBuffer();
  expect(parsed.z).toEqual(rowsOf(new Float32Array(z), parsed.z[0].length));
  const dec = await post('/v1/models/vae-moons/decode', { z: parsed.z, mode: 'mean' });
  const decText = await dec.text();
  expect(JSON.stringify(JSON.parse(decText))).toBe(decText);
});

const thread = new JsonThread();
afterAll(() => thread.close());
const dec = new TextDecoder();

it.each([
  [64, 784],
  [3, 2],
])('the JSON thread writes %i rows of %i the bytes JsonBytes writes in line, on the thread only when large', async (n, width) => {
  // a view into a larger buffer, as a batch hands out rows; values from tiny to huge, and -0
  const all = new Prng(5).normals((n + 1) * width).map((v, i) => (i % 7 === 0 ? v * 1e-9 : i % 11 === 0 ? v * 1e25 : i % 13 === 0 ? -0 : v));
  const data = all.subarray(width, (n + 1) * width);
  const before = thread.threadWrites;
  const got = await thread.rows(new Owned(data, [n, width]), '{"samples":', ',"seed":1}');
  expect(dec.decode(got)).toBe(dec.decode(new JsonBytes().ascii('{"samples":').rows(data, n, width).ascii(',"seed":1}').bytes()));
  expect(thread.threadWrites - before).toBe(n * width >= THREAD_FROM_VALUES ? 1 : 0);
  // a view's rows are left as they were (a copy went over)
  expect(data.length).toBe(n * width);
});

it('once the JSON thread has answered, rows that own their whole buffer go over without a copy', async () => {
  const rows = () => new Prng(6).normals(64 * 784);
  const want = dec.decode(new JsonBytes().rows(rows(), 64, 784).bytes());
  await thread.rows(new Owned(rows(), [64, 784])); // the thread has answered at least once
  const whole = rows();
  expect(dec.decode(await thread.rows(new Owned(whole, [64, 784])))).toBe(want);
  expect(whole.length).toBe(0); // handed over (detached), not copied
});

it('a JSON thread that cannot start: answers are written in line, the same bytes', async () => {
  const lost = new JsonThread(new URL('./no-such-thread.mjs', import.meta.url));
  const errors: unknown[] = [];
  const log = console.error;
  console.error = (...args: unknown[]) => void errors.push(args);
  try {
    const data = new Prng(1).normals(64 * 784);
    for (let i = 0; i < 2; i++) expect(dec.decode(await lost.rows(new Owned(data, [64, 784])))).toBe(dec.decode(new JsonBytes().rows(data, 64, 784).bytes()));
  } finally {
    console.error = log;
    await lost.close();
  }
  expect(lost.threadWrites).toBe(1);
  expect(errors.length).toBe(1);
});
