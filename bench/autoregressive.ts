/**
 * What an autoregressive sample costs, in forward passes of its own net: every
 * shipped autoregressive image model (the MADEs) draws n samples through its
 * sample graph (one run: export/graphs/made.ts walks the D dimensions inside
 * the graph, caching finished hidden units), timed beside one forward pass of
 * the same net over the same n rows, which a sampler without the cache would
 * make D times. The forward pass is the density graph's: it evaluates the net
 * once per class for a conditional model, so its time is divided by C.
 * onnxruntime-node and onnxruntime-web's wasm (the Worker's and the page's
 * runtime), one thread each. A graph exported before the one-run sampler
 * still samples, D runs at a time: the table counts the runs.
 *
 *   npx tsx bench/autoregressive.ts [--n 64] [--models id,id]
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Prng } from '../core';
import { descriptorOf } from '../core/families';
import { dataDim, runAutoregressive, runDensity, type ModelInfo } from '../core/protocol';
import { openGraph } from '../export/ort';
import { fmt, log, machine, MODELS_DIR, shipped, table, timeIt } from './common';

const { values } = parseArgs({ options: { n: { type: 'string', default: '64' }, models: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
if (values.help) {
  console.log('npx tsx bench/autoregressive.ts [--n ROWS] [--models id,id]');
  process.exit(0);
}
const n = Number(values.n);
if (!Number.isInteger(n) || n < 1 || n > 1024) throw new Error(`--n must be an integer in [1, 1024], got "${values.n}"`);
const only = values.models?.split(',').filter(Boolean);

const models = shipped().filter((m) => descriptorOf(m).protocol.autoregressive && m.shape.length >= 2 && (!only || only.includes(m.id)));
if (!models.length) throw new Error('no shipped autoregressive image model to measure');

const rows: (string | number)[][] = [];
for (const m of models) {
  const info: ModelInfo = m;
  const D = dataDim(m);
  const C = m.classes?.names.length ?? 0;
  const rng = new Prng(1);
  const z = rng.normals(n * m.latentDim);
  // the first class for every row (a conditional sampler needs a label)
  const label = C ? Float32Array.from({ length: n * C }, (_, i) => (i % C === 0 ? 1 : 0)) : undefined;
  const x = Float32Array.from({ length: n * D }, () => rng.uniform() * 256);
  for (const runtime of ['node', 'web'] as const) {
    log(`${m.id} on onnxruntime-${runtime}: ${n} samples, and one forward pass of ${n} rows`);
    const sample = await openGraph(readFileSync(join(MODELS_DIR, m.id, 'sample.onnx')), { runtime });
    const density = await openGraph(readFileSync(join(MODELS_DIR, m.id, 'density.onnx')), { runtime });
    // graphs exported before the one-run sampler answer NaN, and the protocol runs them D times: count the runs
    let runs = 0;
    await runAutoregressive(info, (feeds) => (runs++, sample.run(feeds)), z, n, label);
    const s = await timeIt(() => runAutoregressive(info, sample.run, z, n, label), n, { warm: 1, minReps: 3, maxReps: 10, budgetMs: 10_000 });
    const d = await timeIt(() => runDensity(info, density.run, x, n), n, { warm: 1, minReps: 3, maxReps: 10, budgetMs: 10_000 });
    await sample.release();
    await density.release();
    const pass = d.p50 / Math.max(1, C);
    rows.push([m.id, `onnxruntime-${runtime}`, D, runs, fmt(s.p50), fmt(pass), fmt(s.p50 / pass, 2), fmt(D * pass)]);
  }
}

console.log(`\n${machine()}; ${n} rows, median of up to 10 runs, one thread\n`);
console.log(table(['model', 'runtime', 'D', 'graph runs a sample', 'sample ms', 'one forward pass ms', 'sample / pass', 'D passes ms (a sampler without the cache)'], rows));
