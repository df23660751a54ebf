/**
 * CPU per request on the Node server, thread by thread, beside the Python
 * peer's: one client, requests one after another (so a figure is the work of
 * one request, not a queue's), each server measured in turns. Where the
 * throughput table of bench:peer says who is faster, this says where each
 * one's time goes: Node's main thread (HTTP, schemas, noise, batching, the
 * answer's write) and its onnxruntime threads (the graph, and what a run
 * costs beyond it), against the peer process's total.
 *
 *   npx tsx bench/percpu.ts [--python <venv>/bin/python] [--requests 400] [--rounds 2]
 *     [--cases dcgan-mnist@64,vae-conv-mnist@64] [--format f32|json] [--node-options '{"runtime":{"ortThread":false}}'] [--node-env K=V,K=V]
 *
 * Per request: the sum over the server's threads of /proc/PID/task/TID/schedstat
 * (ns) over `--requests` requests after 50 untimed ones; the best of `--rounds`.
 * `--node-options` and/or `--node-env` add a second Node server with those
 * options (bench/node-server.ts) and environment, so two configurations are
 * measured side by side.
 */
import { join } from 'node:path';
import { benchArgs } from './args';
import { log, machine, MODELS_DIR, ROOT, table } from './common';
import { startProcess, threadCpu, turnOrder, type Server } from './peerlib';

const args = benchArgs(
  'npx tsx bench/percpu.ts [--python PATH] [--requests N] [--rounds N] [--cases id@n,...] [--format f32|json] [--node-options JSON] [--node-env K=V,K=V]',
  { python: { type: 'string' }, 'node-env': { type: 'string' }, requests: { type: 'string', default: '400' }, rounds: { type: 'string', default: '2' }, cases: { type: 'string', default: 'dcgan-mnist@64,vae-conv-mnist@64,flow-realnvp-ms-mnist@64' }, format: { type: 'string', default: 'f32' }, 'node-options': { type: 'string' } },
);
const requests = Number(args.requests);
if (args.format !== 'f32' && args.format !== 'json') throw new Error(`--format is f32 or json, got '${args.format}'`);
const format = args.format;
const rounds = Number(args.rounds);
const cases = args.cases.split(',').map((c) => {
  const [id, n] = c.split('@');
  return { id, n: Number(n ?? 64) };
});

interface Figure {
  wall: number;
  total: number;
  main: number;
  busiest: number;
}

async function measure(s: Server, id: string, n: number): Promise<Figure> {
  const url = `${s.url}/v1/models/${id}/sample?format=${format}`;
  const body = JSON.stringify({ n, seed: 1 });
  const one = async () => {
    const res = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    if (res.status !== 200) throw new Error(`${s.name} ${id}: HTTP ${res.status} ${await res.text()}`);
    await res.arrayBuffer();
  };
  for (let i = 0; i < 50; i++) await one();
  const before = threadCpu(s.pid) ?? new Map<number, number>();
  const t0 = performance.now();
  for (let i = 0; i < requests; i++) await one();
  const wall = (performance.now() - t0) / requests;
  const after = threadCpu(s.pid) ?? new Map<number, number>();
  const per = [...after].map(([tid, ms]) => ({ tid, ms: (ms - (before.get(tid) ?? 0)) / requests }));
  const others = per.filter((t) => t.tid !== s.pid).sort((a, b) => b.ms - a.ms);
  return { wall, total: per.reduce((a, t) => a + t.ms, 0), main: per.find((t) => t.tid === s.pid)?.ms ?? NaN, busiest: others[0]?.ms ?? 0 };
}

const servers: Server[] = [];
const node = (name: string, options: string, env: Record<string, string> = {}) =>
  startProcess(name, process.execPath, ['--import', 'tsx', join(ROOT, 'bench/node-server.ts'), options], { PORT: '{port}', MODELS: MODELS_DIR, ...env });
try {
  servers.push(await node('node', '{}'));
  if (args['node-options'] || args['node-env']) {
    const env = Object.fromEntries((args['node-env'] ?? '').split(',').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
    servers.push(await node(`node ${[args['node-options'], args['node-env']].filter(Boolean).join(' ')}`, args['node-options'] ?? '{}', env));
  }
  if (args.python) {
    servers.push(await startProcess('python peer (1 process)', args.python, [join(ROOT, 'bench/peer.py'), '--models', MODELS_DIR, '--port', '{port}', '--workers', '1'], {}));
  }
  const best = new Map<string, Figure>();
  for (let r = 0; r < rounds; r++) {
    for (const c of cases) {
      for (const s of turnOrder(servers, r)) {
        log(`round ${r + 1}: ${s.name} ${c.id} n=${c.n}`);
        const f = await measure(s, c.id, c.n);
        const key = `${c.id}@${c.n}|${s.name}`;
        const was = best.get(key);
        if (!was || f.total < was.total) best.set(key, f);
      }
    }
  }
  console.log(`\n${machine()}; ${requests} sequential requests per cell after 50 untimed, servers in turns, best of ${rounds} rounds; ${format} answers\n`);
  const rows = [...best].map(([key, f]) => {
    const [c, name] = key.split('|');
    return [c, name, f.wall.toFixed(2), f.total.toFixed(2), f.main.toFixed(2), f.busiest.toFixed(2)];
  });
  console.log(table(['sample case', 'server', 'wall ms / request', 'CPU ms / request (all threads)', 'main thread', 'busiest other thread'], rows));
} finally {
  for (const s of servers) await s.stop();
}
