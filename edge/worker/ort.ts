/**
 * The one file of the Worker that imports onnxruntime-web (wasm backend).
 *
 * Workers refuse to compile WebAssembly from bytes at run time, but a .wasm
 * file imported as a module arrives precompiled (wrangler's CompiledWasm
 * rule). onnxruntime-web insists on calling WebAssembly.instantiate(bytes), so
 * we hand it a few marker bytes as `wasmBinary` and, when exactly those bytes
 * come back to WebAssembly.instantiate, instantiate the precompiled module
 * instead. One thread: workerd has no SharedArrayBuffer workers.
 * Runs are queued: a wasm session must not run two requests at once.
 */
import * as ort from 'onnxruntime-web/wasm';
// wrangler's module collector resolves .wasm imports by path, not through package exports
import ortWasm from '../../node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.wasm';
import type { GraphInfo, Session } from '../engine';
import { optimisationFor, webSession } from './session';

const MARKER = new Uint8Array([0x00, 0x65, 0x64, 0x67, 0x65, 0x67, 0x65, 0x6e]); // "\0edgegen"

function isMarker(source: unknown): boolean {
  const bytes = ArrayBuffer.isView(source)
    ? new Uint8Array(source.buffer, source.byteOffset, source.byteLength)
    : source instanceof ArrayBuffer
      ? new Uint8Array(source)
      : null;
  return !!bytes && bytes.length === MARKER.length && bytes.every((b, i) => b === MARKER[i]);
}

/** onnxruntime's linear memory, once instantiated: what the isolate's 128 MB is mostly spent on. */
let wasmMemory: WebAssembly.Memory | undefined;

/** Bytes of onnxruntime's wasm memory (0 before the first session), for /healthz. */
export function wasmMemoryBytes(): number {
  return wasmMemory?.buffer.byteLength ?? 0;
}

let configured = false;
function configure(): void {
  if (configured) return;
  configured = true;
  const instantiate = WebAssembly.instantiate.bind(WebAssembly) as (s: unknown, i?: WebAssembly.Imports) => Promise<unknown>;
  (WebAssembly as { instantiate: unknown }).instantiate = async (source: unknown, imports?: WebAssembly.Imports) => {
    if (!isMarker(source)) return instantiate(source, imports);
    const instance = (await instantiate(ortWasm, imports)) as WebAssembly.Instance;
    // exported, or (the threaded build) imported by the module
    const candidates = [...Object.values(instance.exports), ...Object.values(imports ?? {}).flatMap((ns) => Object.values(ns as object))];
    wasmMemory = candidates.find((e): e is WebAssembly.Memory => e instanceof WebAssembly.Memory);
    return { module: ortWasm, instance };
  };
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.proxy = false;
  ort.env.wasm.wasmBinary = MARKER;
}

let queue: Promise<unknown> = Promise.resolve();
/** Run jobs one after another; a failed job does not block the next. */
function serialise<T>(job: () => Promise<T>): Promise<T> {
  const result = queue.then(job, job);
  queue = result.catch(() => undefined);
  return result;
}

/** A 77-byte ONNX graph (Identity on one float, opset 13), written with python3-onnx: opening it instantiates onnxruntime's wasm. */
const WARM_GRAPH = Uint8Array.from(atob('CAgSB2VkZ2VnZW46OgoQCgF4EgF5IghJZGVudGl0eRIEd2FybVoPCgF4EgoKCAgBEgQKAggBYg8KAXkSCgoICAESBAoCCAFCBAoAEA0='), (c) => c.charCodeAt(0));
let warming: Promise<void> | undefined;

/**
 * Instantiate onnxruntime's wasm now, not when the first model is opened: the
 * Worker calls this at global scope (worker/index.ts), as the isolate loads,
 * so no request waits for it; a model request that comes first anyway finds
 * it under way (the session queue runs after it).
 */
export function warmUp(): Promise<void> {
  configure();
  warming ??= serialise(async () => {
    const s = await ort.InferenceSession.create(WARM_GRAPH, { executionProviders: ['wasm'] });
    await s.release();
  }).catch((err) => console.error('onnxruntime warm-up failed:', err));
  return warming;
}

export async function createWebSession(bytes: Uint8Array, graph: GraphInfo): Promise<Session> {
  configure();
  const session = await serialise(() => ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], graphOptimizationLevel: optimisationFor(graph) }));
  return webSession(ort, session, serialise);
}
