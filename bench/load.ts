/**
 * Load test of the edge API over loopback HTTP: C concurrent keep-alive
 * clients send a mix of sample and density requests (and a few deliberately
 * bad ones) for a bounded time, against a real workerd under `wrangler dev`
 * and against the Node adapter in its own process. Reports the count of
 * 2xx/4xx/5xx and of failed requests (timeouts, resets), latency p50/p95/p99,
 * throughput, and the server's resident memory (RSS from /proc) sampled once a
 * second: at the start, the middle and the end, and the largest. Under
 * wrangler dev that is the worker's workerd process; wrangler's proxy workerd
 * is traced too. A 503 "worker restarted mid-request" is wrangler dev
 * reloading the worker because a watched file changed (others editing the
 * tree): counted apart as a dev reload.
 *
 *   npm run bench:load [-- --seconds 60 --clients 64 --targets workerd,node --json out.json]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Manifest, ModelIndex } from '../core/manifest';
import { Prng } from '../core/prng';
import { buildAssets } from '../edge/build-assets';
import { freePort, MODELS, ROOT, startWrangler } from '../edge/testing';
import { dataDim, importanceSampled } from '../core/protocol';
import { benchArgs } from './args';
import { findDescendants } from './common';

const HELP = `usage: npm run bench:load [-- options]
  --seconds S       load per target (default 60)
  --clients C       concurrent keep-alive clients (default 64)
  --targets LIST    workerd, node or both (default workerd,node)
  --json FILE       also write the results as JSON`;
const args = benchArgs(HELP, {
  seconds: { type: 'string', default: '60' },
  clients: { type: 'string', default: '64' },
  targets: { type: 'string', default: 'workerd,node' },
  json: { type: 'string' },
});
const SECONDS = Number(args.seconds);
const CLIENTS = Number(args.clients);
const TARGETS = args.targets.split(',').filter(Boolean);
const TIMEOUT_MS = 30_000;
const MAX_REQUESTS = 2_000_000; // a hard bound besides the time

const index = JSON.parse(readFileSync(join(MODELS, 'index.json'), 'utf8')) as ModelIndex;
const manifests = index.models.map((e) => JSON.parse(readFileSync(join(MODELS, e.id, 'manifest.json'), 'utf8')) as Manifest);
const dimOf = (m: Manifest) => dataDim(m);

interface Req {
  path: string;
  body: string;
  kind: string;
}

/** The request mix: 45% sample, 45% density, 10% invalid; image models get 1 in 10 of the valid ones, with small n. */
function nextRequest(rng: Prng): Req {
  const r = rng.uniform();
  const toys = manifests.filter((m) => m.shape.length === 1);
  const images = manifests.filter((m) => m.shape.length >= 2);
  const pickFrom = (list: Manifest[]) => list[Math.floor(rng.uniform() * list.length)];
  const m = images.length && rng.uniform() < 0.1 ? pickFrom(images) : pickFrom(toys);
  const D = dimOf(m);
  if (r < 0.1) {
    const bad = [
      { n: -1 },
      { n: 1, extra: true },
      { x: [[1, 2, 3]] },
      '{"n": 3,',
    ][Math.floor(rng.uniform() * 4)];
    return { path: `/v1/models/${m.id}/sample`, body: typeof bad === 'string' ? bad : JSON.stringify(bad), kind: 'invalid' };
  }
  const rows = m.shape.length >= 2 ? 1 + Math.floor(rng.uniform() * 4) : 1 + Math.floor(rng.uniform() * 64);
  if (r < 0.55 || !m.capabilities.includes('density')) {
    return { path: `/v1/models/${m.id}/sample`, body: JSON.stringify({ n: rows, seed: Math.floor(rng.uniform() * 1e6) }), kind: 'sample' };
  }
  const x: number[][] = [];
  for (let i = 0; i < rows; i++) {
    const row = new Array<number>(D);
    for (let j = 0; j < D; j++) row[j] = m.discrete ? Math.floor(rng.uniform() * 256) : (rng.uniform() - 0.5) * 4;
    x.push(row);
  }
  const k = importanceSampled(m) ? 1 + Math.floor(rng.uniform() * 16) : 1;
  return { path: `/v1/models/${m.id}/density`, body: JSON.stringify({ x, k: importanceSampled(m) ? k : undefined, seed: 1 }), kind: 'density' };
}

