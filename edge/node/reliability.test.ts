/**
 * Hostile input, the work budget and broken models against the Node adapter,
 * in process (app.request): the many-run half of the fuzzing.
 */
import { rmSync } from 'node:fs';
import { afterAll, describe } from 'vitest';
import { createApp } from '../app';
import { modelsWithFaults, reliabilityCases } from '../reliability.cases';
import type { Target } from '../testing';
import { nodeRuntime } from './runtime';

const RUNS = Number(process.env.FUZZ_RUNS ?? 2000);

describe('edge reliability on Node (onnxruntime-node)', () => {
  const faults = modelsWithFaults();
  const app = createApp(nodeRuntime(faults.dir));
  const target: Target = { runtime: 'node', fetch: async (path, init) => app.request(path, init) };
  const tally = new Map<string, number>();
  afterAll(() => {
    console.log(`node tally (${RUNS} runs): ${JSON.stringify(Object.fromEntries([...tally].sort()))}`);
    rmSync(faults.dir, { recursive: true, force: true });
  });
  reliabilityCases(() => target, { runs: RUNS, timeoutMs: 10_000, broken: () => faults.broken, healthy: () => faults.healthy, tally });
});
