/**
 * The reliability suite (reliability.cases.ts) against a real workerd:
 * `wrangler dev` on a free loopback port serving a copy of models/ with broken
 * models added. Fewer fuzz runs than on Node (each is a real HTTP request to a
 * single-threaded wasm runtime).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe } from 'vitest';
import { buildAssets } from '../build-assets';
import { modelsWithFaults, reliabilityCases } from '../reliability.cases';
import { ROOT, startWrangler, type Target, type Wrangler } from '../testing';

const RUNS = Number(process.env.FUZZ_RUNS_WORKERD ?? 150);

describe('edge reliability on workerd (onnxruntime-web wasm)', () => {
  const faults = modelsWithFaults();
  const out = join(mkdtempSync(join(tmpdir(), 'edgegen-assets-')), 'public');
  let wrangler: Wrangler;
  const tally = new Map<string, number>();

  beforeAll(async () => {
    buildAssets({ web: join(ROOT, 'dist/web'), models: faults.dir, out });
    wrangler = await startWrangler(out);
  });
  afterAll(async () => {
    console.log(`workerd tally (${RUNS} runs): ${JSON.stringify(Object.fromEntries([...tally].sort()))}`);
    await wrangler?.stop();
    rmSync(dirname(out), { recursive: true, force: true });
    rmSync(faults.dir, { recursive: true, force: true });
  });

  const target: Target = { runtime: 'workerd', fetch: (path, init) => wrangler.fetch(path, init) };
  reliabilityCases(() => target, { runs: RUNS, timeoutMs: 20_000, broken: () => faults.broken, healthy: () => faults.healthy, tally });
});
