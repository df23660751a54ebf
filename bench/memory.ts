/**
 * The Node server's memory under the worst request mix (bench/peerlib.ts
 * worstMix: every operation of every shipped model at the largest request
 * GET /v1/models lists for it), measured from outside the process: resident
 * set (/proc/PID/status VmRSS) before, after each pass of the mix and a few
 * seconds later, and its peak (VmHWM), beside what /healthz reports. A
 * benchmark, not a test; memory figures do not need a quiet machine.
 *
 *   npx tsx bench/memory.ts [--passes 2 --settle 3 --load 0 'EDGEGEN_ORT_THREADS=1' 'arena=1' 'maxSessions=6' ...]
 *
 * Each positional argument is one configuration (a fresh server, started by
 * bench/node-server.ts): assignments separated by commas; an upper-case name
 * is set in the server's environment (EDGEGEN_ORT_THREADS,
 * MALLOC_MMAP_THRESHOLD_), `arena` and `ortThread` are the Node runtime's
 * options, any other name one of the engine's (engine.ts ServeOptions:
 * maxSessions, runMaxRows, ...); none: the defaults. With --load, the same
 * servers then take a load in turns (bench/peerlib.ts runLoad), so a memory
 * setting's speed is read beside the defaults' on the same machine minutes
 * apart at most.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { MODELS, ROOT } from '../edge/testing';
import type { Case } from './peer';
import { runLoad, startProcess, turnOrder, worstMix, type Server } from './peerlib';

const HELP = `usage: npx tsx bench/memory.ts [options] [CONFIG ...]
  --passes P     times the worst mix is sent (default 2)
  --settle S     seconds to wait after the last pass before the last reading (default 3)
  --smallest     send every operation at one row instead (k = 1): what the open sessions cost
  --load S       then S seconds of load per case and round on every configuration's server in turns (reversed on every other round)
                 (dcgan-mnist, vae-conv-mnist, flow-realnvp-ms-mnist n=64 and moons n=1, f32): samples/s beside the
                 first configuration's; a speed figure, so only on a quiet machine (default 0: none)
  --rounds R     rounds of that load, each server's best kept (default 3)
  --clients C    keep-alive clients of that load (default 8)
  CONFIG         one fresh Node server, e.g. EDGEGEN_ORT_THREADS=1,arena=1,maxSessions=4: upper-case names
                 are environment, arena and ortThread the runtime's options, others the engine's
                 (default: one server with the defaults)`;

const argv = process.argv.slice(2);
const { values, positionals } = parseArgs({
  args: argv[0] === '--' ? argv.slice(1) : argv,
  allowPositionals: true,
  options: { passes: { type: 'string', default: '2' }, settle: { type: 'string', default: '3' }, smallest: { type: 'boolean', default: false }, load: { type: 'string', default: '0' }, rounds: { type: 'string', default: '3' }, clients: { type: 'string', default: '8' }, help: { type: 'boolean', short: 'h' } },
});
if (values.help) {
  console.log(HELP);
  process.exit(0);
}
const PASSES = Number(values.passes);
const SETTLE = Number(values.settle);
const LOAD = Number(values.load);
const ROUNDS = Number(values.rounds);
const CLIENTS = Number(values.clients);

/** VmRSS and VmHWM of a process, bytes. */
function vm(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

const mib = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '-' : (v / 2 ** 20).toFixed(0));

interface Row {
  config: string;
  before: number;
  after: number[];
  settled: number;
  peak: number;
  health: Record<string, number>;
  errors: string[];
}

function start(config: string): Promise<Server> {
  const env: Record<string, string> = {};
  const runtime: Record<string, boolean> = {};
  const serve: Record<string, number> = {};
  for (const kv of config.split(',').filter(Boolean)) {
    const i = kv.indexOf('=');
    if (i < 1) throw new Error(`configuration '${config}': expected NAME=value[,NAME=value]`);
    const [name, value] = [kv.slice(0, i), kv.slice(i + 1)];
    if (name === name.toUpperCase()) env[name] = value;
    else if (name === 'arena' || name === 'ortThread') runtime[name] = value === '1' || value === 'true';
    else serve[name] = Number(value);
  }
  const options = JSON.stringify({ serve, runtime });
  return startProcess(config || '(defaults)', process.execPath, ['--import', 'tsx', join(ROOT, 'bench/node-server.ts'), options], { PORT: '{port}', MODELS, ...env });
}

