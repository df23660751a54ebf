/**
 * edgegen against what a Python shop would deploy instead: a FastAPI + uvicorn
 * + onnxruntime (1 intra-op thread, numpy noise, orjson) server (bench/peer.py)
 * answering the same requests from the same .onnx files, beside edgegen's Node
 * server and its Worker under `wrangler dev`. A benchmark, not a test.
 *
 *   npm run bench:peer [-- --python /path/to/venv/bin/python --seconds 5 --rounds 2 --clients 8,64 --gain-clients 8,32,64 --peer-workers N]
 *
 * The peer runs twice: as one process, and as Python services are usually
 * deployed, one uvicorn worker process per core (`--peer-workers`, default the
 * number of cores); edgegen is compared with the better of the two per cell.
 * Every server runs at once (an idle one costs nothing) and each cell is measured
 * in turns: peer, peer per core, Node, Worker, then the reverse order, `--rounds` times, keeping each
 * server's best round. On a shared machine whose speed drifts by tens of
 * percent over minutes, taking the peer's figures minutes before or after
 * edgegen's would put the drift into the ratio.
 *
 * The peer runs when a python with fastapi, uvicorn, onnxruntime, orjson and
 * numpy is found: --python, else $EDGEGEN_PEER_PYTHON, else python3. Prints:
 * samples/s per case and client count of both peers, the better one, and
 * edgegen's ratios to it; the gain of
 * dynamic batching (edgegen with and without it); server CPU ms per request
 * (from /proc, whole process: for the Worker its workerd process, wrangler's
 * proxy excluded), marking what fits the Free plan's 10 ms; the Worker's cold
 * start; the isolate's memory (/healthz) after the worst request mix; and one
 * graph run alone in onnxruntime-node vs onnxruntime-web wasm (bench/graphcost.ts),
 * the ceiling that the Worker's one wasm thread puts on its rate.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { buildAssets } from '../edge/build-assets';
import { MODELS, ROOT, startWrangler, workerEntry, type Wrangler } from '../edge/testing';
import { benchArgs } from './args';
import { graphCosts, graphCostTable, PEER_GRAPH_CASES } from './graphcost';
import { coldStart, cpuMs, findWorkerd, runLoad, startProcess, turnOrder, worstMix, type Server } from './peerlib';

const HELP = `usage: npm run bench:peer [-- options]
  --python PATH         python with fastapi, uvicorn, onnxruntime, orjson, numpy
                        (default: $EDGEGEN_PEER_PYTHON, else python3)
  --seconds S           load per cell and round (default 5)
  --rounds R            rounds, each server's best kept (default 2)
  --clients LIST        client counts of the main table (default 8,64)
  --gain-clients LIST   client counts of the batching gain (default 8,32,64)
  --peer-workers N      uvicorn worker processes of the second peer (default: the
                        number of cores)
  --only memory         only the Worker isolate's memory after the worst mix (one
                        fresh wrangler dev, no peer, no load)`;
const args = benchArgs(HELP, {
  python: { type: 'string', default: process.env.EDGEGEN_PEER_PYTHON ?? 'python3' },
  seconds: { type: 'string', default: '5' },
  rounds: { type: 'string', default: '2' },
  clients: { type: 'string', default: '8,64' },
  'gain-clients': { type: 'string', default: '8,32,64' },
  'peer-workers': { type: 'string', default: String(cpus().length) },
  only: { type: 'string' },
});
if (args.only !== undefined && args.only !== 'memory') throw new Error(`--only: 'memory' is the one section that runs alone, got '${args.only}'`);
const SECONDS = Number(args.seconds);
const ROUNDS = Number(args.rounds);
const CLIENTS = args.clients.split(',').map(Number);
const GAIN_CLIENTS = args['gain-clients'].split(',').map(Number);
const PYTHON = args.python;
const PEER_WORKERS = Number(args['peer-workers']);
const PEER = 'python peer';
const PEER_MULTI = `python peer x${PEER_WORKERS}`;

export interface Case {
  label: string;
  path: string;
  body: string | Uint8Array;
  headers: Record<string, string>;
  /** rows answered per request: samples/s = requests/s x rows */
  rows: number;
}