/** RSS in MiB of a process, from /proc/PID/status. */
function rssMiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}


const pct = (sorted: number[], p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : NaN);

interface Result {
  runtime: string;
  seconds: number;
  clients: number;
  requests: number;
  byStatus: Record<string, number>;
  byKind: Record<string, number>;
  failed: number;
  failures: string[];
  p50: number;
  p95: number;
  p99: number;
  max: number;
  rps: number;
  /** RSS of the process that runs the app (workerd's worker process, or the node server) */
  rss: { start: number; middle: number; end: number; max: number };
  /** RSS MiB once a second per watched process, first sample before the load */
  rssTrace: Record<string, number[]>;
  /** 503 "worker restarted mid-request": wrangler dev reloading the worker when a watched file changes */
  restarted: number;
}

async function load(base: string, runtime: string, watched: Record<string, number>): Promise<Result> {
  const main = Object.keys(watched)[0];
  // warm every model's sessions so the RSS at the start includes them
  const rng0 = new Prng(1);
  for (let i = 0; i < 200; i++) {
    const q = nextRequest(rng0);
    await (await fetch(base + q.path, { method: 'POST', body: q.body, headers: { 'content-type': 'application/json' } })).arrayBuffer();
  }
  const traces: Record<string, number[]> = Object.fromEntries(Object.keys(watched).map((k) => [k, [] as number[]]));
  const sample = () => {
    for (const [k, pid] of Object.entries(watched)) traces[k].push(rssMiB(pid));
  };
  sample();
  const sampler = setInterval(sample, 1000);
  let restarted = 0;
  const latencies: number[] = [];
  const byStatus: Record<string, number> = {};
  const byKind: Record<string, number> = {};
  const failures: string[] = [];
  let failed = 0;
  let sent = 0;
  const t0 = performance.now();
  const deadline = t0 + SECONDS * 1000;
  const client = async (c: number) => {
    const rng = new Prng(1000 + c);
    while (performance.now() < deadline && sent < MAX_REQUESTS) {
      sent++;
      const q = nextRequest(rng);
      byKind[q.kind] = (byKind[q.kind] ?? 0) + 1;
      const start = performance.now();
      try {
        const res = await fetch(base + q.path, {
          method: 'POST',
          body: q.body,
          headers: { 'content-type': 'application/json' },
          signal: AbortSignal.timeout(TIMEOUT_MS),
        });
        const text = await res.text();
        const cls = `${Math.floor(res.status / 100)}xx`;
        byStatus[cls] = (byStatus[cls] ?? 0) + 1;
        if (res.status === 503 && text.includes('restarted mid-request')) restarted++;
        if (res.status >= 500 && failures.length < 5) failures.push(`${res.status} ${q.path}: ${text.slice(0, 160)}`);
        if (q.kind !== 'invalid' && res.status !== 200 && failures.length < 5) failures.push(`${res.status} for a valid ${q.path}: ${text.slice(0, 160)}`);
      } catch (err) {
        failed++;
        if (failures.length < 5) failures.push(`${q.path}: ${(err as Error).message}`);
      }
      latencies.push(performance.now() - start);
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, (_, c) => client(c)));
  const elapsed = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  sample();
  const rss = traces[main];
  latencies.sort((a, b) => a - b);
  const r2 = (v: number) => Math.round(v * 100) / 100;
  return {
    runtime,
    seconds: r2(elapsed),
    clients: CLIENTS,
    requests: latencies.length,
    byStatus,
    byKind,
    failed,
    failures,
    p50: r2(pct(latencies, 0.5)),
    p95: r2(pct(latencies, 0.95)),
    p99: r2(pct(latencies, 0.99)),
    max: r2(latencies[latencies.length - 1]),
    rps: r2(latencies.length / elapsed),
    rss: { start: r2(rss[0]), middle: r2(rss[Math.floor(rss.length / 2)]), end: r2(rss[rss.length - 1]), max: r2(Math.max(...rss)) },
    rssTrace: Object.fromEntries(Object.entries(traces).map(([k, v]) => [k, v.map((x) => Math.round(x))])),
    restarted,
  };
}

