/**
 * A sample grid per shipped image model, as the API draws it
 * (POST /v1/models/{id}/sample?format=png, 64 samples, seed 1, VAEs' decoder
 * means, the Node app in process; MADE: 16 one-image requests, seeds 1-16), into docs/samples/<id>.png for the README. Deterministic: the
 * same seed gives the same picture on every runtime.
 *
 * Class-conditional models get a class grid instead: one row per class, 8
 * samples each, every row the request {n: 8, seed: 1, label: class} (MADE: 8
 * one-image requests, seeds 1-8), so a column keeps one z across the classes
 * and shows one style drawn as every class.
 *
 *   npx tsx bench/grids.ts [--models id,id] [--models-dir DIR] [--out DIR]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { descriptorOf } from '../core/families';
import type { ModelIndex } from '../core/manifest';
import { takesObservationNoise } from '../core/protocol';
import { createApp } from '../edge/app';
import { nodeRuntime } from '../edge/node/runtime';
import { encodePng } from '../core/png';
import { gridPng } from '../edge/app';
import { MODELS_DIR, ROOT, shipped } from './common';

/** samples per class in a class grid */
const PER_CLASS = 8;

const { values } = parseArgs({ options: { models: { type: 'string' }, 'models-dir': { type: 'string' }, out: { type: 'string' } } });
const dir = values['models-dir'] ? resolve(values['models-dir']) : MODELS_DIR;
const only = values.models?.split(',').filter(Boolean);
const app = createApp(nodeRuntime(dir));
const out = values.out ? resolve(values.out) : join(ROOT, 'docs', 'samples');
mkdirSync(out, { recursive: true });
// class names come from the manifests: the index may not list them
const classes = new Map(shipped(dir).map((m) => [m.id, m.classes]));
const index = (await (await app.request('/v1/models')).json()) as ModelIndex;
for (const m of index.models.filter((x) => x.shape.length === 2 && (!only || only.includes(x.id)))) {
  const C = classes.get(m.id)?.names.length ?? 0;
  const autoregressive = !!descriptorOf(m).protocol.autoregressive;
  const png = C
    ? await classGrid(m.id, m.shape, C, autoregressive, takesObservationNoise(m))
    : autoregressive
      ? await autoregressiveGrid(m.id, m.shape)
      : await apiGrid(m.id, takesObservationNoise(m));
  if (typeof png === 'string') {
    console.log(`${m.id}: ${png}`);
    continue;
  }
  writeFileSync(join(out, `${m.id}.png`), png.bytes);
  console.log(`${join(out, `${m.id}.png`)} (${png.n} samples${C ? `: ${C} classes x ${PER_CLASS}` : ''})`);
}

async function post(id: string, query: string, body: object): Promise<Response> {
  return app.request(`/v1/models/${id}/sample${query}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

/** 64 samples of seed 1 in one request, as PNG. */
async function apiGrid(id: string, decoderMeans: boolean): Promise<{ bytes: Uint8Array; n: number } | string> {
  const res = await post(id, '?format=png', { n: 64, seed: 1, ...(decoderMeans ? { mode: 'mean' } : {}) });
  return res.status === 200 ? { bytes: new Uint8Array(await res.arrayBuffer()), n: 64 } : `HTTP ${res.status} ${await res.text()}`;
}

/**
 * MADE samples one dimension per pass, so the API's work budget allows one image a
 * request: 16 requests (seeds 1-16, one image each), laid out by the API's own grid encoder.
 */
async function autoregressiveGrid(id: string, shape: number[]): Promise<{ bytes: Uint8Array; n: number } | string> {
  const n = 16;
  const D = shape.reduce((a, b) => a * b, 1);
  const all = new Float32Array(n * D);
  for (let i = 0; i < n; i++) {
    const res = await post(id, '', { n: 1, seed: i + 1 });
    if (res.status !== 200) return `HTTP ${res.status} ${await res.text()}`;
    all.set(((await res.json()) as { samples: number[][] }).samples[0], i * D);
  }
  return { bytes: gridPng(all, n, shape), n };
}

/**
 * One row per class: PER_CLASS samples of seed 1 asked for that class (MADE, one image a
 * request: seeds 1..PER_CLASS), JSON rows tiled C x PER_CLASS.
 */
async function classGrid(id: string, shape: number[], C: number, onePerRequest: boolean, decoderMeans: boolean): Promise<{ bytes: Uint8Array; n: number } | string> {
  const D = shape.reduce((a, b) => a * b, 1);
  const all = new Float32Array(C * PER_CLASS * D);
  const mode = decoderMeans ? { mode: 'mean' } : {};
  for (let c = 0; c < C; c++) {
    const requests = onePerRequest ? Array.from({ length: PER_CLASS }, (_, i) => ({ n: 1, seed: i + 1 })) : [{ n: PER_CLASS, seed: 1 }];
    let col = 0;
    for (const r of requests) {
      const res = await post(id, '', { ...r, label: c, ...mode });
      if (res.status !== 200) return `HTTP ${res.status} ${await res.text()}`;
      for (const row of ((await res.json()) as { samples: number[][] }).samples) all.set(row, (c * PER_CLASS + col++) * D);
    }
  }
  return { bytes: tiled(all, C, PER_CLASS, shape), n: C * PER_CLASS };
}

/** rows x cols grey images (pixel units [0, 256)) with a 1-pixel gap, as PNG: gridPng's look with the layout fixed. */
function tiled(samples: Float32Array, rows: number, cols: number, shape: number[]): Uint8Array {
  const [h, w] = shape;
  const width = cols * (w + 1) - 1;
  const height = rows * (h + 1) - 1;
  const pixels = new Uint8Array(width * height);
  for (let s = 0; s < rows * cols; s++) {
    const ox = (s % cols) * (w + 1);
    const oy = Math.floor(s / cols) * (h + 1);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) pixels[(oy + y) * width + ox + x] = Math.min(255, Math.max(0, Math.floor(samples[s * h * w + y * w + x])));
  }
  return encodePng(pixels, width, height, 1);
}
