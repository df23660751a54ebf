/**
 * The shared request suite against a real workerd (`wrangler dev` on a free
 * loopback port, onnxruntime-web wasm, models from the static assets binding),
 * then the cross-runtime check: the Worker and the Node adapter give the same
 * numbers for the same seed.
 */
import { importanceSampled, sampleWork } from '../../core/protocol';
import { MAX_WORK_UNITS } from '../schemas';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelIndex } from '../../core/manifest';
import { createApp } from '../app';
import { apiCases } from '../api.cases';
import { buildAssets } from '../build-assets';
import { nodeRuntime } from '../node/runtime';
import { ROOT, modelsWithCorruptCopy, startWrangler, type Target, type Wrangler } from '../testing';

describe('edge API on workerd (onnxruntime-web wasm)', () => {
  const { dir, corruptId } = modelsWithCorruptCopy();
  const out = join(mkdtempSync(join(tmpdir(), 'edgegen-assets-')), 'public');
  let wrangler: Wrangler;

  beforeAll(async () => {
    buildAssets({ web: join(ROOT, 'dist/web'), models: dir, out });
    wrangler = await startWrangler(out);
    console.log(`wrangler dev answered ${wrangler.readyMs} ms after spawn`);
  });
  afterAll(async () => {
    await wrangler?.stop();
    rmSync(out, { recursive: true, force: true });
  });

  const target: Target = { runtime: 'workerd', fetch: (path, init) => fetch(wrangler.url + path, init) };
  apiCases(() => target, () => corruptId);

  it('gives the same samples and densities as the Node adapter for the same seed (within 1e-4)', async () => {
    const node = createApp(nodeRuntime(dir));
    const call = async (via: 'node' | 'workerd', path: string, body: unknown) => {
      const init = { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } };
      const res = via === 'node' ? await node.request(path, init) : await fetch(wrangler.url + path, init);
      expect(res.status, `${via} ${path}`).toBe(200);
      return (await res.json()) as any;
    };
    const close = (a: number[][], b: number[][], what: string) => {
      expect(a.length, what).toBe(b.length);
      let worst = 0;
      a.forEach((row, i) => row.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - b[i][j]) / Math.max(1, Math.abs(v))))));
      expect(worst, `${what}: largest relative difference`).toBeLessThan(1e-4);
    };
    const { models } = (await (await fetch(`${wrangler.url}/v1/models`)).json()) as ModelIndex;
    for (const m of models) {
      if (m.id === corruptId) continue;
      // within the work budget: MADE on MNIST takes one sample (784 passes) a request
      const body = { n: Math.min(64, Math.floor(MAX_WORK_UNITS / sampleWork(m, 1))), seed: 2024, temperature: 0.9 };
      const [a, b] = [await call('node', `/v1/models/${m.id}/sample`, body), await call('workerd', `/v1/models/${m.id}/sample`, body)];
      close(a.samples, b.samples, `${m.id} sample`);
      if (m.capabilities.includes('density')) {
        const x = a.samples.slice(0, 16);
        const d = { x, seed: 5, ...(importanceSampled(m) ? { k: 8 } : {}) };
        const [p, q] = [await call('node', `/v1/models/${m.id}/density`, d), await call('workerd', `/v1/models/${m.id}/density`, d)];
        close([p.logp], [q.logp], `${m.id} density`);
      }
    }
  });
});
