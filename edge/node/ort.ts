/** The one file that imports onnxruntime-node: a Runtime session over its CPU provider. */
import * as ort from 'onnxruntime-node';
import type { ModelSession, Tensor } from '../runtime';

/**
 * One intra-op thread per session (as the Python peer in bench/peer.py): the
 * process serves many requests at once and batching (edge/batch.ts) gives the
 * kernels their size; all graph optimisations on.
 */
export const SESSION_OPTIONS: ort.InferenceSession.SessionOptions = {
  executionProviders: ['cpu'],
  graphOptimizationLevel: 'all',
  intraOpNumThreads: 1,
};

export async function createNodeSession(bytes: Uint8Array): Promise<ModelSession> {
  const session = await ort.InferenceSession.create(bytes, SESSION_OPTIONS);
  return {
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    async run(feeds) {
      const inputs: Record<string, ort.Tensor> = {};
      for (const [name, t] of Object.entries(feeds)) inputs[name] = new ort.Tensor('float32', t.data, t.dims);
      const outputs = await session.run(inputs);
      const result: Record<string, Tensor> = {};
      for (const [name, t] of Object.entries(outputs)) {
        result[name] = { data: t.data as Float32Array, dims: [...t.dims] };
      }
      return result;
    },
    release: () => session.release(),
  };
}
