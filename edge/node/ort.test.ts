/**
 * onnxruntime-node on its own thread (runtime.ts OrtThread): the graph runs off
 * the main thread, and its answers are the main thread's bit for bit.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';
import { afterAll, expect, it, vi } from 'vitest';
import type { Manifest } from '../../core/manifest';
import { Prng } from '../../core/prng';
import { oneHot, sampleLabelsFor, sampleNoiseFor, temperatureOf } from '../../core/protocol';
import { Owned } from '../engine';
import { MODELS } from '../testing';
import { createApp } from '../app';
import { OrtPool, OrtThread, createNodeSession, ortThreadCount, sessionOptions } from './runtime';
import { nodeRuntime } from './runtime';

const thread = new OrtThread();
afterAll(() => thread.close());

const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
/** The class-conditional generator's `label` feed: n rows of one class, lent. */
const label = (n: number) => ({ data: oneHot(new Array(n).fill(3), 10), dims: [n, 10] });

it.each(['dcgan-mnist', 'vae-conv-mnist', 'flow-realnvp-ms-mnist'])('%s: the thread runs the sample graph off the main thread, with the same bits', async (id) => {
  const m = JSON.parse(readFileSync(join(MODELS, id, 'manifest.json'), 'utf8')) as Manifest;
  const bytes = new Uint8Array(readFileSync(join(MODELS, id, m.files.find((f) => f.capability === 'sample')!.file)));
  const here = await createNodeSession(bytes);
  const there = await thread.createSession(bytes);
  expect(there.inputNames).toEqual(here.inputNames);
  const rng = new Prng(3);
  const n = 5;
  const feeds = Object.fromEntries(
    here.inputNames.map((name) => {
      if (name === 'label') return [name, label(n)];
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
  const res = await app.request('/v1/models/dcgan-mnist/sample?format=f32', { method: 'POST', body: '{"n":2,"seed":1}' });
  expect(res.status).toBe(200);
  const off = createApp(nodeRuntime(MODELS, { ortThread: false }));
  const same = await off.request('/v1/models/dcgan-mnist/sample?format=f32', { method: 'POST', body: '{"n":2,"seed":1}' });
  expect(new Uint8Array(await res.arrayBuffer())).toEqual(new Uint8Array(await same.arrayBuffer()));
});

it('a pool opens a session on one thread and copies it to another only when its runs overlap; every run has the main thread\'s bits', async () => {
  const pool = new OrtPool(2);
  try {
    const m = JSON.parse(readFileSync(join(MODELS, 'dcgan-mnist', 'manifest.json'), 'utf8')) as Manifest;
    const bytes = new Uint8Array(readFileSync(join(MODELS, 'dcgan-mnist', 'sample.onnx')));
    const here = await createNodeSession(bytes);
    const there = await pool.createSession(bytes);
    expect(there.concurrency).toBe(2);
    const feedsOf = (seed: number) => ({ z: { data: new Prng(seed).normals(64 * m.latentDim), dims: [64, m.latentDim] }, label: label(64) });
    const want = async (seed: number) => bits((await here.run(feedsOf(seed))).x.data);
    // runs one after another stay on the one thread that holds the session
    const alone = new Set<number>();
    for (const seed of [1, 2, 3]) {
      expect(bits((await there.run(feedsOf(seed))).x.data)).toEqual(await want(seed));
      alone.add(there.lastRunThreadId());
    }
    expect(alone.size).toBe(1);
    expect(there.copies()).toBe(1);
    expect(pool.copies()).toBe(1);
    // two runs at once: the second finds the holder busy and copies the session to the idle thread
    const first = await Promise.all([1, 2].map((seed) => there.run(feedsOf(seed))));
    for (const [i, seed] of [1, 2].entries()) expect(bits(first[i].x.data)).toEqual(await want(seed));
    await vi.waitFor(() => expect(there.copies()).toBe(2));
    // from then on, overlapping runs go to both threads
    const threads = new Set<number>();
    const runs = [3, 4].map((seed) => there.run(feedsOf(seed)).then((out) => (threads.add(there.lastRunThreadId()), out)));
    const outs = await Promise.all(runs);
    expect(threads.size).toBe(2);
    for (const [i, seed] of [3, 4].entries()) expect(bits(outs[i].x.data)).toEqual(await want(seed));
    await there.release!();
    expect(pool.copies()).toBe(0);
    await expect(there.run(feedsOf(1))).rejects.toThrow(/released/);
    await here.release!();
  } finally {
    await pool.close();
  }
});

it('the pool size comes from EDGEGEN_ORT_THREADS, else the cores up to 4, and a bad value is refused', () => {
  expect(ortThreadCount({ EDGEGEN_ORT_THREADS: '3' })).toBe(3);
  expect(ortThreadCount({})).toBeGreaterThanOrEqual(1);
  expect(ortThreadCount({})).toBeLessThanOrEqual(4);
  expect(() => ortThreadCount({ EDGEGEN_ORT_THREADS: '0' })).toThrow(/EDGEGEN_ORT_THREADS/);
  expect(() => ortThreadCount({ EDGEGEN_ORT_THREADS: 'two' })).toThrow(/EDGEGEN_ORT_THREADS/);
});

it('a run that names its outputs gets only those, with the bits of a run that reads them all', async () => {
  const bytes = new Uint8Array(readFileSync(join(MODELS, 'vae-conv-mnist', 'sample.onnx')));
  const rng = new Prng(8);
  const feeds = { z: { data: rng.normals(4 * 16), dims: [4, 16] }, noise: { data: rng.normals(4 * 784), dims: [4, 784] }, label: label(4) };
  for (const session of [await createNodeSession(bytes), await thread.createSession(bytes)]) {
    const all = await session.run(feeds);
    expect(Object.keys(all).sort()).toEqual(['x', 'x_mean']);
    const some = await session.run(feeds, ['x']);
    expect(Object.keys(some)).toEqual(['x']);
    expect(bits(some.x.data)).toEqual(bits(all.x.data));
    await session.release!();
  }
});

it('an Owned feed goes to the thread without a copy (its buffer is handed over, and reading it again throws); lent feeds stay the caller\'s', async () => {
  const bytes = new Uint8Array(readFileSync(join(MODELS, 'dcgan-mnist', 'sample.onnx')));
  const there = await thread.createSession(bytes);
  const z = () => new Prng(4).normals(3 * 64);
  const kept = { z: { data: z(), dims: [3, 64] }, label: label(3) };
  const raw = z();
  const given = { z: new Owned(raw, [3, 64]), label: label(3) };
  const a = await there.run(kept);
  expect(kept.z.data.length).toBe(3 * 64);
  const b = await there.run(given);
  expect(raw.length).toBe(0); // detached: it went over as it was
  expect(() => given.z.data).toThrow(/handed over/);
  expect(bits(b.x.data)).toEqual(bits(a.x.data));
  // an Owned view into a larger buffer is copied, not handed over
  const big = z();
  const view = { z: new Owned(big.subarray(0, 2 * 64), [2, 64]), label: label(2) };
  await there.run(view);
  expect(big.length).toBe(3 * 64);
  await there.release();
});

it("onnxruntime's arena and memory patterns are off unless asked for (nodeRuntime's `arena`)", () => {
  expect(sessionOptions({})).toMatchObject({ enableCpuMemArena: false, enableMemPattern: false, intraOpNumThreads: 1 });
  expect(sessionOptions({ arena: true })).toMatchObject({ enableCpuMemArena: true, enableMemPattern: true });
});

it('a session released while its copy to another thread is opening leaves no copy behind', async () => {
  const pool = new OrtPool(2);
  try {
    const bytes = new Uint8Array(readFileSync(join(MODELS, 'dcgan-mnist', 'sample.onnx')));
    const there = await pool.createSession(bytes);
    const z = () => ({ z: { data: new Prng(1).normals(8 * 64), dims: [8, 64] }, label: label(8) });
    await Promise.all([there.run(z()), there.run(z())]); // the second run starts a copy
    await there.release!();
    await vi.waitFor(() => expect(pool.copies()).toBe(0));
  } finally {
    await pool.close();
  }
});

it("the Node server draws sample noise in line with core/prng.ts: at the model's sampleTemperature: the API's answer is the graph's on that noise, bit for bit", async () => {
  const runtime = nodeRuntime(MODELS);
  const app = createApp(runtime);
  // class-conditional: the server also draws each row's class from the seed, as core/protocol.ts does
  for (const id of ['dcgan-mnist', 'flow-realnvp-ms-mnist']) {
    const m = JSON.parse(readFileSync(join(MODELS, id, 'manifest.json'), 'utf8')) as Manifest;
    const res = await app.request(`/v1/models/${id}/sample?format=f32`, { method: 'POST', body: '{"n":16,"seed":5}' });
    expect(res.status).toBe(200);
    const got = new Float32Array(await res.arrayBuffer());
    const here = await createNodeSession(new Uint8Array(readFileSync(join(MODELS, id, m.files.find((f) => f.capability === 'sample')!.file))));
    const { z } = sampleNoiseFor(m, 5, 16, temperatureOf(m));
    const labels = sampleLabelsFor(m, 5, 16)!;
    const want = (await here.run({ z: { data: z, dims: [16, m.latentDim] }, label: { data: labels, dims: [16, labels.length / 16] } })).x.data;
    expect(bits(got), id).toEqual(bits(want));
    await here.release!();
  }
});

it("/healthz on Node counts onnxruntime's memory: the resident set, its peak, the part outside V8 and the session copies", async () => {
  const app = createApp(nodeRuntime(MODELS));
  const res = await app.request('/v1/models/dcgan-mnist/sample?format=f32', { method: 'POST', body: '{"n":64,"seed":1}' });
  expect(res.status).toBe(200);
  const { memory } = (await (await app.request('/healthz')).json()) as { memory: Record<string, number> };
  expect(memory.rssBytes).toBeGreaterThan(0);
  expect(memory.rssPeakBytes).toBeGreaterThanOrEqual(memory.rssBytes);
  expect(memory.nativeBytes).toBeGreaterThanOrEqual(0);
  expect(memory.nativeBytes).toBeLessThan(memory.rssBytes);
  expect(memory.sessionCopies).toBeGreaterThanOrEqual(memory.sessions);
});
