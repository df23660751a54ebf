/**
 * POST /v1/models/{id}/score: the anomaly score of each row (core/score.ts),
 * on top of the density endpoint's computation (infer.ts `density`, so the
 * rows are checked the same way and answer the same errors). The log-density
 * is estimated as the calibration estimated it (manifest.calibration.estimator:
 * the VAE's k), so a row's anomaly is comparable with the held-out quantiles.
 */
import type { ScoreResponse } from '../core/api';
import { complexityBits } from '../core/complexity';
import type { Manifest } from '../core/manifest';
import { dataDim } from '../core/protocol';
import { calibrationProblem, methodFor, percentileOf, rowScores, thresholdFor } from '../core/score';
import { budget } from './budget';
import { density } from './infer';
import type { ModelStore } from './store';
import type { Phases } from './timing';

/** JSON numbers at float32-ish precision (9 significant digits), as the other endpoints print them. */
const num = (v: number) => Number(v.toPrecision(9));

/** Importance samples the score estimates log p with: the calibration's, else the density default. */
export const scoreK = (m: Manifest): number => m.calibration?.estimator.k ?? 1;

export function scoreBudget(body: { x: number[][]; seed: number }, m: Manifest): void {
  budget.density({ x: body.x, k: scoreK(m), seed: body.seed }, m);
}

export async function score(store: ModelStore, m: Manifest, req: { x: number[][]; fpr: number; seed: number }, ph?: Phases): Promise<ScoreResponse> {
  const D = dataDim(m);
  const r = await density(store, m, { x: req.x, k: scoreK(m), seed: req.seed }, ph);
  const logp = Array.from(r.logp, num);
  const res: ScoreResponse = { logp, kind: r.kind, fpr: req.fpr };
  if (m.discrete) res.bitsPerDim = logp.map((lp) => num(-lp / (D * Math.LN2)));
  const method = m.calibration?.method ?? methodFor(m);
  // images: the compressor's code length of the integer pixels the density saw
  const complexity = method === 'typicality+complexity' ? req.x.map((row) => complexityBits(row)) : undefined;
  if (complexity) res.complexity = complexity.map(num);
  const problem = calibrationProblem(m.calibration);
  if (problem || !m.calibration) {
    res.uncalibrated = `${m.id} has ${problem ?? 'no calibration'}: anomaly, percentile, outlier and threshold need held-out quantiles measured at export (re-export it with npm run export)`;
    return res;
  }
  const cal = m.calibration;
  const threshold = thresholdFor(cal.quantiles, req.fpr);
  const anomaly = logp.map((lp, i) => rowScores(lp, D, cal.method, complexity?.[i], cal).anomaly);
  return {
    ...res,
    method: cal.method,
    anomaly: anomaly.map(num),
    percentile: anomaly.map((a) => num(percentileOf(cal.quantiles, a))),
    outlier: anomaly.map((a) => a > threshold),
    threshold: num(threshold),
  };
}
