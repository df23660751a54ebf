/**
 * The one file of export/ that touches onnxruntime: load a graph from bytes and
 * run it on float32 inputs, in onnxruntime-node (the verifier's runtime) or, for
 * export/parity.ts, in onnxruntime-web's wasm build as the Worker and the page run it.
 */
import * as ort from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';

export interface Feed {
  [name: string]: { data: Float32Array; dims: number[] };
}
export type Fetched = Record<string, { data: Float32Array; dims: number[] }>;

export async function runGraph(bytes: Uint8Array, feed: Feed): Promise<Fetched> {
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, graphOptimizationLevel: 'all' });
  try {
    const inputs: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(feed)) inputs[name] = new ort.Tensor('float32', t.data, t.dims);
    const out = await session.run(inputs);
    const fetched: Fetched = {};
    for (const [name, t] of Object.entries(out)) {
      fetched[name] = { data: t.data as Float32Array, dims: [...t.dims] };
    }
    return fetched;
  } finally {
    await session.release();
  }
}

export interface GraphRuntime {
  /** onnxruntime-node (default) or onnxruntime-web's wasm backend, one thread */
  runtime?: 'node' | 'web';
  /** onnxruntime's graph optimisation level (default 'all', as the API runs graphs) */
  optimization?: 'disabled' | 'basic' | 'extended' | 'all';
}

/** A session kept open for several runs (graphs run many times, e.g. autoregressive sampling); release it after. */
export async function openGraph(bytes: Uint8Array, how: GraphRuntime = {}): Promise<{ run: (feed: Feed) => Promise<Fetched>; release: () => Promise<void> }> {
  const graphOptimizationLevel = how.optimization ?? 'all';
  if (how.runtime === 'web') ortWeb.env.wasm.numThreads = 1;
  const rt = how.runtime === 'web' ? ortWeb : ort;
  const session = how.runtime === 'web' ? await ortWeb.InferenceSession.create(bytes, { graphOptimizationLevel }) : await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, graphOptimizationLevel });
  return {
    run: async (feed) => {
      const inputs: Record<string, ort.Tensor> = {};
      for (const [name, t] of Object.entries(feed)) inputs[name] = new rt.Tensor('float32', t.data, t.dims) as ort.Tensor;
      const out = await session.run(inputs);
      const fetched: Fetched = {};
      for (const [name, t] of Object.entries(out)) fetched[name] = { data: t.data as Float32Array, dims: [...t.dims] };
      return fetched;
    },
    release: () => session.release(),
  };
}
