/**
 * POST /v1/models/{id}/score: the anomaly score of each row (core/score.ts),
 * on top of the density endpoint's computation (engine.ts `Engine.density`, so the
 * rows are checked the same way and answer the same errors). The log-density
 * is estimated as the calibration estimated it (manifest.calibration.estimator:
 * the VAE's k), so a row's anomaly is comparable with the held-out quantiles.
 */
import type { ClassifyResponse, ScoreResponse } from '../core/api';
import { complexityBits } from '../core/complexity';
import type { Manifest } from '../core/manifest';
import { dataDim } from '../core/protocol';
import { calibrationProblem, methodFor, percentileOf, rowScores, thresholdFor } from '../core/score';
import { HttpError, budget, type DensityResult, type Engine, type Phases } from './engine';

/** JSON numbers at float32-ish precision (9 significant digits), as the other endpoints print them. */
const num = (v: number) => Number(v.toPrecision(9));

/** Importance samples the score estimates log p with: the calibration's, else the density default. */
export const scoreK = (m: Manifest): number => m.calibration?.estimator.k ?? 1;

export function scoreBudget(body: { x: number[][]; seed: number }, m: Manifest): void {
  budget.density({ x: body.x, k: scoreK(m), seed: body.seed }, m);
}

/** The anomaly fields of rows whose log-densities `r` holds (core/score.ts), or why the model cannot give them. */
function anomalies(m: Manifest, r: DensityResult, x: number[][], fpr: number) {
  const D = dataDim(m);
  const logp = Array.from(r.logp, num);
  const method = m.calibration?.method ?? methodFor(m);
  // images: the compressor's code length of the integer pixels the density saw
  const complexity = method === 'typicality+complexity' ? x.map((row) => complexityBits(row, m.shape[1], m.calibration?.compressor)) : undefined;
  const problem = calibrationProblem(m.calibration);
  if (problem || !m.calibration) {
    return { logp, complexity, uncalibrated: `${m.id} has ${problem ?? 'no calibration'}: anomaly, percentile, outlier and threshold need held-out quantiles measured at export (re-export it with npm run export)` };
  }
  const cal = m.calibration;
  const threshold = thresholdFor(cal.quantiles, fpr, cal.data.rows);
  const anomaly = logp.map((lp, i) => rowScores(lp, D, cal.method, complexity?.[i], cal).anomaly);
  return { logp, complexity, cal, anomaly, threshold, outlier: anomaly.map((a) => a > threshold) };
}

export async function score(engine: Engine, m: Manifest, req: { x: number[][]; fpr: number; seed: number }, ph?: Phases): Promise<ScoreResponse> {
  const D = dataDim(m);
  const r = await engine.density(m, { x: req.x, k: scoreK(m), seed: req.seed }, ph);
  const a = anomalies(m, r, req.x, req.fpr);
  const res: ScoreResponse = { logp: a.logp, kind: r.kind, fpr: req.fpr };
  if (m.discrete) res.bitsPerDim = a.logp.map((lp) => num(-lp / (D * Math.LN2)));
  if (a.complexity) res.complexity = a.complexity.map(num);
  if (!a.cal) return { ...res, uncalibrated: a.uncalibrated };
  return {
    ...res,
    method: a.cal.method,
    anomaly: a.anomaly.map(num),
    percentile: a.anomaly.map((v) => num(percentileOf(a.cal.quantiles, v))),
    outlier: a.outlier,
    threshold: num(a.threshold),
  };
}

/**
 * POST /v1/models/{id}/classify: Bayes' rule over the class-conditional
 * densities of the same density run as score (so the row's log p(x), anomaly
 * and outlier are score's, bit for bit), and abstention: out_of_distribution
 * where score calls the row an outlier, uncertain where the top posterior is
 * under the threshold the export calibrated (manifest.calibration.confidence).
 */
export async function classify(engine: Engine, m: Manifest, req: { x: number[][]; fpr: number; seed: number }, ph?: Phases): Promise<ClassifyResponse> {
  if (!m.classes) {
    throw new HttpError(422, 'capability_unavailable', `${m.id} cannot classify: it is not class-conditional (it models p(x) without labels, so it has no p(x | y) to apply Bayes' rule to)`);
  }
  const names = m.classes.names;
  const C = names.length;
  const r = await engine.density(m, { x: req.x, k: scoreK(m), seed: req.seed }, ph);
  const post = r.posterior!;
  const a = anomalies(m, r, req.x, req.fpr);
  const conf = a.cal?.confidence;
  const n = req.x.length;
  const res: ClassifyResponse = { classes: names, posterior: [], label: [], name: [], probability: [], logp: a.logp, kind: r.kind, abstain: [], fpr: req.fpr };
  for (let i = 0; i < n; i++) {
    const row = Array.from(post.subarray(i * C, (i + 1) * C), num);
    let best = 0;
    for (let y = 1; y < C; y++) if (row[y] > row[best]) best = y;
    res.posterior.push(row);
    res.label.push(best);
    res.name.push(names[best]);
    res.probability.push(row[best]);
    res.abstain.push(a.outlier?.[i] ? 'out_of_distribution' : conf && row[best] < conf.threshold ? 'uncertain' : null);
  }
  if (!a.cal) return { ...res, uncalibrated: a.uncalibrated };
  return { ...res, anomaly: a.anomaly.map(num), outlier: a.outlier, threshold: num(a.threshold), ...(conf ? { confidence: num(conf.threshold), coverage: conf.coverage } : {}) };
}
