// The score endpoint on a model whose calibration is missing or broken (Node,
// onnxruntime-node): the raw fields and why, never a verdict from bad quantiles.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ScoreResponse } from '../core/api';
import type { Manifest, ModelIndex } from '../core/manifest';
import { createApp } from './app';
import { nodeRuntime } from './node/runtime';
import { MODELS } from './testing';

const dir = mkdtempSync(join(tmpdir(), 'edgegen-score-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The calibrated MNIST model the variants copy. */
const BASE = 'vae-conv-mnist';

/** A copy of BASE under `id` with its manifest edited. */
function variant(id: string, edit: (m: Manifest) => void): void {
  cpSync(join(MODELS, BASE), join(dir, id), { recursive: true });
  const m = JSON.parse(readFileSync(join(dir, id, 'manifest.json'), 'utf8')) as Manifest;
  m.id = id;
  edit(m);
  writeFileSync(join(dir, id, 'manifest.json'), JSON.stringify(m));
}

describe('score without a usable calibration', () => {
  variant('vae-plain', (m) => delete m.calibration);
  variant('vae-broken', (m) => m.calibration!.quantiles.reverse());
  cpSync(join(MODELS, BASE), join(dir, BASE), { recursive: true });
  const shipped = (JSON.parse(readFileSync(join(MODELS, 'index.json'), 'utf8')) as ModelIndex).models.find((e) => e.id === BASE)!;
  const index: ModelIndex = { models: [BASE, 'vae-plain', 'vae-broken'].map((id) => ({ ...shipped, id, description: id })) };
  writeFileSync(join(dir, 'index.json'), JSON.stringify(index));
  const app = createApp(nodeRuntime(dir));
  const score = async (id: string): Promise<ScoreResponse> => {
    const res = await app.request(`/v1/models/${id}/score`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ x: [new Array(784).fill(0)] }) });
    expect(res.status).toBe(200);
    return (await res.json()) as ScoreResponse;
  };

  it('answers log p, bits/dim and complexity, and says why the verdict is missing', async () => {
    const good = await score(BASE);
    for (const [id, why] of [['vae-plain', /no calibration/], ['vae-broken', /quantiles decrease/]] as const) {
      const r = await score(id);
      expect(r.uncalibrated).toMatch(why);
      expect([r.anomaly, r.percentile, r.outlier, r.threshold, r.method]).toEqual([undefined, undefined, undefined, undefined, undefined]);
      // the raw fields are the calibrated model's, bit for bit: same graph, same seed
      expect([r.logp, r.bitsPerDim, r.complexity]).toEqual([good.logp, good.bitsPerDim, good.complexity]);
    }
    expect(good.outlier).toEqual([true]);
  });
});
