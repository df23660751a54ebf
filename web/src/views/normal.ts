/**
 * "Is this normal?": one input scored by every density model that takes it
 * (images: every image model with a density, whatever it was trained on; 2-D
 * points: the models of the same data set), side by side: log p, the anomaly
 * score, its percentile among the model's held-out rows and the verdict at the
 * calibrated threshold for fpr 0.05. The score is core/score.ts, the code the
 * API's /score runs, on the log p this page's engine computes (in this browser
 * or through the API), with the calibration's estimator (seed, VAE k).
 */
import { complexityBits } from '../../../core/complexity';
import type { Manifest } from '../../../core/manifest';
import { calibrationProblem, DEFAULT_FPR, percentileOf, rowScores, thresholdFor } from '../../../core/score';
import { dataDim } from '../../../core/spec';
import { $, app, isImage } from '../app';

export interface Verdict {
  id: string;
  family: string;
  dataset: string;
  logp: number;
  bitsPerDim?: number;
  anomaly?: number;
  percentile?: number;
  outlier?: boolean;
  why?: string;
  /** class-conditional models: p(y | x), the top class, and why it abstains (null: the label stands) */
  posterior?: number[];
  label?: string;
  abstain?: 'out_of_distribution' | 'uncertain' | null;
}

/** The models that take this input: image models for images, same-data-set models for points. */
async function scorers(current: Manifest): Promise<Manifest[]> {
  const ids = app.index.models.filter((e) => e.capabilities.includes('density') && (isImage(current) ? isImage(e) : e.dataset === current.dataset)).map((e) => e.id);
  return Promise.all(ids.map((id) => app.manifest(id)));
}

export async function verdict(m: Manifest, x: Float32Array, seed: number): Promise<Verdict> {
  const cal = m.calibration;
  const k = cal?.estimator.k ?? 1;
  const res = await app.engine().density(m, [x], { seed, k });
  const logp = res.logp[0];
  const D = dataDim(m);
  const base: Verdict = { id: m.id, family: m.family, dataset: m.dataset, logp, ...(res.bitsPerDim ? { bitsPerDim: res.bitsPerDim[0] } : {}) };
  const post = res.posterior?.[0];
  if (post && m.classes) {
    const top = post.indexOf(Math.max(...post));
    Object.assign(base, { posterior: post, label: m.classes.names[top] });
  }
  const problem = calibrationProblem(cal);
  if (problem || !cal) return { ...base, why: `${problem ?? 'no calibration'}: re-export the model to calibrate it` };
  const complexity = cal.method === 'typicality+complexity' ? complexityBits(x) : undefined;
  const anomaly = rowScores(logp, D, cal.method, complexity, cal).anomaly;
  const outlier = anomaly > thresholdFor(cal.quantiles, DEFAULT_FPR);
  // the API's classify rule (edge/score.ts): an outlier is no class; a low top posterior is unsure
  const abstain = post ? (outlier ? 'out_of_distribution' : cal.confidence && Math.max(...post) < cal.confidence.threshold ? 'uncertain' : null) : undefined;
  return { ...base, anomaly, percentile: percentileOf(cal.quantiles, anomaly), outlier, ...(abstain !== undefined ? { abstain } : {}) };
}

/** The posterior as a small bar chart, the label and the abstention, in one cell. */
function classCell(v: Verdict): HTMLTableCellElement {
  const td = document.createElement('td');
  if (!v.posterior) {
    td.textContent = '–';
    return td;
  }
  const bars = document.createElement('span');
  bars.className = 'posterior';
  const top = Math.max(...v.posterior);
  for (const p of v.posterior) {
    const bar = document.createElement('span');
    bar.style.height = `${Math.max(1, Math.round(p * 24))}px`;
    if (p === top) bar.className = 'top';
    bars.append(bar);
  }
  const text = v.abstain === 'out_of_distribution' ? `none of these (${v.label} at ${(top * 100).toFixed(0)}%)` : v.abstain === 'uncertain' ? `unsure (${v.label} at ${(top * 100).toFixed(0)}%)` : `${v.label} (${(top * 100).toFixed(1)}%)`;
  td.append(bars, document.createTextNode(text));
  td.dataset.label = v.label;
  td.dataset.abstain = v.abstain ?? '';
  return td;
}

const cell = (text: string, cls?: string): HTMLTableCellElement => {
  const td = document.createElement('td');
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
};

/** Scores `x` with every model that takes it and fills #normal-table. */
export async function renderVerdicts(current: Manifest, x: Float32Array, seed: number): Promise<Verdict[]> {
  const body = $('normal-table').querySelector('tbody')!;
  body.replaceChildren();
  $('normal-out').dataset.done = '';
  const out: Verdict[] = [];
  for (const m of await scorers(current)) {
    const v = await verdict(m, x, seed);
    out.push(v);
    const tr = document.createElement('tr');
    tr.dataset.model = v.id;
    tr.dataset.outlier = v.outlier === undefined ? '' : String(v.outlier);
    if (v.anomaly !== undefined) tr.dataset.anomaly = String(v.anomaly);
    tr.append(
      cell(`${v.id}`),
      cell(`${v.family}, ${v.dataset}`),
      cell(v.bitsPerDim !== undefined ? `${v.bitsPerDim.toFixed(3)} bits/dim` : `${v.logp.toFixed(2)} nats`),
      cell(v.anomaly !== undefined ? v.anomaly.toFixed(2) : '–'),
      cell(v.percentile !== undefined ? `${v.percentile.toFixed(1)}%` : '–'),
      cell(v.outlier === undefined ? `no verdict (${v.why})` : v.outlier ? 'anomaly' : 'normal', v.outlier ? 'verdict-out' : v.outlier === false ? 'verdict-in' : ''),
      classCell(v),
    );
    body.append(tr);
  }
  $('normal-out').dataset.done = 'true';
  return out;
}
