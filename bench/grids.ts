/**
 * A sample grid per shipped image model, as the API draws it
 * (POST /v1/models/{id}/sample?format=png, 64 samples, seed 1, VAEs' decoder
 * means, the Node app in process), into docs/samples/<id>.png for the README. Deterministic: the
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
import { MODELS_DIR, ROOT } from './common';

const app = createApp(nodeRuntime(MODELS_DIR));
const out = join(ROOT, 'docs', 'samples');
mkdirSync(out, { recursive: true });
const index = (await (await app.request('/v1/models')).json()) as ModelIndex;
for (const m of index.models.filter((x) => x.shape.length === 2)) {
  // MADE samples one dimension per pass: the work budget allows one MNIST row per request
  const n = m.family === 'made' ? 1 : 64;
  const res = await app.request(`/v1/models/${m.id}/sample?format=png`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ n, seed: 1, ...(takesObservationNoise(m) ? { mode: 'mean' } : {}) }) });
  if (res.status !== 200) {
    console.log(`${m.id}: HTTP ${res.status} ${await res.text()}`);
    continue;
  }
  writeFileSync(join(out, `${m.id}.png`), new Uint8Array(await res.arrayBuffer()));
  console.log(`docs/samples/${m.id}.png (${n} samples)`);
}
