/**
 * JSON answers written from float32 rows (float32.ts JsonBytes): the very text
 * c.json gave before (JSON.stringify of the shortest round-trip doubles), the
 * float32 answer's values, and c.json's content type.
 */
import { expect, it } from 'vitest';
import { createApp } from '../app';
import { float32Json } from '../float32';
import { MODELS } from '../testing';
import { nodeRuntime } from './runtime';

const app = createApp(nodeRuntime(MODELS));
const post = (path: string, body: object) => app.request(path, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
const rowsOf = (data: Float32Array, width: number) => Array.from({ length: data.length / width }, (_, i) => Array.from(data.subarray(i * width, (i + 1) * width), float32Json));

it.each([
  ['flow-realnvp-mnist', 'sample', { n: 3, seed: 9 }],
  ['vae-mnist', 'sample', { n: 2, seed: 4, temperature: 0.5 }],
  ['gan-mnist', 'interpolate', { seedA: 1, seedB: 2, steps: 3 }],
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
  const x = [new Array(784).fill(0).map((_, i) => i % 256)];
  const enc = await post('/v1/models/vae-mnist/encode', { x });
  const text = await enc.text();
  const parsed = JSON.parse(text) as { z: number[][]; logvar: number[][] };
  expect(Object.keys(parsed)).toEqual(['z', 'logvar']);
  expect(JSON.stringify(parsed)).toBe(text);
  const z = await (await post('/v1/models/vae-mnist/encode?format=f32', { x })).arrayBuffer();
  expect(parsed.z).toEqual(rowsOf(new Float32Array(z), parsed.z[0].length));
  const dec = await post('/v1/models/vae-mnist/decode', { z: parsed.z, mode: 'mean' });
  const decText = await dec.text();
  expect(JSON.stringify(JSON.parse(decText))).toBe(decText);
});
