/**
 * Sample quality against the sampling temperature, per shipped image model:
 * the request's `temperature` scales all the noise a sample request draws
 * (z ~ N(0, T^2 I), and the VAE's observation noise), as Glow samples at
 * T = 0.7. For each T, n conditional samples (row i asks for class i mod 10)
 * through the model's exported sample graph on onnxruntime-node, with the
 * noise the API draws (core/protocol.ts sampleNoiseFor), judged in the
 * project's classifier (bench/verdict.ts): FD against the test images and its
 * ratio to independent pixels', the share classified with p >= 0.9, class
 * coverage, and the share classified as the class asked for. T = 1 samples the
 * model as trained; lower T trades diversity for typical samples, which the
 * FD (diversity included) and the label share (fidelity) show side by side.
 *
 *   npx tsx bench/temperature.ts [--models id,id] [--temperatures 1,0.8,0.6] [--n 1000] [--quick]
 *
 * `default` in --temperatures is each model's sampleTemperature (1 where it
 * states none): `--temperatures default,1` measures what a request that names
 * no temperature gets, beside the model as trained.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Prng } from '../core';
import { oneHot, runSample, sampleNoiseFor, temperatureOf } from '../core/protocol';
import { initBackend } from '../train/backend';
import { loadDataset, resolveDatasetName, rows } from '../train/data';
import { EVAL_SEED } from '../train/evaluate';
import { openGraph } from '../export/ort';
import { benchArgs } from './args';
import { dim, fmt, isImage, log, MODELS_DIR, shipped, table } from './common';
import { imageReference, verdict } from './verdict';

const USAGE = 'npx tsx bench/temperature.ts [--models id,id] [--temperatures 1,0.9,0.8,0.7,0.6|default,1] [--n 1000] [--quick]';
const values = benchArgs(USAGE, { models: { type: 'string' }, temperatures: { type: 'string' }, n: { type: 'string' }, quick: { type: 'boolean' } });
const asked = (values.temperatures ?? '1,0.9,0.8,0.7,0.6').split(',');
if (asked.some((t) => t !== 'default' && !(Number(t) >= 0 && Number(t) <= 10))) throw new Error(`--temperatures: each 'default' or a number in [0, 10], got ${values.temperatures}`);
const quick = !!values.quick;
const n = Number(values.n ?? (quick ? 200 : 1000));
if (!Number.isInteger(n) || n < 10) throw new Error(`--n: an integer >= 10, got ${values.n}`);
const CHUNK = 250;
const SEED = 777;

await initBackend('wasm');
const wanted = values.models?.split(',').filter(Boolean);
const models = shipped().filter((m) => isImage(m) && m.capabilities.includes('sample') && (!wanted || wanted.includes(m.id)));
if (!models.length) throw new Error(`no shipped image model${wanted ? ` among ${wanted.join(', ')}` : ''}`);

const refs = new Map<string, Awaited<ReturnType<typeof imageReference>>>();
const out: (string | number)[][] = [];
for (const m of models) {
  const name = resolveDatasetName(m.dataset);
  if (!refs.has(name)) {
    const data = loadDataset(name);
    const test = rows(data, 'test', Array.from({ length: Math.min(n, data.nTest) }, (_, i) => i), new Prng(EVAL_SEED));
    const r = await imageReference(data, name, test, n, quick);
    refs.set(name, r);
    out.push([name, 'real: held-out training images', '-', fmt(r.held.fd!, 2), fmt(r.held.fd! / r.indep.fd!, 3), fmt(r.held.confident, 3), fmt(r.held.coverage, 3), fmt(r.held.agree ?? NaN, 3)]);
    out.push([name, 'independent pixels', '-', fmt(r.indep.fd!, 2), '1.000', fmt(r.indep.confident, 3), fmt(r.indep.coverage, 3), '-']);
  }
  const r = refs.get(name)!;
  const D = dim(m);
  const C = m.classes?.names.length ?? 0;
  const requested = C ? Int32Array.from({ length: n }, (_, i) => i % C) : undefined;
  const g = await openGraph(readFileSync(join(MODELS_DIR, m.id, 'sample.onnx')));
  for (const T of [...new Set(asked.map((t) => (t === 'default' ? temperatureOf(m) : Number(t))))]) {
    const t0 = performance.now();
    const x = new Float32Array(n * D);
    for (let o = 0; o < n; o += CHUNK) {
      const k = Math.min(CHUNK, n - o);
      const { z, noise } = sampleNoiseFor(m, SEED + o, k, T);
      const label = requested && oneHot(requested.subarray(o, o + k), C);
      x.set(await runSample(m, g.run, z, k, { noise, mode: 'sample', label }), o * D);
    }
    const v = verdict(r.cls, x.map((p) => Math.min(255.999, Math.max(0, p))), r.ref, requested);
    out.push([name, m.id, `${T}${T === temperatureOf(m) && m.sampleTemperature !== undefined ? ' (its sampleTemperature)' : ''}`, fmt(v.fd!, 2), fmt(v.fd! / r.indep.fd!, 3), fmt(v.confident, 3), fmt(v.coverage, 3), v.agree === undefined ? '-' : fmt(v.agree, 3)]);
    log(`${m.id} T=${T}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  await g.release();
}
console.log(table(['data set', 'images', 'temperature', 'FD vs test', 'FD / independent pixels', 'share classified with p >= 0.9', 'class coverage', 'share classified as its label'], out));
console.log(`\n${n} images per row, ${n / 10} per class for conditional models (row i asks for class i mod 10); FD against the first ${n} test images in the features of train/classifier.ts's MLP (${[...refs].map(([d, r]) => `${d}: ${r.cls.steps} steps, test accuracy ${(100 * r.cls.testAccuracy).toFixed(1)}%`).join('; ')}).`);
process.exit(0);
