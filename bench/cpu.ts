/**
 * The Worker's CPU ms per request, what Cloudflare bills, for every shipped
 * model and every row-taking endpoint it answers (sample, density, score,
 * classify), at a few request sizes, against the Free plan's 10 ms. A
 * benchmark, not a test.
 *
 *   npm run bench:cpu [-- --rows 1,16,64 --reps 21 --warm 20 --models id,id --accept-encoding identity]
 *
 * One `wrangler dev`; requests one after another over loopback, JSON bodies
 * (rows of density, score and classify: the model's own data set's first test
 * rows), answers asked for with `accept-encoding: identity`: when the client
 * accepts gzip, wrangler dev's entry worker (miniflare) compresses JSON
 * answers inside the user Worker's workerd process, standing in for the
 * compression Cloudflare's front line does outside the Worker, so its CPU
 * would count here and not there (`--accept-encoding gzip` shows how much;
 * edge/README). Per request, the CPU time the user Worker's workerd process spent
 * (the sum over its threads of /proc/PID/task/TID/schedstat, in ns: the
 * process's /proc stat counts 10 ms ticks, as coarse as the limit itself);
 * the median over `--reps` requests after at least `--warm` untimed ones
 * (the first opens the session), and after as many more as it takes the
 * threads of workerd other than its main one to go quiet: over a model's first
 * tens of requests a V8 background thread spends up to ~15 ms more on each,
 * fading after (by all signs V8's optimising tier compiling the newly hot wasm
 * kernels), a cost of an isolate's first requests rather than of each.
 * workerd's share also holds its HTTP handling of the
 * request from wrangler's proxy, which Cloudflare does not bill, so this
 * over-counts by that much.
 *
 * `--in-process` also runs the same requests, in turns with workerd's, through
 * the Worker's code path in this process: the app of edge/app.ts with the
 * Worker's bounds (engine.ts WORKER_SERVE) on onnxruntime-web's wasm build,
 * one thread, as the Worker runs it; its CPU is this process's (user +
 * system) over the request. That leaves out workerd's HTTP handling and
 * wrangler's proxy, and V8 runs under Node's settings, not workerd's: a
 * lower bound on what Cloudflare bills, beside workerd's upper one.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import * as ortWeb from 'onnxruntime-web/wasm';
import type { z } from 'zod';
import type { ModelList } from '../core/contract';
import { createApp } from '../edge/app';
import { buildAssets } from '../edge/build-assets';
import { WORKER_SERVE, type GraphInfo, type Runtime, type Session } from '../edge/engine';
import { optimisationFor, webSession } from '../edge/worker/session';
import { startWrangler } from '../edge/testing';
import { loadDataset } from '../train/data';
import { benchArgs } from './args';
import { log, machine, MODELS_DIR, table } from './common';
import { findWorkerd, threadCpuMs, threadCpuSplit } from './peerlib';

const HELP = `usage: npm run bench:cpu [-- options]
  --rows LIST     rows per request (sample: n) (default 1,16,64)
  --reps R        timed requests per cell, median kept (default 21)
  --warm W        untimed requests before them at least (default 20); more until workerd's other threads settle
  --models LIST   only these shipped models (default: all of models/index.json)
  --in-process    also the Worker's code path in this process (onnxruntime-web wasm), in turns
  --accept-encoding E  the requests' accept-encoding (default identity; 'gzip' adds what wrangler dev's
                  stand-in for Cloudflare's front-line compression costs in the Worker's process)`;
const args = benchArgs(HELP, {
  rows: { type: 'string', default: '1,16,64' },
  reps: { type: 'string', default: '21' },
  warm: { type: 'string', default: '20' },
  models: { type: 'string' },
  'in-process': { type: 'boolean' },
  'accept-encoding': { type: 'string', default: 'identity' },
});
const IN_PROCESS = !!args['in-process'];
const ROWS = args.rows.split(',').map(Number);
const REPS = Number(args.reps);
const WARM = Number(args.warm);
const ACCEPT_ENCODING = args['accept-encoding'];
const ONLY = args.models?.split(',').filter(Boolean);
/** Cloudflare Workers Free plan: CPU ms per request */
const FREE_MS = 10;
const ENDPOINTS = ['sample', 'density', 'score', 'classify'] as const;

