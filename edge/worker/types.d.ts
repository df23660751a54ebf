/** The few Worker types edgegen needs (@cloudflare/workers-types is not a dependency). */
declare module '*/ort-wasm-simd-threaded.wasm' {
  const module: WebAssembly.Module;
  export default module;
}

/** The static assets binding: fetch() answers files of dist/public. */
interface EdgegenAssetsBinding {
  fetch(request: Request | string): Promise<Response>;
}

/** Cloudflare's rate-limiting binding ([[ratelimits]] in wrangler.toml). */
interface EdgegenRateLimit {
  limit(options: { key: string }): Promise<{ success: boolean }>;
}

interface EdgegenWorkerEnv {
  ASSETS: EdgegenAssetsBinding;
  /** optional: present only when wrangler.toml declares it */
  RATE_LIMITER?: EdgegenRateLimit;
}
