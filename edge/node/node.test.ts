/** The shared suites against the Node adapter, in process (app.request). */
import { afterAll, describe } from 'vitest';
import { createApp } from '../app';
import { apiCases } from '../api.cases';
import { conformanceCases } from '../conformance.cases';
import { classesCases } from '../classes.cases';
import { dtypeCases } from '../dtype.cases';
import { scoreCases } from '../score.cases';
import { modelsWithCorruptCopy, type Target } from '../testing';
import { nodeRuntime } from './runtime';

const RUNS = Number(process.env.CONFORMANCE_RUNS ?? 60);

describe('edge API on Node (onnxruntime-node)', () => {
  const { dir, corruptId, remove } = modelsWithCorruptCopy();
  const app = createApp(nodeRuntime(dir));
  afterAll(remove);
  const target: Target = { runtime: 'node', fetch: async (path, init) => app.request(path, init) };
  apiCases(() => target, () => corruptId);
  scoreCases(() => target);
  classesCases(() => target, () => [corruptId]);
  dtypeCases(() => target, () => [corruptId]);

  const tally = new Map<string, number>();
  afterAll(() => console.log(`node conformance (${RUNS} runs per operation): ${JSON.stringify(Object.fromEntries([...tally].sort()))}`));
  conformanceCases(() => target, { runs: RUNS, skip: () => [corruptId], tally });
});