type Entry = z.infer<typeof ModelList>['models'][number];

/** The first `rows` test rows of the model's data set, as JSON's number[][]. */
const datasets = new Map<string, ReturnType<typeof loadDataset>>();
function testRows(m: Entry, rows: number): number[][] {
  const d = datasets.get(m.dataset) ?? datasets.set(m.dataset, loadDataset(m.dataset)).get(m.dataset)!;
  const D = m.shape.reduce((a, b) => a * b, 1);
  return Array.from({ length: rows }, (_, i) => Array.from(d.test.subarray((i % d.nTest) * D, (i % d.nTest + 1) * D)));
}

/** Most untimed requests a cell sends while waiting for workerd's other threads to go quiet. */
const MAX_WARM = 150;
/** Other threads' CPU ms per request below which a cell counts as settled (their median over the last 5). */
const SETTLED_MS = 0.5;

/**
 * One cell: the median CPU ms of the workerd process per request, or why there
 * is none. The untimed requests go on past `--warm` until the CPU of workerd's
 * threads other than its main one (the isolate's) settles, so the figure is a
 * warm isolate's, not one still compiling. wrangler dev restarts workerd when
 * the Worker's sources change; a cell that sees its process go starts again
 * on the new one.
 */
async function measure(url: string, path: string, body: ((i: number) => unknown) | null): Promise<number | string> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const pid = findWorkerd();
    const ms: number[] = [];
    const background: number[] = [];
    const settled = () => background.length >= 5 && background.slice(-5).sort((a, b) => a - b)[2] < SETTLED_MS;
    let warm = 0;
    for (let i = 0; ms.length < REPS; i++) {
      const init: RequestInit = body ? { method: 'POST', body: JSON.stringify(body(i)), headers: { 'content-type': 'application/json', 'accept-encoding': ACCEPT_ENCODING } } : { headers: { 'accept-encoding': ACCEPT_ENCODING } };
      const before = threadCpuSplit(pid);
      const res = await fetch(url + path, init);
      const answer = await res.text();
      const after = threadCpuSplit(pid);
      if (res.status !== 200) return `HTTP ${res.status} ${/"code":"([^"]*)"/.exec(answer)?.[1] ?? ''}`.trim();
      const spent = after.main + after.others - before.main - before.others;
      if (!Number.isFinite(spent)) break;
      if (warm < WARM || (!settled() && warm < MAX_WARM)) {
        background.push(after.others - before.others);
        warm++;
      } else ms.push(spent);
    }
    if (ms.length < REPS) continue;
    if (warm > WARM) log(`  ${path}: ${warm} untimed requests before workerd's other threads settled${settled() ? '' : ' (they had not at the cap)'}`);
    ms.sort((a, b) => a - b);
    return ms[Math.floor(ms.length / 2)];
  }
  return 'workerd restarted in every attempt';
}

/** A session of onnxruntime-web's wasm build, one thread, through the Worker's adapter (without ort.ts's precompiled-module shim, which only workerd needs). */
async function nodeWebSession(bytes: Uint8Array, graph: GraphInfo): Promise<Session> {
  ortWeb.env.wasm.numThreads = 1;
  return webSession(ortWeb, await ortWeb.InferenceSession.create(bytes, { executionProviders: ['wasm'], graphOptimizationLevel: optimisationFor(graph) }));
}

/** The Worker's app in this process, reading models/ from disk. */
function inProcessApp(): ReturnType<typeof createApp> {
  const runtime: Runtime = {
    name: 'workerd',
    loadBytes: async (path) => {
      const file = join(MODELS_DIR, path);
      return existsSync(file) ? new Uint8Array(readFileSync(file)) : null;
    },
    createSession: nodeWebSession,
    memory: () => ({}),
  };
  return createApp(runtime, { serve: WORKER_SERVE });
}

