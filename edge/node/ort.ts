/** The one file that imports onnxruntime-node: a Runtime session over its CPU provider. */
import * as ort from 'onnxruntime-node';
import type { ModelSession, Tensor } from '../runtime';

export async function createNodeSession(bytes: Uint8Array): Promise<ModelSession> {
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'] });
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
  };
}