async function onWorkerd(): Promise<Result> {
  const out = join(mkdtempSync(join(tmpdir(), 'edgegen-load-')), 'public');
  buildAssets({ web: join(ROOT, 'dist/web'), models: MODELS, out });
  const wrangler = await startWrangler(out);
  try {
    // two workerd: the user worker (its entry socket on port 0) and wrangler's proxy in front of it
    const all = findDescendants(/workerd(-linux-64)?\/bin\/workerd serve/);
    const worker = all.find((p) => p.cmd.includes('entry=127.0.0.1:0 '));
    const proxy = all.find((p) => p !== worker);
    if (!worker) throw new Error(`could not find the worker's workerd process under wrangler dev: ${all.map((p) => p.cmd.slice(0, 120)).join('; ')}`);
    return await load(wrangler.url, 'workerd (wrangler dev)', { worker: worker.pid, ...(proxy ? { proxy: proxy.pid } : {}) });
  } finally {
    await wrangler.stop();
    rmSync(dirname(out), { recursive: true, force: true });
  }
}

async function onNode(): Promise<Result> {
  const port = await freePort();
  // its own process, so its RSS is the server's alone (tsx as a loader: one process)
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'edge/node/server.ts')], {
    cwd: ROOT,
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', MODELS },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout!.on('data', (d) => (log += d));
  child.stderr!.on('data', (d) => (log += d));
  const base = `http://127.0.0.1:${port}`;
  try {
    const t0 = Date.now();
    for (;;) {
      if (child.exitCode !== null) throw new Error(`node server exited:\n${log}`);
      if (Date.now() - t0 > 60_000) throw new Error(`node server did not answer in 60 s:\n${log}`);
      try {
        if ((await fetch(`${base}/healthz`)).ok) break;
      } catch {
        /* not yet */
      }
      await new Promise((ok) => setTimeout(ok, 200));
    }
    return await load(base, 'node (@hono/node-server)', { node: child.pid! });
  } finally {
    child.kill('SIGTERM');
  }
}

const results: Result[] = [];
for (const t of TARGETS) {
  console.error(`${t}: ${CLIENTS} clients for ${SECONDS} s ...`);
  results.push(t === 'workerd' ? await onWorkerd() : await onNode());
  const { rssTrace: _trace, ...summary } = results[results.length - 1];
  console.error(JSON.stringify(summary));
}

console.log(`\n${CLIENTS} concurrent clients, ${SECONDS} s each, mixed sample/density (10% invalid on purpose), loopback HTTP\n`);
console.log('| runtime | requests | 2xx | 4xx | 5xx (dev reloads) | failed | req/s | p50 ms | p95 ms | p99 ms | max ms | server RSS MiB start / middle / end (max) |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
for (const r of results) {
  const s = (k: string) => r.byStatus[k] ?? 0;
  console.log(
    `| ${r.runtime} | ${r.requests} | ${s('2xx')} | ${s('4xx')} | ${s('5xx')} (${r.restarted}) | ${r.failed} | ${r.rps} | ${r.p50} | ${r.p95} | ${r.p99} | ${r.max} | ${r.rss.start} / ${r.rss.middle} / ${r.rss.end} (${r.rss.max}) |`,
  );
}
console.log('\nRSS MiB every 10 s (from the start of the load):');
for (const r of results) {
  for (const [k, v] of Object.entries(r.rssTrace)) console.log(`  ${r.runtime}, ${k}: ${v.filter((_, i) => i % 10 === 0).join(' ')} (end ${v[v.length - 1]})`);
}
for (const r of results) if (r.failures.length) console.log(`\n${r.runtime} failures (first ${r.failures.length}):\n  ${r.failures.join('\n  ')}`);
if (args.json) writeFileSync(args.json, JSON.stringify(results, null, 2));
// a 503 from wrangler dev reloading the worker (another file changed) is a dev-mode artifact, reported but not failed on
const bad = results.some((r) => (r.byStatus['5xx'] ?? 0) > r.restarted || r.failed > 0);
process.exit(bad ? 1 : 0);
