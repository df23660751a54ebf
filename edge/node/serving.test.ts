/** The serving suite (serving.cases.ts) against the Node adapter, in process, real onnxruntime-node; and the session bounds with int8 samplers. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Manifest } from '../../core/manifest';
import { createApp } from '../app';
import { SERVING_TEST_OPTIONS, servingCases } from '../serving.cases';
import { MODELS, type Target } from '../testing';
import { nodeRuntime } from './runtime';

describe('serving on Node (onnxruntime-node)', () => {
  const app = createApp(nodeRuntime(MODELS), { serve: SERVING_TEST_OPTIONS });
  const target: Target = { runtime: 'node', fetch: async (path, init) => app.request(path, init) };
  servingCases(() => target);
});

describe('session bounds with int8 samplers (onnxruntime-node)', () => {
  it('count an int8 sampler as the float32 graph it unfolds to, so two image MADEs never stay open under a bound that holds one', async () => {
    const manifests = ['made-mnist', 'made-fashion-mnist'].map((id) => JSON.parse(readFileSync(join(MODELS, id, 'manifest.json'), 'utf8')) as Manifest);
    for (const m of manifests) expect(m.sampleDtype, `${m.id} answers in int8 by default`).toBe('int8');
    const float32Bytes = Math.max(...manifests.map((m) => m.files.find((f) => f.capability === 'sample')!.bytes));
    // room for one float32 MADE sampler, or for both int8 files if they counted as their own size
    const app = createApp(nodeRuntime(MODELS), { serve: { maxSessionBytes: float32Bytes + 1024 } });
    for (const m of manifests) {
      const res = await app.request(`/v1/models/${m.id}/sample?format=f32`, { method: 'POST', body: JSON.stringify({ n: 1, seed: 1 }), headers: { 'content-type': 'application/json' } });
      expect(res.status, m.id).toBe(200);
    }
    const health = (await (await app.request('/healthz')).json()) as { memory: { sessions: number; sessionFileBytes: number; evictions: number } };
    expect(health.memory).toMatchObject({ sessions: 1, evictions: 1 });
    expect(health.memory.sessionFileBytes).toBe(manifests[1].files.find((f) => f.capability === 'sample')!.bytes);
  });
});