const json = { 'content-type': 'application/json' };
const sampleCase = (id: string, n: number, f32: boolean): Case => ({
  label: `${id} sample n=${n} ${f32 ? 'f32' : 'JSON'}`,
  path: `/v1/models/${id}/sample${f32 ? '?format=f32' : ''}`,
  body: JSON.stringify({ n, seed: 7 }),
  headers: json,
  rows: n,
});
function densityCase(id: string, rows: number, width: number, f32: boolean): Case {
  const x = Array.from({ length: rows }, (_, i) => Array.from({ length: width }, (_, j) => (width > 2 ? (i * 31 + j * 7) % 256 : Math.sin(i + j))));
  const body = f32 ? new Uint8Array(new Float32Array(x.flat()).buffer) : JSON.stringify({ x, seed: 1 });
  const headers = f32 ? { 'content-type': 'application/octet-stream', 'x-edgegen-shape': `${rows},${width}` } : json;
  return { label: `${id} density rows=${rows} ${f32 ? 'f32' : 'JSON'}`, path: `/v1/models/${id}/density${f32 ? '?format=f32' : ''}`, body, headers, rows };
}

const CASES: Case[] = [
  sampleCase('flow-realnvp-ms-mnist', 64, false),
  sampleCase('flow-realnvp-ms-mnist', 64, true),
  sampleCase('vae-conv-mnist', 64, true),
  sampleCase('dcgan-mnist', 64, true),
  sampleCase('flow-realnvp-moons', 256, false),
  sampleCase('flow-realnvp-moons', 1, false),
  densityCase('flow-realnvp-moons', 256, 2, false),
  densityCase('flow-realnvp-ms-mnist', 16, 784, true),
];

