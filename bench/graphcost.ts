/**
 * One graph run alone, no HTTP: onnxruntime-node (what the Python peer and
 * edgegen's Node server run: native kernels, one intra-op thread) against
 * onnxruntime-web's wasm build (what the Worker runs: the same .wasm file,
 * one thread, SIMD), on the same feeds. The Worker is one isolate on one
 * thread, so `rows * 1000 / wasm ms` samples/s is a ceiling no request code
 * can lift: if it is below 0.7x of the peer's measured rate, the Worker's
 * floor against the peer (0.7x, edge/SERVING.md) is out of reach with these
 * kernels. A benchmark, not a test.
 *
 *   npx tsx bench/graphcost.ts [--runs 40] [--cases made-mnist/sample@16,made-mnist/sample.int8@16,...]   (default: the peer's cases)
 *   npx tsx bench/graphcost.ts --levels disabled,basic,extended,all   (wasm run time per optimisation level)
 *   npx tsx bench/graphcost.ts --ops dcgan-mnist/sample@16            (wasm time per graph node, from onnxruntime's profiler)
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { benchArgs } from './args';
import { MODELS_DIR } from './common';

export interface GraphCase {
  label: string;
  model: string;
  capability: string;
  rows: number;
}

export interface GraphCost extends GraphCase {
  nodeMs: number;
  wasmMs: number;
}

/** Feeds for every input: the batch axis set to `rows`, values in [0, 1) (pixels for density, noise for sample; only the time matters). */
function feedsFor(session: { inputNames: readonly string[]; inputMetadata?: unknown }, rows: number): Record<string, { data: Float32Array; dims: number[] }> {
  const meta = (session.inputMetadata ?? []) as { name: string; shape?: (number | string)[] }[];
  const feeds: Record<string, { data: Float32Array; dims: number[] }> = {};
  for (const name of session.inputNames) {
    const shape = meta.find((m) => m.name === name)?.shape;
    if (!shape) throw new Error(`no input shape for ${name}`);
    const dims = shape.map((d) => (typeof d === 'number' && d > 0 ? d : rows));
    const data = new Float32Array(dims.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = ((i * 2654435761) >>> 0) / 2 ** 32;
    feeds[name] = { data, dims };
  }
  return feeds;
}

/** Median ms of `runs` runs after 5 warm-up runs. */
async function timeRuns(run: () => Promise<unknown>, runs: number): Promise<number> {
  for (let i = 0; i < 5; i++) await run();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await run();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

export async function graphCosts(cases: GraphCase[], runs = 40): Promise<GraphCost[]> {
  ortWeb.env.wasm.numThreads = 1;
  const out: GraphCost[] = [];
  for (const c of cases) {
    const bytes = readFileSync(join(MODELS_DIR, c.model, `${c.capability}.onnx`));
    const native = await ortNode.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
    const wasm = await ortWeb.InferenceSession.create(bytes, { graphOptimizationLevel: 'all' });
    try {
      const feeds = feedsFor(native, c.rows);
      const nodeFeeds = Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, new ortNode.Tensor('float32', t.data, t.dims)]));
      const webFeeds = Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, new ortWeb.Tensor('float32', t.data, t.dims)]));
      // in turns, three rounds, the best median of each: the machine's speed drifts
      let nodeMs = Infinity;
      let wasmMs = Infinity;
      for (let round = 0; round < 3; round++) {
        nodeMs = Math.min(nodeMs, await timeRuns(() => native.run(nodeFeeds), runs));
        wasmMs = Math.min(wasmMs, await timeRuns(() => wasm.run(webFeeds), runs));
      }
      out.push({ ...c, nodeMs, wasmMs });
    } finally {
      await native.release();
      await wasm.release();
    }
  }
  return out;
}

/** The image cases of bench/peer.ts, one graph run each. */
export const PEER_GRAPH_CASES: GraphCase[] = [
  { label: 'flow-realnvp-ms-mnist sample n=64', model: 'flow-realnvp-ms-mnist', capability: 'sample', rows: 64 },
  { label: 'vae-conv-mnist sample n=64', model: 'vae-conv-mnist', capability: 'sample', rows: 64 },
  { label: 'dcgan-mnist sample n=64', model: 'dcgan-mnist', capability: 'sample', rows: 64 },
  { label: 'flow-realnvp-ms-mnist density rows=16', model: 'flow-realnvp-ms-mnist', capability: 'density', rows: 16 },
];

