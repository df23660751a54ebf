/** The few Worker types edgegen needs (@cloudflare/workers-types is not a dependency). */
declare module '*/ort-wasm-simd-threaded.wasm' {
  const module: WebAssembly.Module;
  export default module;
}

/** The static assets binding: fetch() answers files of dist/public. */
interface EdgegenAssetsBinding {
  fetch(request: Request | string): Promise<Response>;
}

interface EdgegenWorkerEnv {
  ASSETS: EdgegenAssetsBinding;
}