async function measure(config: string, server: Server): Promise<Row> {
  {
    const before = vm(server.pid).rss;
    const after: number[] = [];
    const errors: string[] = [];
    let health: Record<string, number> = {};
    for (let p = 0; p < PASSES; p++) {
      const r = await worstMix(server.url, values.smallest);
      errors.push(...r.errors);
      after.push(vm(server.pid).rss);
      health = (r.health as { memory?: Record<string, number> }).memory ?? {};
      console.error(`${config || '(defaults)'}: pass ${p + 1}: RSS ${mib(after[p])} MiB, peak ${mib(vm(server.pid).peak)} MiB`);
    }
    await new Promise((ok) => setTimeout(ok, SETTLE * 1000));
    const { rss: settled, peak } = vm(server.pid);
    return { config: config || '(defaults)', before, after, settled, peak, health, errors };
  }
}

const LOAD_CASES: Case[] = [
  ['dcgan-mnist', 64],
  ['vae-conv-mnist', 64],
  ['flow-realnvp-ms-mnist', 64],
  ['flow-realnvp-moons', 1],
].map(([id, n]) => ({
  label: `${id} sample n=${n} f32`,
  path: `/v1/models/${id}/sample?format=f32`,
  body: JSON.stringify({ n, seed: 7 }),
  headers: { 'content-type': 'application/json' },
  rows: n as number,
}));

const configs = positionals.length ? positionals : [''];
const rows: Row[] = [];
const servers: Server[] = [];
const rates = new Map<string, number>(); // `${case}|${config}` -> best samples/s
try {
  for (const config of configs) {
    const server = await start(config);
    servers.push(server);
    rows.push(await measure(config, server));
  }
  // the same load on every configuration's server in turns, each one's best round kept
  for (const c of LOAD_CASES) {
    for (let round = 0; round < (LOAD ? ROUNDS : 0); round++) {
      for (const server of turnOrder(servers, round)) {
        const r = await runLoad(server.url, c, CLIENTS, LOAD);
        const rate = r.requestsPerSecond * c.rows;
        console.error(`${server.name}: ${c.label}, ${CLIENTS} clients, round ${round + 1}: ${rate.toFixed(0)} samples/s, ${r.errors} errors`);
        const k = `${c.label}|${server.name}`;
        rates.set(k, Math.max(rates.get(k) ?? 0, rate));
      }
    }
  }
} finally {
  await Promise.all(servers.map((s) => s.stop()));
}

console.log(`\nNode server RSS (MiB, /proc/PID/status) around the ${values.smallest ? 'mix at one row' : 'worst mix'}, ${PASSES} pass(es); /healthz memory after the last pass:\n`);
const passCols = Array.from({ length: PASSES }, (_, p) => `after pass ${p + 1}`);
console.log(`| configuration | before | ${passCols.join(' | ')} | ${SETTLE} s later | peak (VmHWM) | /healthz rssBytes | jsHeapBytes | nativeBytes | rssPeakBytes | sessions (copies) |`);
console.log(`|---|---|${passCols.map(() => '---|').join('')}---|---|---|---|---|---|---|`);
for (const r of rows) {
  const h = r.health;
  console.log(`| ${r.config} | ${mib(r.before)} | ${r.after.map(mib).join(' | ')} | ${mib(r.settled)} | ${mib(r.peak)} | ${mib(h.rssBytes)} | ${mib(h.jsHeapBytes)} | ${mib(h.nativeBytes)} | ${mib(h.rssPeakBytes)} | ${h.sessions ?? '-'} (${h.sessionCopies ?? '-'}) |`);
}
if (LOAD) {
  console.log(`\nsamples/s at ${CLIENTS} clients (keep-alive, ${LOAD} s per round, the servers in turns, best of ${ROUNDS} rounds), and each against the first configuration; taken at \`${execFileSync('uptime', { encoding: 'utf8' }).trim()}\`:\n`);
  console.log(`| case | ${servers.map((s) => s.name).join(' | ')} |`);
  console.log(`|---|${servers.map(() => '---|').join('')}`);
  for (const c of LOAD_CASES) {
    const base = rates.get(`${c.label}|${servers[0].name}`) ?? NaN;
    console.log(`| ${c.label} | ${servers.map((s, i) => { const v = rates.get(`${c.label}|${s.name}`) ?? NaN; return i ? `${v.toFixed(0)} (${(v / base).toFixed(2)}x)` : v.toFixed(0); }).join(' | ')} |`);
  }
}
for (const r of rows) if (r.errors.length) console.log(`\nerrors (${r.config}): ${r.errors.join('; ')}`);