function peerAvailable(): boolean {
  try {
    execFileSync(PYTHON, ['-c', 'import fastapi, uvicorn, onnxruntime, orjson, numpy'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** One process (workers = 1), or uvicorn's supervisor over `workers` processes, each with its own sessions (its pid counts the supervisor's CPU only). */
async function startPeer(workers: number): Promise<Server> {
  return startProcess(workers === 1 ? PEER : PEER_MULTI, PYTHON, [join(ROOT, 'bench/peer.py'), '--models', MODELS, '--port', '{port}', '--workers', String(workers)], {});
}

async function startNode(batching: boolean): Promise<Server> {
  // without batching: runs of one row at most (the engine's batchMaxRows), so no two requests share one
  const options = batching ? {} : { serve: { batchMaxRows: 1 } };
  return startProcess(`node${batching ? '' : ' (no batching)'}`, process.execPath, ['--import', 'tsx', join(ROOT, 'bench/node-server.ts'), JSON.stringify(options)], { PORT: '{port}', MODELS });
}

async function startWorker(assets: string, batching: boolean): Promise<Server & { wrangler: Wrangler }> {
  const entry = batching ? undefined : workerEntry({ batchMaxRows: 1 });
  const wrangler = await startWrangler(assets, 90_000, entry ? [entry] : []);
  // the entry's folder under .wrangler/ goes with the server
  const stop = async () => {
    await wrangler.stop();
    if (entry) rmSync(dirname(entry), { recursive: true, force: true });
  };
  return { name: `worker${batching ? '' : ' (no batching)'}`, url: wrangler.url, pid: findWorkerd(), stop, wrangler };
}

type Rates = Map<string, number>; // `${case}|${clients}` -> samples/s
const key = (c: Case, clients: number) => `${c.label}|${clients}`;

/**
 * Every case at every client count, on all `servers` in turns (peerlib.ts turnOrder), `ROUNDS` times:
 * each server's best round per cell (samples/s), and, at the first client
 * count, the server CPU ms per request of that round.
 */
async function measureInTurns(servers: Server[], cases: Case[], clientCounts: number[], cpu?: Record<string, Map<string, number>>): Promise<Record<string, Rates>> {
  const rates: Record<string, Rates> = Object.fromEntries(servers.map((s) => [s.name, new Map()]));
  for (const c of cases) {
    for (const clients of clientCounts) {
      for (let round = 0; round < ROUNDS; round++) {
        for (const server of turnOrder(servers, round)) {
          const before = cpuMs(server.pid);
          const r = await runLoad(server.url, c, clients, SECONDS);
          const spent = cpuMs(server.pid) - before;
          const rate = r.requestsPerSecond * c.rows;
          console.error(`${server.name}: ${c.label}, ${clients} clients, round ${round + 1}: ${rate.toFixed(0)} samples/s, ${r.errors} errors${r.firstError ? ` (${r.firstError})` : ''}`);
          if (rate <= (rates[server.name].get(key(c, clients)) ?? -1)) continue;
          rates[server.name].set(key(c, clients), rate);
          if (cpu?.[server.name] && clients === clientCounts[0]) cpu[server.name].set(c.label, r.requests ? spent / r.requests : NaN);
        }
      }
    }
  }
  return rates;
}

const f0 = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '-' : v >= 100 ? v.toFixed(0) : v.toFixed(1));
const ratio = (a: number | undefined, b: number | undefined) => (a && b ? `${(a / b).toFixed(2)}x` : '-');
const mb = (v: unknown) => (typeof v === 'number' ? `${(v / 2 ** 20).toFixed(1)} MiB` : '-');

function printMemory(memory: { health: unknown; errors: string[]; growth?: string[] } | undefined): void {
  const mem = (memory?.health as { memory?: Record<string, number> })?.memory ?? {};
  console.log('\n### Worker isolate memory after the worst mix (every capability of every model at its largest request)\n');
  console.log(`wasm memory ${mb(mem.wasmBytes)}, JS heap ${mb(mem.jsHeapBytes)} (workerd does not report it), sessions open ${mem.sessions} (${mb(mem.sessionFileBytes)} of model files), evictions ${mem.evictions}. Goal <= 96 MiB, limit 128 MB.`);
  if (memory?.errors.length) console.log(`errors in the worst mix: ${memory.errors.join('; ')}`);
  if (memory?.growth?.length) console.log(`\nThe requests that grew wasm memory, in order: ${memory.growth.join(', ')}.`);
}

async function main() {
  const load = execFileSync('uptime', { encoding: 'utf8' }).trim();
  const out = join(mkdtempSync(join(tmpdir(), 'edgegen-peer-')), 'public');
  buildAssets({ web: '/nonexistent', models: MODELS, out });
  if (args.only === 'memory') {
    const worker = await startWorker(out, true);
    try {
      printMemory(await worstMix(worker.url, false, true));
    } finally {
      await worker.stop();
    }
    return;
  }
  const peerOk = peerAvailable();
  if (!peerOk) console.error(`no peer: ${PYTHON} lacks fastapi/uvicorn/onnxruntime/orjson/numpy (see bench/peer.py); running edgegen alone`);
  const results: Record<string, Rates> = {};
  const cpu: Record<string, Map<string, number>> = { node: new Map(), worker: new Map() };
  let memory: { health: unknown; errors: string[]; growth?: string[] } | undefined;
  const gainCases = [CASES[3], CASES[5]];
  const servers: (Server & { wrangler?: Wrangler })[] = [];
  try {
    if (peerOk) servers.push(await startPeer(1), await startPeer(PEER_WORKERS));
    servers.push(await startNode(true), await startWorker(out, true));
    Object.assign(results, await measureInTurns(servers, CASES, CLIENTS, cpu));
    for (const [name, r] of Object.entries(await measureInTurns(servers.filter((s) => s.name !== PEER && s.name !== PEER_MULTI), gainCases, GAIN_CLIENTS.filter((c) => !CLIENTS.includes(c))))) {
      for (const [k, v] of r) results[name].set(k, v);
    }
    memory = await worstMix(servers.find((s) => s.name === 'worker')!.url);
    await Promise.all(servers.splice(0).map((s) => s.stop()));
    servers.push(await startNode(false), await startWorker(out, false));
    Object.assign(results, await measureInTurns(servers, gainCases, GAIN_CLIENTS));
    await Promise.all(servers.splice(0).map((s) => s.stop()));
    const cold = await coldStart(out, ['dcgan-mnist', 'flow-realnvp-ms-mnist', 'flow-realnvp-moons'], 3);
    const costs = await graphCosts(PEER_GRAPH_CASES);

    const p = results[PEER], pm = results[PEER_MULTI], n = results.node, w = results.worker;
    console.log(`\n## edgegen vs a Python onnxruntime server\n\nTaken under load: \`${load}\`; ${SECONDS} s per cell, the servers in turns (reversed on every other round), best of ${ROUNDS} rounds each, keep-alive clients over loopback, samples/s (rows answered per second). The peer as one process and as ${PEER_WORKERS} uvicorn worker processes (one per core); the ratios are against the better of the two in each cell.\n`);
    console.log(`| case | clients | Python peer, 1 process | Python peer, ${PEER_WORKERS} processes | better peer | edgegen Node | Node / better peer | edgegen Worker | Worker / better peer |`);
    console.log('|---|---|---|---|---|---|---|---|---|');
    for (const c of CASES) for (const k of CLIENTS) {
      const [one, multi, b, d] = [p?.get(key(c, k)), pm?.get(key(c, k)), n.get(key(c, k)), w.get(key(c, k))];
      const best = one === undefined && multi === undefined ? undefined : Math.max(one ?? 0, multi ?? 0);
      const which = best === undefined ? '-' : best === multi ? `${PEER_WORKERS} processes` : '1 process';
      console.log(`| ${c.label} | ${k} | ${f0(one)} | ${f0(multi)} | ${which} | ${f0(b)} | ${ratio(b, best)} | ${f0(d)} | ${ratio(d, best)} |`);
    }
    console.log('\n### Dynamic batching: samples/s with / without\n');
    console.log('| case | clients | Node batched | Node unbatched | gain | Worker batched | Worker unbatched | gain |');
    console.log('|---|---|---|---|---|---|---|---|');
    for (const c of gainCases) for (const k of GAIN_CLIENTS) {
      const nb = n.get(key(c, k)), nu = results['node (no batching)'].get(key(c, k)), wb = w.get(key(c, k)), wu = results['worker (no batching)'].get(key(c, k));
      console.log(`| ${c.label} | ${k} | ${f0(nb)} | ${f0(nu)} | ${ratio(nb, nu)} | ${f0(wb)} | ${f0(wu)} | ${ratio(wb, wu)} |`);
    }
    console.log(`\n### CPU ms per request at ${CLIENTS[0]} clients (server process, /proc utime+stime; the Worker's workerd includes its HTTP handling, so this over-counts what Cloudflare bills)\n`);
    console.log('| case | Node ms/request | Worker ms/request | fits the Free plan (10 ms)? |');
    console.log('|---|---|---|---|');
    for (const c of CASES) {
      const ms = cpu.worker.get(c.label);
      console.log(`| ${c.label} | ${f0(cpu.node.get(c.label))} | ${f0(ms)} | ${ms === undefined ? '-' : ms <= 10 ? 'yes' : 'no (Paid)'} |`);
    }
    console.log('\n### Worker cold start (fresh wrangler dev per trial; first request of the isolate)\n');
    console.log('| model | first answer ms (median of trials) | trials | Server-Timing of the first answer | goal < 400 / floor < 600 | sample.onnx alone from wrangler dev\'s asset server (ms, median) | first answer less that |');
    console.log('|---|---|---|---|---|---|---|');
    const verdict = (ms: number) => (ms < 400 ? 'goal met' : ms < 600 ? 'floor met' : 'NOT met');
    for (const r of cold) console.log(`| ${r.id} | ${f0(r.median)} | ${r.all.map((x) => x.toFixed(0)).join(', ')} | ${r.timing} | ${verdict(r.median)} | ${f0(r.assetMedian)} (${mb(r.assetBytes)}) | ${f0(r.median - r.assetMedian)} (${verdict(r.median - r.assetMedian)}) |`);
    console.log('\n(workerd\'s clock stands still while code runs, so Server-Timing shows only waits; CPU work such as onnxruntime compiling its wasm functions on first call is in the first answer but in no Server-Timing entry)');
    printMemory(memory);
    console.log('\n### One graph run alone: native kernels (the peer, Node) vs wasm (the Worker), and the ceiling it puts on the Worker\n');
    // the one-process peer's case whose graph this is (one process runs one graph at a time, as the ceiling's one wasm thread does):
    // the JSON and f32 flow cases share one graph; take the faster peer figure
    const peerOf = (g: { model: string; capability: string; rows: number }) => {
      const rates = CASES.filter((c) => c.path.includes(`/${g.model}/${g.capability}`) && c.rows === g.rows).map((c) => p?.get(key(c, CLIENTS[0])) ?? 0);
      return rates.length ? Math.max(...rates) : undefined;
    };
    console.log(graphCostTable(costs, peerOf));
    console.log(`\n(ceiling: one wasm thread running nothing but this graph back to back; the one-process peer at ${CLIENTS[0]} clients)`);
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
    rmSync(dirname(out), { recursive: true, force: true });
  }
}

await main();
