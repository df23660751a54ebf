/**
 * The Cloudflare Worker: the edgegen app over onnxruntime-web wasm, models read
 * through the static assets binding (dist/public/models/, which also holds the
 * web client). wrangler.toml routes /v1/*, /healthz and /openapi.json here
 * first; everything else is a static file.
 */
import type { Hono } from 'hono';
import { createApp } from '../app';
import type { Runtime } from '../runtime';
import { createWebSession } from './ort';

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
  };
}

// One app per isolate, so sessions and manifests are cached across requests.
let app: Hono | undefined;

export default {
  fetch(request: Request, env: EdgegenWorkerEnv, ctx: unknown): Response | Promise<Response> {
    app ??= createApp(workerRuntime(env));
    return app.fetch(request, env, ctx as never);
  },
};
