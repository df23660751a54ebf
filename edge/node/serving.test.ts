/** The serving suite (serving.cases.ts) against the Node adapter, in process, real onnxruntime-node. */
import { describe } from 'vitest';
import { createApp } from '../app';
import { SERVING_TEST_OPTIONS, servingCases } from '../serving.cases';
import { MODELS, type Target } from '../testing';
import { nodeRuntime } from './runtime';

describe('serving on Node (onnxruntime-node)', () => {
  const app = createApp(nodeRuntime(MODELS), { serve: SERVING_TEST_OPTIONS });
  const target: Target = { runtime: 'node', fetch: async (path, init) => app.request(path, init) };
  servingCases(() => target);
});
