/**
 * Serving speed of the edge API: latency p50/p95 and samples/s of
 * POST /v1/models/{id}/sample for n = 1, 64, 256, on the Worker under
 * `wrangler dev` (workerd + onnxruntime-web wasm, one thread) and on the Node
 * adapter (@hono/node-server + onnxruntime-node), both over loopback HTTP; and
 * the cold start of a fresh workerd: spawn -> first answer, and its first
 * model request (wasm instantiation + session creation).
 *   npm run bench:serve [-- --reps 40 --models id1,id2]
 */
import { serve } from '@hono/node-server';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { ModelIndex } from '../core/manifest';
import { buildAssets } from '../edge/build-assets';
import { nodeApp } from '../edge/node/serve';
import { freePort, MODELS, startWrangler } from '../edge/testing';
import { benchArgs } from './args';

const HELP = `usage: npm run bench:serve [-- options]
  --reps N          timed requests per runtime, model and n (default 30)
  --models ID,ID    shipped models to measure (default: one toy flow and the last image model)`;
const args = benchArgs(HELP, { reps: { type: 'string', default: '30' }, models: { type: 'string', default: '' } });
const reps = Number(args.reps);
const index = JSON.parse(readFileSync(join(MODELS, 'index.json'), 'utf8')) as ModelIndex;
const ids = args.models.split(',').filter(Boolean);
const models = ids.length ? ids : pickDefaults();
const NS = [1, 64, 256];

/** One toy flow and the largest image model, if present: the cheap and the expensive end. */
function pickDefaults(): string[] {
  const out: string[] = [];
  const toy = index.models.find((m) => m.family === 'flow' && m.shape.length === 1) ?? index.models[0];
  out.push(toy.id);
  const image = index.models.filter((m) => m.shape.length >= 2).pop();
  if (image) out.push(image.id);
  return out;
}

async function time(url: string, body: unknown): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(url, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  await res.arrayBuffer();
  if (!res.ok) throw new Error(`${url}: ${res.status}`);
  return performance.now() - t0;
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];

async function measure(base: string, runtime: string): Promise<string[]> {
  const rows: string[] = [];
  for (const id of models) {
    for (const n of NS) {
      const url = `${base}/v1/models/${id}/sample`;
      for (let i = 0; i < 3; i++) await time(url, { n, seed: i });
      const ms: number[] = [];
      for (let i = 0; i < reps; i++) ms.push(await time(url, { n, seed: 100 + i }));
      ms.sort((a, b) => a - b);
      const mean = ms.reduce((a, b) => a + b, 0) / ms.length;
      rows.push(`| ${runtime} | ${id} | ${n} | ${pct(ms, 0.5).toFixed(2)} | ${pct(ms, 0.95).toFixed(2)} | ${((n * 1000) / mean).toFixed(0)} |`);
      console.error(rows[rows.length - 1]);
    }
  }
  return rows;
}

const out = join(mkdtempSync(join(tmpdir(), 'edgegen-bench-')), 'public');
buildAssets({ web: '/nonexistent', models: MODELS, out });
const table = ['| runtime | model | n | p50 ms | p95 ms | samples/s |', '|---|---|---|---|---|---|'];

let coldLine = '';
const wrangler = await startWrangler(out);
try {
  const cold = await time(`${wrangler.url}/v1/models/${models[0]}/sample`, { n: 1, seed: 0 });
  console.error(`workerd: spawn -> first answer (/healthz) ${wrangler.readyMs} ms; first model request ${cold.toFixed(0)} ms`);
  table.push(...(await measure(wrangler.url, 'workerd (wrangler dev)')));
  coldLine = `Fresh workerd: ${wrangler.readyMs} ms from spawning wrangler dev to its first answer (/healthz); the first sample request to ${models[0]} then took ${cold.toFixed(0)} ms (onnxruntime-web init + sha256 + session creation).`;
} finally {
  await wrangler.stop();
  rmSync(dirname(out), { recursive: true, force: true });
}

const port = await freePort();
// the app as the Node server runs it (its JSON thread included)
const { app } = nodeApp(MODELS);
const server = serve({ fetch: app.fetch, port, hostname: '127.0.0.1' });
try {
  table.push(...(await measure(`http://127.0.0.1:${port}`, 'node (@hono/node-server)')));
} finally {
  server.close();
}

console.log(table.join('\n'));
console.log(`\n${coldLine}\n(${reps} sequential requests per row after 3 warm-up requests; loopback HTTP; samples/s = n / mean latency.)`);
