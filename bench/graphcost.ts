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
 *   npx tsx bench/graphcost.ts [--runs 40]
 *   npx tsx bench/graphcost.ts --levels disabled,basic,extended,all   (wasm run time per optimisation level)
 */
import { readFileSync } from 'node:fs';
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

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = benchArgs('usage: npx tsx bench/graphcost.ts [--runs N (default 40)] | --levels disabled,basic,extended,all', {
    runs: { type: 'string', default: '40' },
    levels: { type: 'string' },
  });
  const levels = args.levels?.split(',') as Level[] | undefined;
  if (levels) {
    // the MNIST models' one-pass sample graphs at 64 rows, plus the MNIST density
    const cases: GraphCase[] = [
      ...['flow-realnvp-ms-mnist', 'vae-conv-mnist', 'dcgan-mnist'].map((model) => ({ label: `${model} sample n=64`, model, capability: 'sample', rows: 64 })),
      PEER_GRAPH_CASES[3],
    ];
    const rows = await levelCosts(cases, levels);
    console.log(`| graph (onnxruntime-web wasm, 1 thread) | ${levels.map((l) => `${l} ms (open ms)`).join(' | ')} |`);
    console.log(`|---|${levels.map(() => '---|').join('')}`);
    for (const r of rows) console.log(`| ${r.label} | ${levels.map((l) => `${r.ms[l].toFixed(2)} (${r.openMs[l].toFixed(0)})`).join(' | ')} |`);
  } else {
    const costs = await graphCosts(PEER_GRAPH_CASES, Number(args.runs));
    console.log(graphCostTable(costs));
  }
}
