/**
 * Sessions are built lazily, once per model and capability, and bad input
 * never reaches one: the real Node runtime, wrapped to count what it is asked.
 */
import { expect, it } from 'vitest';
import { createApp } from './app';
import { nodeRuntime } from './node/runtime';
import type { Runtime } from './engine';
import { MODELS } from './testing';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelIndex } from '../core/manifest';

function counted(inner: Runtime) {
  const counts = { sessions: 0, runs: 0, onnxLoads: 0 };
  const precisions: string[] = [];
  const runtime: Runtime = {
    name: inner.name,
    async loadBytes(path) {
      if (path.endsWith('.onnx')) counts.onnxLoads++;
      return inner.loadBytes(path);
    },
    memory: () => inner.memory(),
    async createSession(bytes, graph) {
      counts.sessions++;
      precisions.push(graph.precision);
      const s = await inner.createSession(bytes, graph);
      return { ...s, inputNames: s.inputNames, outputNames: s.outputNames, run: (f) => (counts.runs++, s.run(f)) };
    },
  };
  return { runtime, counts, precisions };
}

const flowId = (JSON.parse(readFileSync(join(MODELS, 'index.json'), 'utf8')) as ModelIndex).models.find((m) => m.family === 'flow')!.id;
const post = (body: string) => ({ method: 'POST', body, headers: { 'content-type': 'application/json' } });

it('creates nothing until asked, then one session per capability, reused across requests', async () => {
  const { runtime, counts } = counted(nodeRuntime(MODELS));
  const app = createApp(runtime);
  await app.request('/v1/models');
  expect(counts).toEqual({ sessions: 0, runs: 0, onnxLoads: 0 });
  const [a, b] = await Promise.all([
    app.request(`/v1/models/${flowId}/sample`, post('{"n":2,"seed":1}')),
    app.request(`/v1/models/${flowId}/sample`, post('{"n":2,"seed":1}')),
  ]);
  expect(await a.json()).toEqual(await b.json());
  await app.request(`/v1/models/${flowId}/sample`, post('{"n":3}'));
  // the two concurrent requests shared one graph run (dynamic batching, engine.ts)
  expect(counts).toEqual({ sessions: 1, runs: 2, onnxLoads: 1 });
  await app.request(`/v1/models/${flowId}/density`, post('{"x":[[0,0]]}'));
  expect(counts).toMatchObject({ sessions: 2, runs: 3 });
});

it('never runs a model on bad input', async () => {
  const { runtime, counts } = counted(nodeRuntime(MODELS));
  const app = createApp(runtime);
  const bad = ['{"x":[[0,0,0]]}', '{"x":[[0]]}', '{"x":[[1e999,0]]}', '{"x":[]}', '{"x":', '[]', '{"x":[[0,0]],"k":0}'];
  for (const body of bad) {
    const res = await app.request(`/v1/models/${flowId}/density`, post(body));
    expect(res.status, body).toBe(400);
  }
  expect((await app.request(`/v1/models/${flowId}/sample`, post('{"n":0}'))).status).toBe(400);
  expect(counts).toEqual({ sessions: 0, runs: 0, onnxLoads: 0 });
});

it("tells the runtime each graph's precision: an int8 copy as int8 (the Worker opens those without graph optimisation)", async () => {
  const index = JSON.parse(readFileSync(join(MODELS, 'index.json'), 'utf8')) as ModelIndex;
  const m = index.models.find((e) => e.sampleDtype === 'int8');
  expect(m, 'models/ ships a model whose sampler answers in int8 by default').toBeDefined();
  const { runtime, precisions } = counted(nodeRuntime(MODELS));
  const app = createApp(runtime);
  expect((await app.request(`/v1/models/${m!.id}/sample`, post('{"n":1,"seed":1}'))).status).toBe(200);
  expect((await app.request(`/v1/models/${m!.id}/sample`, post('{"n":1,"seed":1,"dtype":"float32"}'))).status).toBe(200);
  expect(precisions).toEqual(['int8', 'float32']);
});