/**
 * The markdown table; `peerRate` (samples/s of the peer for the case, when
 * measured) gives the ceiling's ratio to it.
 */
export function graphCostTable(costs: GraphCost[], peerRate: (c: GraphCost) => number | undefined = () => undefined): string {
  const lines = [
    '| graph | rows | onnxruntime-node ms | onnxruntime-web wasm ms | wasm / native | Worker ceiling samples/s (graph only) | ceiling / peer |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const c of costs) {
    const ceiling = (c.rows * 1000) / c.wasmMs;
    const peer = peerRate(c);
    lines.push(`| ${c.label} | ${c.rows} | ${c.nodeMs.toFixed(2)} | ${c.wasmMs.toFixed(2)} | ${(c.wasmMs / c.nodeMs).toFixed(1)}x | ${ceiling.toFixed(0)} | ${peer ? `${(ceiling / peer).toFixed(2)}x` : '-'} |`);
  }
  return lines.join('\n');
}

type Level = 'disabled' | 'basic' | 'extended' | 'all';

/**
 * onnxruntime-web wasm's run time per graph optimisation level (what the
 * Worker and the page choose at session creation): every level's session
 * open at once and measured in turns, `rounds` times, best median each.
 */
export async function levelCosts(cases: GraphCase[], levels: Level[], runs = 15, rounds = 4): Promise<{ label: string; ms: Record<string, number>; openMs: Record<string, number> }[]> {
  ortWeb.env.wasm.numThreads = 1;
  const out = [];
  for (const c of cases) {
    const bytes = readFileSync(join(MODELS_DIR, c.model, `${c.capability}.onnx`));
    const sessions: Record<string, ortWeb.InferenceSession> = {};
    const openMs: Record<string, number> = {};
    for (const level of levels) {
      const t0 = performance.now();
      sessions[level] = await ortWeb.InferenceSession.create(bytes, { graphOptimizationLevel: level });
      openMs[level] = performance.now() - t0;
    }
    try {
      const feeds = feedsFor(sessions[levels[0]], c.rows);
      const webFeeds = Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, new ortWeb.Tensor('float32', t.data, t.dims)]));
      const ms: Record<string, number> = {};
      for (let round = 0; round < rounds; round++) {
        for (const level of levels) ms[level] = Math.min(ms[level] ?? Infinity, await timeRuns(() => sessions[level].run(webFeeds), runs));
      }
      out.push({ label: c.label, ms, openMs });
    } finally {
      for (const s of Object.values(sessions)) await s.release();
    }
  }
  return out;
}

/**
 * onnxruntime-web wasm's time per node of one graph (its profiler, enableProfiling), median
 * over `runs` runs after 5 warm-up runs: which kernel a graph's time goes to. The profiler
 * writes its events straight to file descriptor 1 from wasm, which no JS hook sees, so the
 * runs happen in a child process (this script with --ops-raw) whose stdout is parsed.
 */
export function opCosts(c: GraphCase, runs = 25): { node: string; op: string; shape: string; us: number }[] {
  const raw = execFileSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--ops-raw', `${c.model}/${c.capability}@${c.rows}`, '--runs', String(runs)], { encoding: 'utf8', maxBuffer: 256 * 2 ** 20 });
  const events = raw.split('\n').map((l) => l.trim().replace(/,$/, '')).filter((l) => l.startsWith('{') && l.endsWith('}'))
    .map((l) => JSON.parse(l) as { cat: string; name: string; dur: number; args: { op_name?: string; output_type_shape?: Record<string, number[]>[] } });
  const byNode = new Map<string, { op: string; shape: string; durs: number[] }>();
  for (const e of events) {
    if (e.cat !== 'Node') continue;
    const node = e.name.replace(/_kernel_time$/, '');
    const entry = byNode.get(node) ?? { op: e.args.op_name ?? '?', shape: JSON.stringify(Object.values(e.args.output_type_shape?.[0] ?? {})[0] ?? []), durs: [] };
    entry.durs.push(e.dur);
    byNode.set(node, entry);
  }
  // each node's last `runs` runs (the warm-up ones come first)
  return [...byNode].map(([node, { op, shape, durs }]) => {
    const last = durs.slice(-runs).sort((x, y) => x - y);
    return { node, op, shape, us: last[Math.floor(last.length / 2)] };
  }).sort((x, y) => y.us - x.us);
}