/** One cell in process: the median CPU ms (user + system) of this process per request. */
async function measureInProcess(app: ReturnType<typeof createApp>, path: string, body: (i: number) => unknown): Promise<number | string> {
  const ms: number[] = [];
  for (let i = 0; i < WARM + REPS; i++) {
    const text = JSON.stringify(body(i));
    const before = process.cpuUsage();
    const res = await app.request(path, { method: 'POST', body: text, headers: { 'content-type': 'application/json' } });
    const answer = await res.text();
    const spent = process.cpuUsage(before);
    if (res.status !== 200) return `HTTP ${res.status} ${/"code":"([^"]*)"/.exec(answer)?.[1] ?? ''}`.trim();
    if (i >= WARM) ms.push((spent.user + spent.system) / 1000);
  }
  ms.sort((a, b) => a - b);
  return ms[Math.floor(ms.length / 2)];
}

async function main() {
  const out = join(mkdtempSync(join(tmpdir(), 'edgegen-cpu-')), 'public');
  buildAssets({ web: '/nonexistent', models: MODELS_DIR, out });
  const w = await startWrangler(out);
  const local = IN_PROCESS ? inProcessApp() : undefined;
  const rows: string[][] = [];
  let floor: number | string = 'not measured';
  try {
    if (!Number.isFinite(threadCpuMs(findWorkerd()))) throw new Error('could not find the user Worker\'s workerd process, or read its /proc/PID/task/*/schedstat');
    // the floor under every cell: a request the app answers from memory (HTTP, wrangler dev's entry worker, routing)
    floor = await measure(w.url, '/healthz', null);
    const index = (await (await fetch(`${w.url}/v1/models`)).json()) as z.infer<typeof ModelList>;
    const models = index.models.filter((m) => !ONLY || ONLY.includes(m.id));
    for (const id of ONLY ?? []) if (!models.some((m) => m.id === id)) throw new Error(`no shipped model "${id}"`);
    for (const m of models) {
      for (const op of ENDPOINTS.filter((e) => m.operations.includes(e))) {
        const cells: string[] = [];
        const fit: number[] = [];
        const show = (r: number | string) => (typeof r === 'string' ? r : r >= 100 ? r.toFixed(0) : r.toFixed(1));
        for (const n of ROWS) {
          const limit = op === 'sample' ? m.limits.sample : m.limits.rows;
          const x = op === 'sample' ? [] : testRows(m, n);
          const path = `/v1/models/${m.id}/${op}`;
          const body = (i: number) => (op === 'sample' ? { n, seed: i } : { x, seed: i });
          const r = n > limit ? `over the limit (${limit})` : await measure(w.url, path, body);
          const inProcess = local && n <= limit ? await measureInProcess(local, path, body) : undefined;
          cells.push(inProcess === undefined ? show(r) : `${show(r)} / ${show(inProcess)}`);
          if (typeof r === 'number' && r <= FREE_MS) fit.push(n);
          log(`${m.id} ${op} ${n}: ${cells.at(-1)}`);
        }
        rows.push([m.id, op, ...cells, fit.length ? fit.join(', ') : 'none']);
      }
    }
  } finally {
    await w.stop();
    rmSync(dirname(out), { recursive: true, force: true });
  }
  console.log(`\n### Worker CPU ms per request (workerd under wrangler dev${IN_PROCESS ? ' / the same code path in process' : ''}; median of ${REPS} sequential requests after ${WARM} warm-up; JSON bodies; accept-encoding: ${ACCEPT_ENCODING})\n`);
  console.log(`Machine: ${machine()}\n`);
  console.log(`The floor under every cell, a GET /healthz (answered from memory: workerd's HTTP handling, wrangler dev's entry worker, the app's routing): ${typeof floor === 'number' ? floor.toFixed(1) : floor} ms\n`);
  console.log(table(['model', 'endpoint', ...ROWS.map((n) => `${n} row${n === 1 ? '' : 's'} ms`), `rows that fit the Free plan (${FREE_MS} ms, workerd's figure)`], rows));
}

await main();
