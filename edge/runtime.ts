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
}

export interface ModelSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, Tensor>): Promise<Record<string, Tensor>>;
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
}
