/**
 * What the Hono app needs from a runtime, and nothing more. The Worker adapter
 * (onnxruntime-web wasm in workerd, models from static assets) and the Node
 * adapter (onnxruntime-node, models from disk) each implement this; app.ts is
 * written once against it.
 */
/** A dense float32 tensor, row-major. */
export interface Tensor {
  data: Float32Array;
  dims: number[];
  /**
   * The caller will not read `data` after the run: a session may take its
   * buffer (Node hands it to the onnxruntime thread instead of copying it).
   */
  spare?: boolean;
}

export interface ModelSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /**
   * `stats.batch`, when given, is set to how many requests shared the run
   * (edge/batch.ts). `outputs`: the outputs the caller reads; a session may
   * return only those (absent: all).
   */
  run(feeds: Record<string, Tensor>, stats?: RunStats, outputs?: readonly string[]): Promise<Record<string, Tensor>>;
  /** Runs it can take at once (several onnxruntime threads); absent: 1, one after another. */
  readonly concurrency?: number;
  /** Free the session's native or wasm memory; it must not run afterwards. */
  release?(): Promise<void>;
}

export interface RunStats {
  batch: number;
  /** graph runs the request's rows took when split by maxRunRows (edge/batch.ts); 1 or unset: one */
  pieces?: number;
}

/** What /healthz reports of the process or isolate's memory, in bytes. */
export interface MemoryReport {
  /** onnxruntime's wasm linear memory (the Worker; it grows and never shrinks) */
  wasmBytes?: number;
  /** the JS heap in use, where the runtime tells it */
  jsHeapBytes?: number;
  /** resident set of the whole process (Node) */
  rssBytes?: number;
}

export interface Runtime {
  /** 'node' or 'workerd', reported by /healthz */
  readonly name: string;
  /**
   * Bytes of a file under the models root ('index.json', '<id>/manifest.json',
   * '<id>/sample.onnx'), or null when there is no such file.
   */
  loadBytes(path: string): Promise<Uint8Array | null>;
  /** Parse an ONNX model into a session ready to run. */
  createSession(bytes: Uint8Array): Promise<ModelSession>;
  /** Memory figures for /healthz and the bench. */
  memory?(): MemoryReport;
  /**
   * `before`, the JSON array of n rows of `width` float32 values (the bytes
   * float32.ts's JsonBytes.rows writes), then `after` (ASCII text around the
   * rows), written where the runtime likes (Node: a thread of its own for
   * large answers). The caller does not read `data` afterwards (a runtime may
   * take its buffer). Absent: written in line.
   */
  jsonRows?(data: Float32Array, n: number, width: number, before: string, after: string): Promise<Uint8Array>;
}
