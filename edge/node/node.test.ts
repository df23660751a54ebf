/** The shared request suite against the Node adapter, in process (app.request). */
import { describe } from 'vitest';
import { createApp } from '../app';
import { apiCases } from '../api.cases';
import { modelsWithCorruptCopy, type Target } from '../testing';
import { nodeRuntime } from './runtime';

describe('edge API on Node (onnxruntime-node)', () => {
  const { dir, corruptId } = modelsWithCorruptCopy();
  const app = createApp(nodeRuntime(dir));
  const target: Target = { runtime: 'node', fetch: async (path, init) => app.request(path, init) };
  apiCases(() => target, () => corruptId);
});
