/**
 * Helpers of bench/peer.ts: servers in child processes, a keep-alive HTTP load
 * generator on node:http (cheaper per request than fetch, so the client steals
 * less of a small machine's CPU), process CPU time from /proc, and the Worker's
 * cold start.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import type { z } from 'zod';
import type { ModelList } from '../core/contract';
import { freePort, ROOT, startWrangler } from '../edge/testing';
import { findDescendants } from './common';
import type { Case } from './peer';

export interface Server {
  name: string;
  url: string;
  /** the process whose CPU time is counted */
  pid: number;
  stop(): Promise<void>;
}

/** Spawn a server ('{port}' in args or env is replaced by a free port); resolves once /healthz answers. */
export async function startProcess(name: string, cmd: string, args: string[], env: Record<string, string>): Promise<Server> {
  const port = String(await freePort());
  const fill = (s: string) => s.replace('{port}', port);
  const child: ChildProcess = spawn(cmd, args.map(fill), {
    cwd: ROOT,
    env: { ...process.env, ...Object.fromEntries(Object.entries(env).map(([k, v]) => [k, fill(v)])) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout!.on('data', (d) => (log += d));
  child.stderr!.on('data', (d) => (log += d));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((ok) => child.once('exit', ok));
    child.kill('SIGTERM');
    await Promise.race([exited, new Promise((ok) => setTimeout(ok, 5000))]);
  };
  const t0 = Date.now();
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited:\n${log}`);
    if (Date.now() - t0 > 60_000) {
      await stop();
      throw new Error(`${name} did not answer in 60 s:\n${log}`);
    }
    try {
      if ((await fetch(`${url}/healthz`)).ok) break;
    } catch {
      /* not yet */
    }
    await new Promise((ok) => setTimeout(ok, 200));
  }
  return { name, url, pid: child.pid!, stop };
}

/** CPU ms (user + system) a process has used, from /proc/PID/stat; NaN when it cannot be read. */
export function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime, stime in clock ticks (USER_HZ = 100 on Linux)
  } catch {
    return NaN;
  }
}

/**
 * CPU ms the process has used, summed over its live threads from
 * /proc/PID/task/TID/schedstat (ns): precise enough for one request, where
 * cpuMs counts 10 ms ticks. NaN when it cannot be read.
 */
export function threadCpuMs(pid: number): number {
  const { main, others } = threadCpuSplit(pid);
  return main + others;
}

/** threadCpuMs in two parts: the main thread's (the one whose id is the process's) and the other threads' together. */
export function threadCpuSplit(pid: number): { main: number; others: number } {
  const byThread = threadCpu(pid);
  if (!byThread) return { main: NaN, others: NaN };
  let others = 0;
  for (const [tid, ms] of byThread) if (tid !== pid) others += ms;
  return { main: byThread.get(pid) ?? 0, others };
}

/** CPU ms of each live thread of a process, by thread id (/proc/PID/task/TID/schedstat); undefined when the process cannot be read. */
export function threadCpu(pid: number): Map<number, number> | undefined {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return undefined;
  }
  const out = new Map<number, number>();
  for (const tid of tids) {
    try {
      out.set(Number(tid), Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]) / 1e6);
    } catch {
      /* the thread ended between the listing and the read */
    }
  }
  return out;
}

/** The workerd that runs the user Worker under the wrangler dev this process started (not wrangler's proxy workerd). */
export function findWorkerd(): number {
  return findDescendants(/workerd(-linux-64)?\/bin\/workerd serve/).find((p) => p.cmd.includes('entry=127.0.0.1:0 '))?.pid ?? NaN;
}

export interface LoadResult {
  requests: number;
  requestsPerSecond: number;
  errors: number;
  firstError?: string;
}

/** `clients` keep-alive connections, each sending the case back to back for `seconds`; after a 1 s warm-up. */
export async function runLoad(base: string, c: Case, clients: number, seconds: number): Promise<LoadResult> {
  const { hostname, port } = new URL(base);
  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  const body = typeof c.body === 'string' ? Buffer.from(c.body) : Buffer.from(c.body.buffer, c.body.byteOffset, c.body.byteLength);
  let errors = 0;
  let firstError: string | undefined;
  const once = () =>
    new Promise<number>((ok, fail) => {
      const req = request({ hostname, port, path: c.path, method: 'POST', agent, headers: { ...c.headers, 'content-length': body.length } }, (res) => {
        let head = '';
        res.on('data', (d: Buffer) => {
          if (res.statusCode !== 200 && head.length < 200) head += d.toString('utf8', 0, 200);
        });
        res.on('end', () => {
          if (res.statusCode !== 200) firstError ??= `HTTP ${res.statusCode} ${head.slice(0, 120)}`;
          ok(res.statusCode ?? 0);
        });
        res.on('error', fail);
      });
      req.on('error', fail);
      req.end(body);
    });
  const loop = async (until: number, count: { n: number }) => {
    while (performance.now() < until) {
      try {
        const status = await once();
        if (status === 200) count.n++;
        else errors++;
      } catch (err) {
        errors++;
        firstError ??= (err as Error).message;
      }
    }
  };
  const warm = { n: 0 };
  await Promise.all(Array.from({ length: clients }, () => loop(performance.now() + 1000, warm)));
  errors = 0;
  firstError = undefined;
  const count = { n: 0 };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: clients }, () => loop(t0 + seconds * 1000, count)));
  const elapsed = (performance.now() - t0) / 1000;
  agent.destroy();
  return { requests: count.n, requestsPerSecond: count.n / elapsed, errors, firstError };
}

/**
 * A fresh wrangler dev per trial: ms from sending the isolate's first model
 * request (n=1) to its whole answer. Then, on another fresh wrangler dev per
 * trial, the same model file fetched alone as a static asset: what wrangler
 * dev's local asset server spends handing the file over (measured at ~45 ms of
 * CPU per MB on this machine; Cloudflare serves assets from its own store), so
 * the first figure can be read with and without it.
 */
export async function coldStart(assets: string, ids: string[], trials: number): Promise<{ id: string; median: number; all: number[]; timing: string; assetMedian: number; assetBytes: number }[]> {
  const out = [];
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
  for (const id of ids) {
    const all: number[] = [];
    const asset: number[] = [];
    let timing = '';
    let assetBytes = 0;
    for (let t = 0; t < trials; t++) {
      // ready when a static file answers: the model request is the isolate's very first
      const w = await startWrangler(assets, 90_000, [], '/models/index.json');
      try {
        const t0 = performance.now();
        const res = await fetch(`${w.url}/v1/models/${id}/sample?format=f32`, { method: 'POST', body: JSON.stringify({ n: 1, seed: t }), headers: { 'content-type': 'application/json' } });
        await res.arrayBuffer();
        all.push(performance.now() - t0);
        timing = res.headers.get('server-timing') ?? '';
        if (res.status !== 200) throw new Error(`${id}: HTTP ${res.status}`);
      } finally {
        await w.stop();
      }
      const a = await startWrangler(assets, 90_000, [], '/models/index.json');
      try {
        const t0 = performance.now();
        const res = await fetch(`${a.url}/models/${id}/sample.onnx`);
        assetBytes = (await res.arrayBuffer()).byteLength;
        asset.push(performance.now() - t0);
        if (res.status !== 200) throw new Error(`${id}/sample.onnx: HTTP ${res.status}`);
      } finally {
        await a.stop();
      }
    }
    out.push({ id, median: median(all), all, timing, assetMedian: median(asset), assetBytes });
  }
  return out;
}

/**
 * The worst mix: every operation of every model at the largest request the server lists for it (GET /v1/models `limits`), then /healthz.
 * `smallest`: the same operations at one row (k = 1), so what stays is the open sessions rather than the runs' buffers.
 */
export async function worstMix(url: string, smallest = false, trace = false): Promise<{ health: unknown; errors: string[]; growth: string[] }> {
  const wasm = async () => ((await (await fetch(`${url}/healthz`)).json()) as { memory?: { wasmBytes?: number } }).memory?.wasmBytes ?? 0;
  const growth: string[] = [];
  let last = trace ? await wasm() : 0;
  const index = (await (await fetch(`${url}/v1/models`)).json()) as z.infer<typeof ModelList>;
  const errors: string[] = [];
  for (const m of index.models) {
    const D = m.shape.reduce((a, b) => a * b, 1);
    const rows = (r: number) => Array.from({ length: r }, () => new Array(D).fill(1));
    const reqs: [string, unknown][] = [];
    const most = (limit: number) => (smallest ? 1 : limit);
    if (m.operations.includes('sample')) reqs.push(['sample', { n: most(m.limits.sample), seed: 1 }]);
    // an importance-sampled density spends its budget on K: one row at the largest K
    if (m.operations.includes('density')) reqs.push(['density', m.limits.k ? { x: rows(1), k: most(m.limits.k) } : { x: rows(most(m.limits.rows)) }]);
    if (m.operations.includes('encode')) reqs.push(['encode', { x: rows(most(m.limits.rows)) }]);
    for (const [what, body] of reqs) {
      const res = await fetch(`${url}/v1/models/${m.id}/${what}?format=f32`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
      if (res.status !== 200) errors.push(`${m.id}/${what}: ${res.status} ${(await res.text()).slice(0, 120)}`);
      else await res.arrayBuffer();
      if (trace) {
        const now = await wasm();
        if (now > last) growth.push(`${m.id}/${what} +${((now - last) / 2 ** 20).toFixed(1)} MiB`);
        last = now;
      }
    }
  }
  return { health: await (await fetch(`${url}/healthz`)).json(), errors, growth };
}

/**
 * The servers of one round of a measurement in turns: in order on even
 * rounds, reversed on odd ones, so no server always runs first: the
 * machine's speed drifts within a round, and with a fixed order one server
 * would always take the same part of it. Measured here: `bench/memory.ts
 * '' arena=1` and `arena=1 ''` put the conv VAE 1.11x and 0.84x, the 2-D
 * flow 1.06x and 0.87x (edge/SERVING.md, "Node's resident memory").
 */
export function turnOrder<T>(servers: readonly T[], round: number): T[] {
  return round % 2 ? [...servers].reverse() : [...servers];
}