/** The child of opCosts: open the graph with the profiler on and run it; the profiler prints. */
async function profiledRuns(c: GraphCase, runs: number): Promise<void> {
  ortWeb.env.wasm.numThreads = 1;
  const bytes = readFileSync(join(MODELS_DIR, c.model, `${c.capability}.onnx`));
  const session = await ortWeb.InferenceSession.create(bytes, { graphOptimizationLevel: 'all', enableProfiling: true });
  const feeds = feedsFor(session, c.rows);
  const webFeeds = Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, new ortWeb.Tensor('float32', t.data, t.dims)]));
  for (let i = 0; i < 5 + runs; i++) await session.run(webFeeds);
  session.endProfiling();
  await session.release();
}

// CAPABILITY may name a variant's file: sample.int8 reads sample.int8.onnx
const OPS = /^([^/]+)\/([a-z]+(?:\.[a-z0-9]+)?)@(\d+)$/;
const opCase = (spec: string): GraphCase => {
  const m = spec.match(OPS);
  if (!m) throw new Error(`--ops and --cases: MODEL/CAPABILITY@ROWS, e.g. dcgan-mnist/sample@16 or dcgan-mnist/sample.int8@16; got '${spec}'`);
  return { label: spec, model: m[1], capability: m[2], rows: Number(m[3]) };
};

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = benchArgs('usage: npx tsx bench/graphcost.ts [--runs N (default 40)] [--cases MODEL/CAPABILITY@ROWS,...] | --levels disabled,basic,extended,all | --ops MODEL/CAPABILITY@ROWS', {
    runs: { type: 'string', default: '40' },
    cases: { type: 'string' },
    levels: { type: 'string' },
    ops: { type: 'string' },
    'ops-raw': { type: 'string' },
  });
  const levels = args.levels?.split(',') as Level[] | undefined;
  if (args['ops-raw']) {
    await profiledRuns(opCase(args['ops-raw']), Number(args.runs));
    process.exit(0);
  }
  if (args.ops !== undefined) {
    const rows = opCosts(opCase(args.ops), Number(args.runs === '40' ? 25 : args.runs));
    const total = rows.reduce((a, r) => a + r.us, 0);
    console.log(`${args.ops} on onnxruntime-web wasm (1 thread, all optimisations): ${(total / 1000).toFixed(2)} ms in nodes, median per node\n`);
    console.log('| node | op | output shape | median us | share |');
    console.log('|---|---|---|---|---|');
    for (const r of rows) console.log(`| ${r.node} | ${r.op} | ${r.shape} | ${r.us} | ${((100 * r.us) / total).toFixed(1)}% |`);
  } else if (levels) {
    // the MNIST models' one-pass sample graphs at 64 rows, plus the MNIST density
    const cases: GraphCase[] = args.cases
      ? args.cases.split(',').map(opCase)
      : [...['flow-realnvp-ms-mnist', 'vae-conv-mnist', 'dcgan-mnist'].map((model) => ({ label: `${model} sample n=64`, model, capability: 'sample', rows: 64 })), PEER_GRAPH_CASES[3]];
    const rows = await levelCosts(cases, levels);
    console.log(`| graph (onnxruntime-web wasm, 1 thread) | ${levels.map((l) => `${l} ms (open ms)`).join(' | ')} |`);
    console.log(`|---|${levels.map(() => '---|').join('')}`);
    for (const r of rows) console.log(`| ${r.label} | ${levels.map((l) => `${r.ms[l].toFixed(2)} (${r.openMs[l].toFixed(0)})`).join(' | ')} |`);
  } else {
    const costs = await graphCosts(args.cases ? args.cases.split(',').map(opCase) : PEER_GRAPH_CASES, Number(args.runs));
    console.log(graphCostTable(costs));
  }
}
