/**
 * "Is this normal?": one input scored by every density model that takes it
 * (images: every image model with a density, whatever it was trained on; 2-D
 * points: the models of the same data set), side by side: log p, the anomaly
 * score, its percentile among the model's held-out rows and the verdict at the
 * calibrated threshold for fpr 0.05 (abstention: classify's 0.04). Score and abstention are the library's
 * (web/lib/score.ts: core/score.ts, the rules the API's /score and /classify
 * run), on the log p this page's engine computes (in this browser or through
 * the API), with the calibration's estimator (seed, VAE k).
 */
import type { Manifest } from '../../../core/manifest';
import { CLASSIFY_FPR, DEFAULT_FPR } from '../../../core/score';
import { classifyDensity, scoreDensity, scoreK } from '../../lib';
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
  const res = await app.engine().density(m, [x], { seed, k: scoreK(m) });
  const base: Verdict = { id: m.id, family: m.family, dataset: m.dataset, logp: res.logp[0], ...(res.bitsPerDim ? { bitsPerDim: res.bitsPerDim[0] } : {}) };
  // the library's rules, the API's: score's anomaly, and classify's abstention on top of it
  const s = scoreDensity(m, [x], res, DEFAULT_FPR);
  const c = m.classes && res.posterior ? classifyDensity(m, [x], res, CLASSIFY_FPR) : undefined;
  if (c) Object.assign(base, { posterior: c.posterior[0], label: c.name[0] });
  if (s.uncalibrated || !s.anomaly) return { ...base, why: `${s.uncalibrated ?? 'no calibration'}; re-export the model to calibrate it` };
  return { ...base, anomaly: s.anomaly[0], percentile: s.percentile![0], outlier: s.outlier![0], ...(c ? { abstain: c.abstain[0] } : {}) };
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
