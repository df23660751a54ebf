/**
 * Out-of-distribution benchmark, through the API: every image model with a
 * density (MNIST, Fashion-MNIST) scores, with POST /v1/models/{id}/score on the
 * Node app in process (real onnxruntime-node), its own data set's EVALUATION
 * rows (the second half of the test split, never used by the calibration, see
 * export/calibrate.ts) against out-of-distribution images:
 * - the other data set (Fashion-trained vs MNIST, MNIST-trained vs Fashion);
 * - uniform noise (each pixel uniform on 0..255);
 * - constant images (one per grey level 0..255; level 0 is the blank image).
 *
 * AUROC of in-distribution vs OOD for each score (higher = more anomalous):
 * raw nll (bits/dim), the complexity-corrected nll - L(x) (Serrà et al. 2020),
 * the typicality |nll - median| / spread (Nalisnick et al. 2019b), and the
 * endpoint's `anomaly` (their combination, core/score.ts). FPR: the share of
 * in-distribution evaluation rows the endpoint flags at the default fpr 0.05.
 *
 *   npx tsx bench/ood.ts [--models DIR] [--rows N]
 */
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { ScoreResponse } from '../core/api';
import type { Manifest } from '../core/manifest';
import { Prng } from '../core/prng';
import { DEFAULT_FPR, standardise } from '../core/score';
import { createApp } from '../edge/app';
import { nodeRuntime } from '../edge/node/runtime';
import { heldOutSplit } from '../export/calibrate';
import { loadDataset } from '../train/data';
import { fmt, log, MODELS_DIR, table } from './common';

const D = 784;

/** Area under the ROC curve of `inScores` (negatives) vs `outScores` (positives), ties counted half (Mann-Whitney U). */
export function auroc(inScores: ArrayLike<number>, outScores: ArrayLike<number>): number {
  const all = [...Array.from(inScores, (v) => ({ v, pos: 0 })), ...Array.from(outScores, (v) => ({ v, pos: 1 }))].sort((a, b) => a.v - b.v);
  let rankSum = 0;
  for (let i = 0; i < all.length; ) {
    let j = i;
    while (j < all.length && all[j].v === all[i].v) j++;
    const rank = (i + 1 + j) / 2; // average rank of the tie group (1-based)
    for (let t = i; t < j; t++) if (all[t].pos) rankSum += rank;
    i = j;
  }
  const nOut = outScores.length;
  const nIn = inScores.length;
  return (rankSum - (nOut * (nOut + 1)) / 2) / (nIn * nOut);
}

/** OOD image sets: uniform noise and the 256 constant images. */
export function syntheticSets(n: number, seed = 99): { noise: Float32Array; constant: Float32Array } {
  const rng = new Prng(seed);
  const noise = Float32Array.from(rng.uniforms(n * D), (u) => Math.floor(u * 256));
  const constant = new Float32Array(256 * D);
  for (let g = 0; g < 256; g++) constant.fill(g, g * D, (g + 1) * D);
  return { noise, constant };
}

type App = ReturnType<typeof createApp>;

/** All rows through POST .../score as float32 bodies of at most 500 rows (fewer where the model's listed limit is lower); the answers concatenated. */
export async function scoreAll(app: App, id: string, x: Float32Array, fpr = DEFAULT_FPR): Promise<Required<Pick<ScoreResponse, 'logp'>> & ScoreResponse> {
  const n = x.length / D;
  const parts: ScoreResponse[] = [];
  const detail = (await (await app.request(`/v1/models/${id}`)).json()) as { limits: { rows: number } };
  const per = Math.min(500, detail.limits.rows);
  for (let o = 0; o < n; o += per) {
    const b = Math.min(per, n - o);
    const body = new Uint8Array(x.slice(o * D, (o + b) * D).buffer);
    const res = await app.request(`/v1/models/${id}/score?fpr=${fpr}`, { method: 'POST', body, headers: { 'content-type': 'application/octet-stream', 'x-edgegen-shape': `${b},${D}` } });
    if (res.status !== 200) throw new Error(`${id} score: ${res.status} ${await res.text()}`);
    parts.push((await res.json()) as ScoreResponse);
  }
  const cat = <K extends keyof ScoreResponse>(k: K) => (parts[0][k] === undefined ? undefined : parts.flatMap((p) => p[k] as unknown[]));
  return { ...parts[0], logp: cat('logp') as number[], bitsPerDim: cat('bitsPerDim') as number[], complexity: cat('complexity') as number[], anomaly: cat('anomaly') as number[], percentile: cat('percentile') as number[], outlier: cat('outlier') as boolean[] };
}

