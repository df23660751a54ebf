/**
 * onnxruntime-node on its own thread (ort.ts OrtThread): the graph runs off
 * the main thread, and its answers are the main thread's bit for bit.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';
import { afterAll, expect, it } from 'vitest';
import type { Manifest } from '../../core/manifest';
import { Prng } from '../../core/prng';
import { MODELS } from '../testing';
import { createApp } from '../app';
import { OrtThread, createNodeSession } from './ort';
import { nodeRuntime } from './runtime';

const thread = new OrtThread();
afterAll(() => thread.close());

const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

it.each(['gan-mnist', 'vae-mnist', 'flow-realnvp-mnist'])('%s: the thread runs the sample graph off the main thread, with the same bits', async (id) => {
  const m = JSON.parse(readFileSync(join(MODELS, id, 'manifest.json'), 'utf8')) as Manifest;
  const bytes = new Uint8Array(readFileSync(join(MODELS, id, m.files.find((f) => f.capability === 'sample')!.file)));
  const here = await createNodeSession(bytes);
  const there = await thread.createSession(bytes);
  expect(there.inputNames).toEqual(here.inputNames);
  const rng = new Prng(3);
  const n = 5;
  const feeds = Object.fromEntries(
    here.inputNames.map((name) => {
      const width = name === 'z' ? m.latentDim : m.shape.reduce((a, b) => a * b, 1);
      // a view into a larger buffer, as batching hands out
      const data = rng.normals((n + 2) * width).subarray(width, (n + 1) * width);
      return [name, { data, dims: [n, width] }];
    }),
  );
  const a = await here.run(feeds);
  const b = await there.run(feeds);
  expect(there.lastRunThreadId()).not.toBe(threadId);
  expect(Object.keys(b)).toEqual(Object.keys(a));
  for (const name of Object.keys(a)) {
    expect(b[name].dims).toEqual(a[name].dims);
    expect(bits(b[name].data)).toEqual(bits(a[name].data));
  }
  await there.release!();
  await expect(there.run(feeds)).rejects.toThrow(/released/);
  await here.release!();
});

it('a broken graph fails on the thread as on the main thread, and the thread keeps serving', async () => {
  await expect(thread.createSession(new Uint8Array([1, 2, 3]))).rejects.toThrow();
  const app = createApp(nodeRuntime(MODELS, { ortThread: true }));
  const res = await app.request('/v1/models/gan-mnist/sample?format=f32', { method: 'POST', body: '{"n":2,"seed":1}' });
  expect(res.status).toBe(200);
  const off = createApp(nodeRuntime(MODELS, { ortThread: false }));
  const same = await off.request('/v1/models/gan-mnist/sample?format=f32', { method: 'POST', body: '{"n":2,"seed":1}' });
  expect(new Uint8Array(await res.arrayBuffer())).toEqual(new Uint8Array(await same.arrayBuffer()));
});
