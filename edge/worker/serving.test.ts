/** The serving suite (serving.cases.ts) against a real workerd under `wrangler dev`, onnxruntime-web wasm. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe } from 'vitest';
import { buildAssets } from '../build-assets';
import { SERVING_TEST_OPTIONS, servingCases } from '../serving.cases';
import { MODELS, ROOT, startWrangler, workerEntry, type Target, type Wrangler } from '../testing';

describe('serving on workerd (onnxruntime-web wasm)', () => {
  const out = join(mkdtempSync(join(tmpdir(), 'edgegen-assets-')), 'public');
  // a Worker entry with the suite's tight bounds (worker/index.ts worker(serve))
  const entry = workerEntry(SERVING_TEST_OPTIONS);
  let wrangler: Wrangler;
  beforeAll(async () => {
    buildAssets({ web: join(ROOT, 'dist/web'), models: MODELS, out });
    wrangler = await startWrangler(out, 90_000, [entry]);
  });
  afterAll(async () => {
    await wrangler?.stop();
    rmSync(dirname(out), { recursive: true, force: true });
    rmSync(dirname(entry), { recursive: true, force: true });
  });
  const target: Target = { runtime: 'workerd', fetch: (path, init) => wrangler.fetch(path, init) };
  servingCases(() => target);
});
