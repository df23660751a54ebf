/**
 * The Cloudflare Worker: the edgegen app over onnxruntime-web wasm, models read
 * through the static assets binding (dist/public/models/, which also holds the
 * web client and /docs/ui/). wrangler.toml routes /v1/*, /healthz, /openapi.json
 * and /docs here first; everything else is a static file.
 */
import { createApp, EXPOSED_HEADERS } from '../app';
import { WORKER_SERVE, type Runtime, type ServeOptions } from '../engine';
import { createWebSession, warmUp, wasmMemoryBytes } from './ort';

// The assets binding only answers fetches; the host part of the URL is ignored.
const ASSET_ORIGIN = 'https://assets.local/models/';

function workerRuntime(env: EdgegenWorkerEnv): Runtime {
  return {
    name: 'workerd',
    async loadBytes(path) {
      const res = await env.ASSETS.fetch(new Request(ASSET_ORIGIN + path));
      if (res.status === 404) return null;
      if (!res.ok) throw new Error(`assets answered ${res.status} for models/${path}`);
      return new Uint8Array(await res.arrayBuffer());
    },
    createSession: createWebSession,
    memory: () => ({ wasmBytes: wasmMemoryBytes() }),
  };
}


/**
 * Requests that run a model (POST /v1/...) count against Cloudflare's
 * rate-limiting binding when wrangler.toml declares one (RATE_LIMITER), keyed by
 * the client's address; over the limit answers 429 in the API's error shape.
 * Without the binding (the default, and local dev) nothing is limited.
 */
async function rateLimited(request: Request, env: EdgegenWorkerEnv): Promise<Response | null> {
  if (!env.RATE_LIMITER || request.method !== 'POST' || !new URL(request.url).pathname.startsWith('/v1/')) return null;
  const key = request.headers.get('cf-connecting-ip') ?? 'anonymous';
  const { success } = await env.RATE_LIMITER.limit({ key });
  if (success) return null;
  const body = { error: { code: 'rate_limited', message: 'too many requests from this address; retry in a minute' } };
  return new Response(JSON.stringify(body), {
    status: 429,
    headers: {
      'content-type': 'application/json',
      'retry-after': '60',
      'access-control-allow-origin': '*',
      'access-control-expose-headers': EXPOSED_HEADERS.join(','),
      'server-timing': 'parse;dur=0, noise;dur=0, run;dur=0, encode;dur=0',
    },
  });
}

/**
 * The Worker's fetch handler, with the engine's bounds (`serve`) over the
 * Worker's own: one wasm thread gains only from batching small requests
 * (batchAloneFromRows 16), runs of at most 256 rows (the default runMaxRows)
 * keep the wasm memory's high-water mark down, and 12 MiB of open model files lets one
 * 10 MB image MADE graph stay open at a time: two of them open at once took
 * the isolate past its 128 MB (SERVING.md, "Dynamic batching"). Tests
 * and benchmarks build an entry of their own with other bounds
 * (testing.ts workerEntry).
 */
export function worker(serve: Partial<ServeOptions> = {}) {
  // one app per isolate, so sessions and manifests are cached across requests
  let app: ReturnType<typeof createApp> | undefined;
  return {
    async fetch(request: Request, env: EdgegenWorkerEnv, ctx: unknown): Promise<Response> {
      const limited = await rateLimited(request, env);
      if (limited) return limited;
      app ??= createApp(workerRuntime(env), { serve: { ...WORKER_SERVE, ...serve } });
      return app.fetch(request, env, ctx as never);
    },
  };
}

// onnxruntime's instantiation (~300 ms of CPU) runs as the isolate loads, at
// global scope, which Cloudflare runs before the first request arrives (while
// it completes the TLS handshake) and wrangler dev when workerd starts, not in
// the first request's time (SERVING.md, "Cold start")
void warmUp();

export default worker();
