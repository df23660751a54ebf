/**
 * From log-densities to the answers of the API's /score and /classify: the
 * anomaly score of core/score.ts against the calibration the export measured,
 * and Bayes' rule with abstention. Pure functions of a density result, so they
 * serve a density computed here or one the API sent (the page does both).
 */
import { complexityBits } from '../../core/complexity';
import type { DensityKind, Manifest } from '../../core/manifest';
import { dataDim } from '../../core/protocol';
import { calibrationProblem, methodFor, percentileOf, rowScores, thresholdFor, type ScoreMethod } from '../../core/score';

/** log p(x) per row, in nats, and what goes with it (the API's density answer). */
export interface Density {
  logp: number[];
  kind: DensityKind;
  /** image models: -logp / (D ln 2) */
  bitsPerDim?: number[];
  /** VAE: the ELBO per row from the same draws */
  elbo?: number[];
  /** conditional models: p(y | x) per row over the classes */
  posterior?: number[][];
}

export interface Score {
  logp: number[];
  kind: DensityKind;
  bitsPerDim?: number[];
  /** image models: the compressor's code length per row, bits/dim */
  complexity?: number[];
  fpr: number;
  method?: ScoreMethod;
  /** higher = more anomalous (calibrated models only, as the fields below) */
  anomaly?: number[];
  /** percent of held-out in-distribution rows whose anomaly is lower */
  percentile?: number[];
  outlier?: boolean[];
  /** the anomaly above which a row is an outlier at this fpr */
  threshold?: number;
  /** why anomaly, percentile, outlier and threshold are missing, when they are */
  uncalibrated?: string;
}

/** null where the label stands; why the row gets none otherwise */
export type Abstain = 'out_of_distribution' | 'uncertain';

export interface Classification {
  /** the class names in id order: the columns of `posterior` */
  classes: string[];
  posterior: number[][];
  /** the most probable class id per row, its name and its posterior probability */
  label: number[];
  name: string[];
  probability: number[];
  logp: number[];
  kind: DensityKind;
  anomaly?: number[];
  outlier?: boolean[];
  abstain: Array<Abstain | null>;
  fpr: number;
  threshold?: number;
  /** the top posterior under which a row abstains as uncertain, and the held-out share it answers */
  confidence?: number;
  coverage?: number;
  uncalibrated?: string;
}

/** Importance samples a score estimates log p with: the calibration's, so a row's anomaly compares with its quantiles. */
export const scoreK = (m: Manifest): number => m.calibration?.estimator.k ?? 1;

/** The anomaly scores of rows `x` whose log-densities `d` holds (estimated with `scoreK`). */
export function scoreDensity(m: Manifest, x: ReadonlyArray<ArrayLike<number>>, d: Density, fpr: number): Score {
  const D = dataDim(m);
  const cal = m.calibration;
  const method = cal?.method ?? methodFor(m);
  // images: the code length of the integer pixels the density saw
  const complexity = method === 'typicality+complexity' ? x.map((row) => complexityBits(row, m.shape[1], cal?.compressor)) : undefined;
  const base: Score = { logp: d.logp, kind: d.kind, ...(d.bitsPerDim ? { bitsPerDim: d.bitsPerDim } : {}), ...(complexity ? { complexity } : {}), fpr };
  const problem = calibrationProblem(cal);
  if (problem || !cal) return { ...base, uncalibrated: `${m.id} has ${problem ?? 'no calibration'}: anomaly, percentile, outlier and threshold need held-out quantiles measured at export` };
  const threshold = thresholdFor(cal.quantiles, fpr, cal.data.rows);
  const anomaly = d.logp.map((lp, i) => rowScores(lp, D, cal.method, complexity?.[i], cal).anomaly);
  return {
    ...base,
    method: cal.method,
    anomaly,
    percentile: anomaly.map((a) => percentileOf(cal.quantiles, a)),
    outlier: anomaly.map((a) => a > threshold),
    threshold,
  };
}

/**
 * Bayes' posterior from `d` (a conditional model's density), the top class per
 * row, and abstention: out_of_distribution where the score calls the row an
 * outlier, uncertain where the top posterior is under the threshold the export
 * calibrated (manifest.calibration.confidence).
 */
export function classifyDensity(m: Manifest, x: ReadonlyArray<ArrayLike<number>>, d: Density, fpr: number): Classification {
  if (!m.classes || !d.posterior) throw new Error(`${m.id} cannot classify: it is not class-conditional`);
  const names = m.classes.names;
  const s = scoreDensity(m, x, d, fpr);
  // an uncalibrated model has no measured confidence threshold either: nothing abstains
  const conf = s.uncalibrated ? undefined : m.calibration?.confidence;
  const label = d.posterior.map((row) => row.reduce((best, p, y) => (p > row[best] ? y : best), 0));
  const probability = label.map((y, i) => d.posterior![i][y]);
  const abstain = probability.map((p, i): Abstain | null => (s.outlier?.[i] ? 'out_of_distribution' : conf && p < conf.threshold ? 'uncertain' : null));
  const out: Classification = { classes: [...names], posterior: d.posterior, label, name: label.map((y) => names[y]), probability, logp: d.logp, kind: d.kind, abstain, fpr };
  if (s.uncalibrated) return { ...out, uncalibrated: s.uncalibrated };
  return { ...out, anomaly: s.anomaly, outlier: s.outlier, threshold: s.threshold, ...(conf ? { confidence: conf.threshold, coverage: conf.coverage } : {}) };
}
