/**
 * An onnxruntime-web session as the engine's `Session`: float32 feeds in, the
 * outputs copied out of wasm memory before their tensors are released. Kept
 * apart from ort.ts, which imports the precompiled .wasm only wrangler can
 * resolve, so that bench/cpu.ts runs the Worker's own adapter in Node.
 */
import type * as ortWeb from 'onnxruntime-web/wasm';
import { feedData, type GraphInfo, type Session, type Tensor } from '../engine';

/**
 * onnxruntime's graph optimisation for a graph the Worker opens: all of it,
 * but none for an int8 copy. With it, onnxruntime folds the copy's int8
 * weights back to float32 as the session opens, which cost the image MADEs
 * (2.4 M weights) ~150 ms of their first answer in workerd, against ~2 ms of
 * dequantising in each run without it (edge/README, "Cold start of every
 * shipped model"); the answers are the same bits either way (session.test.ts).
 */
export function optimisationFor(graph: GraphInfo): 'all' | 'disabled' {
  return graph.precision === 'int8' ? 'disabled' : 'all';
}

/** `serialise` queues each call (a wasm session must not run two requests at once); default: call at once. */
export function webSession(
  ort: Pick<typeof ortWeb, 'Tensor'>,
  session: ortWeb.InferenceSession,
  serialise: <T>(job: () => Promise<T>) => Promise<T> = (job) => job(),
): Session {
  return {
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    run: (feeds, wanted) =>
      serialise(async () => {
        const inputs: Record<string, ortWeb.Tensor> = {};
        for (const [name, t] of Object.entries(feeds)) inputs[name] = new ort.Tensor('float32', feedData(t), t.dims);
        // only the outputs the caller reads, when it says which (no copy out of wasm memory for the rest)
        const outputs = wanted ? await session.run(inputs, [...wanted]) : await session.run(inputs);
        const result: Record<string, Tensor> = {};
        for (const [name, t] of Object.entries(outputs)) {
          // copy out of wasm memory before the tensor is released
          result[name] = { data: new Float32Array(t.data as Float32Array), dims: [...t.dims] };
          t.dispose();
        }
        return result;
      }),
    release: () => serialise(() => session.release()),
  };
}
