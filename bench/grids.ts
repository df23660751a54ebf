/**
 * A sample grid per shipped image model, as the API draws it
 * (POST /v1/models/{id}/sample?format=png, 64 samples, seed 1, VAEs' decoder
 * means, the Node app in process; MADE: 16 one-image requests, seeds 1-16), into docs/samples/<id>.png for the README. Deterministic: the
 * same seed gives the same picture on every runtime.
 *
 *   npx tsx bench/grids.ts
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelIndex } from '../core/manifest';
import { takesObservationNoise } from '../core/protocol';
import { createApp } from '../edge/app';
import { nodeRuntime } from '../edge/node/runtime';
import { gridPng } from '../edge/png';
import { MODELS_DIR, ROOT } from './common';

const app = createApp(nodeRuntime(MODELS_DIR));
const out = join(ROOT, 'docs', 'samples');
mkdirSync(out, { recursive: true });
const index = (await (await app.request('/v1/models')).json()) as ModelIndex;
for (const m of index.models.filter((x) => x.shape.length === 2)) {
  const png = m.family === 'made' ? await autoregressiveGrid(m.id, m.shape) : await apiGrid(m.id, takesObservationNoise(m));
  if (typeof png === 'string') {
    console.log(`${m.id}: ${png}`);
    continue;
  }
  writeFileSync(join(out, `${m.id}.png`), png.bytes);
  console.log(`docs/samples/${m.id}.png (${png.n} samples)`);
}

async function post(id: string, query: string, body: object): Promise<Response> {
  return app.request(`/v1/models/${id}/sample${query}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

/** 64 samples of seed 1 in one request, as PNG. */
async function apiGrid(id: string, decoderMeans: boolean): Promise<{ bytes: Uint8Array; n: number } | string> {
  const res = await post(id, '?format=png', { n: 64, seed: 1, ...(decoderMeans ? { mode: 'mean' } : {}) });
  return res.status === 200 ? { bytes: new Uint8Array(await res.arrayBuffer()), n: 64 } : `HTTP ${res.status} ${await res.text()}`;
}

/**
 * MADE samples one dimension per pass, so the API's work budget allows one image a
 * request: 16 requests (seeds 1-16, one image each), laid out by the API's own grid encoder.
 */
async function autoregressiveGrid(id: string, shape: number[]): Promise<{ bytes: Uint8Array; n: number } | string> {
  const n = 16;
  const D = shape.reduce((a, b) => a * b, 1);
  const all = new Float32Array(n * D);
  for (let i = 0; i < n; i++) {
    const res = await post(id, '', { n: 1, seed: i + 1 });
    if (res.status !== 200) return `HTTP ${res.status} ${await res.text()}`;
    all.set(((await res.json()) as { samples: number[][] }).samples[0], i * D);
  }
  return { bytes: await gridPng(all, n, shape), n };
}
