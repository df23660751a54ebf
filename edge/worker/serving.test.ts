/** The serving suite (serving.cases.ts) against a real workerd under `wrangler dev`, onnxruntime-web wasm. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe } from 'vitest';
import { buildAssets } from '../build-assets';
import { SERVING_TEST_OPTIONS, servingCases } from '../serving.cases';
import { MODELS, ROOT, startWrangler, type Target, type Wrangler } from '../testing';

describe('serving on workerd (onnxruntime-web wasm)', () => {
  const out = join(mkdtempSync(join(tmpdir(), 'edgegen-assets-')), 'public');
  let wrangler: Wrangler;
  beforeAll(async () => {
    buildAssets({ web: join(ROOT, 'dist/web'), models: MODELS, out });
    const o = SERVING_TEST_OPTIONS;
    wrangler = await startWrangler(out, 90_000, [
      '--var', `EDGEGEN_MAX_SESSIONS:${o.maxSessions}`,
      '--var', `EDGEGEN_MAX_INFLIGHT_UNITS:${o.maxInFlightUnits}`,
      '--var', `EDGEGEN_BATCH_WAIT_MS:${o.batchWaitMs}`,
      '--var', `EDGEGEN_RUN_MAX_ROWS:${o.runMaxRows}`,
    ]);
  });
  afterAll(async () => {
    await wrangler?.stop();
    rmSync(out, { recursive: true, force: true });
  });
  const target: Target = { runtime: 'workerd', fetch: (path, init) => fetch(wrangler.url + path, init) };
  servingCases(() => target);
});