export interface OodRow {
  model: string;
  pair: string;
  rows: [number, number];
  meanNll: [number, number];
  auroc: { nll: number; corrected: number; typicality: number; anomaly: number };
}

export async function ood(modelsDir = MODELS_DIR, maxRows = 1000): Promise<{ rows: OodRow[]; fpr: Array<{ model: string; fpr: number; rows: number }>; skipped: string[] }> {
  const app = createApp(nodeRuntime(modelsDir));
  const manifests: Manifest[] = readdirSync(modelsDir)
    .filter((d) => existsSync(join(modelsDir, d, 'manifest.json')))
    .map((d) => JSON.parse(readFileSync(join(modelsDir, d, 'manifest.json'), 'utf8')) as Manifest);
  const skipped: string[] = [];
  const evalRows = (name: string) => {
    const e = heldOutSplit(loadDataset(name)).evaluation;
    return e.subarray(0, Math.min(maxRows, e.length / D) * D);
  };
  const sets = { mnist: evalRows('mnist'), 'fashion-mnist': evalRows('fashion-mnist'), ...syntheticSets(500) };
  const rows: OodRow[] = [];
  const fprs: Array<{ model: string; fpr: number; rows: number }> = [];
  for (const m of manifests.sort((a, b) => a.id.localeCompare(b.id))) {
    if (!m.capabilities.includes('density')) continue;
    if (!(m.dataset in sets) || m.shape.length !== 2) {
      skipped.push(m.id);
      continue;
    }
    const cal = m.calibration;
    if (!cal) {
      // shipped without calibration on purpose (models/MODELS.md says why): nothing to measure
      skipped.push(`${m.id} (uncalibrated)`);
      continue;
    }
    log(`ood: ${m.id}`);
    const score = async (x: Float32Array) => {
      const r = await scoreAll(app, m.id, x);
      const nll = r.bitsPerDim!;
      return {
        nll,
        corrected: nll.map((v, i) => v - r.complexity![i]),
        typicality: nll.map((v) => Math.abs(standardise(cal.nll, v))),
        anomaly: r.anomaly!,
        outlier: r.outlier!,
      };
    };
    const own = await score(sets[m.dataset as 'mnist' | 'fashion-mnist']);
    fprs.push({ model: m.id, fpr: own.outlier.filter(Boolean).length / own.outlier.length, rows: own.outlier.length });
    const other = m.dataset === 'mnist' ? 'fashion-mnist' : 'mnist';
    for (const [name, x] of [[other, sets[other]], ['noise', sets.noise], ['constant', sets.constant]] as const) {
      const s = await score(x);
      const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
      rows.push({
        model: m.id,
        pair: `${m.dataset} vs ${name}`,
        rows: [own.nll.length, s.nll.length],
        meanNll: [mean(own.nll), mean(s.nll)],
        auroc: { nll: auroc(own.nll, s.nll), corrected: auroc(own.corrected, s.corrected), typicality: auroc(own.typicality, s.typicality), anomaly: auroc(own.anomaly, s.anomaly) },
      });
    }
  }
  return { rows, fpr: fprs, skipped };
}

export function oodTables(r: Awaited<ReturnType<typeof ood>>): string {
  const a = table(
    ['model', 'in vs out', 'rows in / out', 'mean nll in / out (bits/dim)', 'AUROC raw nll', 'nll - L(x)', 'typicality', '**anomaly**'],
    r.rows.map((x) => [x.model, x.pair, `${x.rows[0]} / ${x.rows[1]}`, `${fmt(x.meanNll[0])} / ${fmt(x.meanNll[1])}`, fmt(x.auroc.nll), fmt(x.auroc.corrected), fmt(x.auroc.typicality), `**${fmt(x.auroc.anomaly)}**`]),
  );
  const b = table(['model', 'in-distribution evaluation rows', `flagged at fpr ${DEFAULT_FPR}`], r.fpr.map((f) => [f.model, f.rows, fmt(f.fpr)]));
  return `${a}\n\n${b}${r.skipped.length ? `\n\nNot measured (2-D models have no OOD pairs; uncalibrated ones no anomaly): ${r.skipped.join(', ')}` : ''}`;
}

if (process.argv[1] === import.meta.filename) {
  const { values } = parseArgs({ options: { models: { type: 'string' }, rows: { type: 'string' } } });
  const r = await ood(values.models ?? MODELS_DIR, Number(values.rows ?? 1000));
  console.log(oodTables(r));
}
