/**
 * Serving section: samples/s and p50/p95 latency of each shipped model's
 * sample graph for n = 1, 64, 256 on
 *  (a) onnxruntime-node, native CPU, intraOpNumThreads 1, in-process;
 *  (a') onnxruntime-web wasm (one thread) in Node, in-process: the Worker's
 *       runtime without its transport;
 *  (b) the Worker under `wrangler dev` over loopback HTTP + JSON (bench/serve.ts's
 *      machinery: edge/build-assets + edge/testing's startWrangler);
 *  (b') the same Worker answering the binary format (Accept:
 *      application/octet-stream: raw float32 rows), read into a Float32Array;
 *  (c) tfjs on the wasm backend in Node, the model rebuilt from its checkpoint,
 *      as a TF.js user would serve it (tensor in, dataSync out).
 * Same seeded noise (core/prng) for every runtime.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web/wasm';
import { Prng, type Manifest } from '../core';
import { buildAssets } from '../edge/build-assets';
import { startWrangler } from '../edge/testing';
import { initBackend } from '../train/backend';
import { readCheckpoint } from '../train/checkpoint';
import { buildModel } from '../train/models';
import { dim, fmt, log, MODELS_DIR, shipped, table, timeIt, type BenchOptions, type Timing } from './common';
import { runSample, sampleWork, takesObservationNoise, type RunGraph } from '../core/protocol';
import { MAX_WORK_UNITS } from '../edge/engine';

const NS = [1, 64, 256];

function feeds(m: Manifest, n: number, seed: number): Record<string, { data: Float32Array; dims: number[] }> {
  const rng = new Prng(seed);
  const f: Record<string, { data: Float32Array; dims: number[] }> = { z: { data: rng.normals(n * m.latentDim), dims: [n, m.latentDim] } };
  if (takesObservationNoise(m)) f.noise = { data: rng.normals(n * dim(m)), dims: [n, dim(m)] };
  return f;
}

const sampleFile = (m: Manifest) => join(MODELS_DIR, m.id, m.files.find((f) => f.capability === 'sample')!.file);

export async function serving(opts: BenchOptions & { models?: string[] }): Promise<string> {
  const models = shipped().filter((m) => !opts.models?.length || opts.models.includes(m.id));
  const budget = opts.quick ? { maxReps: 5, minReps: 3, budgetMs: 500, warm: 1 } : { maxReps: 40, minReps: 8, budgetMs: 3000, warm: 3 };
  const res = new Map<string, Timing>(); // key `${runtime}|${id}|${n}`
  const key = (r: string, id: string, n: number) => `${r}|${id}|${n}`;

  ortWeb.env.wasm.numThreads = 1;
  await initBackend('wasm');
  for (const m of models) {
    const bytes = readFileSync(sampleFile(m));
    const native = await ortNode.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
    const web = await ortWeb.InferenceSession.create(bytes);
    const ck = readCheckpoint(join(MODELS_DIR, m.id, 'checkpoint.egck'));
    const model = buildModel(ck.spec, ck.weights);
    for (const n of NS) {
      let seed = 0;
      // through the graph protocol, as the API runs it (MADE: D passes of its sample graph)
      const runWith = (session: { run(f: Record<string, unknown>): Promise<Record<string, { data: unknown; dims: readonly number[] }>> }, T: new (t: 'float32', d: Float32Array, dims: number[]) => unknown): RunGraph => async (feeds) => {
        const out = await session.run(Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, new T('float32', v.data, v.dims)])));
        return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, { data: v.data as Float32Array, dims: [...v.dims] }]));
      };
      const runNative = runWith(native as never, ortNode.Tensor as never);
      const runWeb = runWith(web as never, ortWeb.Tensor as never);
      res.set(key('ort-node', m.id, n), await timeIt(async () => {
        const f = feeds(m, n, seed++);
        return runSample(m, runNative, f.z.data, n, { noise: f.noise?.data });
      }, n, budget));
      res.set(key('ort-web', m.id, n), await timeIt(async () => {
        const f = feeds(m, n, seed++);
        return runSample(m, runWeb, f.z.data, n, { noise: f.noise?.data });
      }, n, budget));
      res.set(key('tfjs-wasm', m.id, n), await timeIt(() => {
        const f = feeds(m, n, seed++);
        const z = tf.tensor2d(f.z.data, f.z.dims as [number, number]);
        const noise = f.noise ? tf.tensor2d(f.noise.data, f.noise.dims as [number, number]) : undefined;
        const out = model.sample(z, noise);
        const x = out.x.dataSync();
        tf.dispose([z, noise ?? [], out.x, out.xMean ?? []]);
        return x;
      }, n, budget));
      log(`serving in-process ${m.id} n=${n} done`);
    }
    await native.release();
    await web.release();
    model.dispose();
  }

  const out = join(mkdtempSync(join(tmpdir(), 'edgegen-bench-')), 'public');
  buildAssets({ web: '/nonexistent', models: MODELS_DIR, out });
  const wrangler = await startWrangler(out);
  try {
    for (const m of models) {
      const url = `${wrangler.url}/v1/models/${m.id}/sample`;
      for (const n of NS) {
        if (sampleWork(m, n) > MAX_WORK_UNITS) continue; // the API refuses it (over_budget) too
        let seed = 0;
        res.set(key('worker', m.id, n), await timeIt(async () => {
          const r = await fetch(url, { method: 'POST', body: JSON.stringify({ n, seed: seed++ }), headers: { 'content-type': 'application/json' } });
          const body = await r.arrayBuffer();
          if (!r.ok) throw new Error(`${url}: ${r.status} ${new TextDecoder().decode(body).slice(0, 200)}`);
        }, n, budget));
        res.set(key('worker-f32', m.id, n), await timeIt(async () => {
          const r = await fetch(url, {
            method: 'POST',
            body: JSON.stringify({ n, seed: seed++ }),
            headers: { 'content-type': 'application/json', accept: 'application/octet-stream' },
          });
          const body = await r.arrayBuffer();
          if (!r.ok) throw new Error(`${url}: ${r.status} ${new TextDecoder().decode(body).slice(0, 200)}`);
          const x = new Float32Array(body);
          if (x.length !== n * dim(m)) throw new Error(`${url}: ${x.length} floats, expected ${n * dim(m)}`);
          return x;
        }, n, budget));
      }
      log(`serving worker ${m.id} done`);
    }
  } finally {
    await wrangler.stop();
    rmSync(out, { recursive: true, force: true });
  }

  const runtimes: [string, string][] = [
    ['ort-node', 'onnxruntime-node, 1 thread, in-process'],
    ['ort-web', 'onnxruntime-web wasm, 1 thread, in-process (Node)'],
    ['worker', 'Worker: wrangler dev, HTTP + JSON'],
    ['worker-f32', 'Worker: wrangler dev, HTTP + binary f32'],
    ['tfjs-wasm', 'tfjs wasm backend, in-process (Node)'],
  ];
  const rows: (string | number)[][] = [];
  for (const m of models) {
    for (const n of NS) {
      for (const [r, label] of runtimes) {
        const t = res.get(key(r, m.id, n));
        if (!t) continue; // over the API's work budget
        rows.push([m.id, n, label, fmt(t.p50), fmt(t.p95), fmt(t.rate), t.reps]);
      }
    }
  }
  const ratioRows: (string | number)[][] = [];
  let metNative = 0;
  let metTfjs = 0;
  let total = 0;
  const binRows: (string | number)[][] = [];
  let binNative = 0;
  let binTfjs = 0;
  for (const m of models) {
    for (const n of NS) {
      if (!res.has(key('worker', m.id, n))) continue;
      const g = (r: string) => res.get(key(r, m.id, n))!.rate;
      const wn = g('worker') / g('ort-node');
      const wt = g('worker') / g('tfjs-wasm');
      total++;
      if (wn >= 0.5) metNative++;
      if (wt >= 2) metTfjs++;
      const bn = g('worker-f32') / g('ort-node');
      const bt = g('worker-f32') / g('tfjs-wasm');
      if (bn >= 0.5) binNative++;
      if (bt >= 2) binTfjs++;
      ratioRows.push([m.id, n, `${fmt(wn, 2)} ${wn >= 0.5 ? 'met' : 'NOT met'}`, `${fmt(wt, 2)} ${wt >= 2 ? 'met' : 'NOT met'}`, fmt(g('ort-web') / g('ort-node'), 2), fmt(g('ort-web') / g('tfjs-wasm'), 2), fmt(g('worker') / g('ort-web'), 2)]);
      binRows.push([m.id, n, `${fmt(bn, 2)} ${bn >= 0.5 ? 'met' : 'NOT met'}`, `${fmt(bt, 2)} ${bt >= 2 ? 'met' : 'NOT met'}`, fmt(g('worker-f32') / g('ort-web'), 2), fmt(g('worker-f32') / g('worker'), 2)]);
    }
  }
  return [
    '### Serving: sample graph, samples/s and latency',
    '',
    table(['model', 'n', 'runtime', 'p50 ms', 'p95 ms', 'samples/s', 'reps'], rows),
    '',
    'Ratios of throughput (samples/s). Goals: Worker >= 0.5x native single-thread, Worker >= 2x tfjs-wasm.',
    '',
    table(['model', 'n', 'Worker / ort-node (goal >= 0.5)', 'Worker / tfjs-wasm (goal >= 2)', 'ort-web / ort-node', 'ort-web / tfjs-wasm', 'Worker / ort-web (transport cost)'], ratioRows),
    '',
    `Goal "Worker >= 50% of native": met in ${metNative} of ${total} cases. Goal "Worker >= 2x tfjs-wasm": met in ${metTfjs} of ${total} cases.`,
    '',
    'The same ratios for the Worker answering the binary format (Accept: application/octet-stream, raw float32 rows):',
    '',
    table(['model', 'n', 'Worker f32 / ort-node (goal >= 0.5)', 'Worker f32 / tfjs-wasm (goal >= 2)', 'Worker f32 / ort-web (transport cost)', 'Worker f32 / Worker JSON'], binRows),
    '',
    `With the binary format: goal "Worker >= 50% of native" met in ${binNative} of ${total} cases, goal "Worker >= 2x tfjs-wasm" met in ${binTfjs} of ${total} cases.`,
    'In-process rows include making the input tensors and reading the output; Worker rows include HTTP, the noise drawn in the Worker and the whole body read by the client (JSON: encoded in the Worker, read as bytes and not parsed by the client; binary f32: the raw float32 rows, viewed as a Float32Array).',
  ].join('\n');
}
