/**
 * Anomaly / out-of-distribution scores from a model's log-density, and their
 * calibration on held-out in-distribution data. Pure maths: edge/ (the score
 * endpoint), web/ (the page), export/ (calibration) and bench/ (AUROC) all
 * compute scores with these functions, so a row scores the same everywhere.
 *
 * Why raw log p is not enough: deep generative models give simple inputs high
 * likelihood whatever they were trained on (a blank image beats a digit under
 * our MNIST models; a Fashion-MNIST Glow rates MNIST above its own test set,
 * Nalisnick et al. 2019). The scores here, per row, all in bits per dimension:
 *
 * - `nll`: -log2 p(x) / D, the raw score (higher = less likely);
 * - `complexity`: the lossless compressor's code length L(x) / D
 *   (core/complexity.ts); `corrected` = nll - complexity is Serrà et al.'s
 *   (2020) input-complexity score S(x), a likelihood ratio against the
 *   compressor as a universal background model;
 * - `typicality`: |nll - the held-out median| / the held-out spread on that
 *   side, a one-row typicality test (Nalisnick et al. 2019b): too likely is
 *   as suspect as too unlikely.
 *
 * `anomaly` (the method 'typicality+complexity') is the larger of the two
 * standardised tests, the one-sided corrected score and the typicality times
 * `typicalityWeight`: an input is an outlier when either test says so. The
 * threshold is calibrated on the combined score itself, so the false-positive
 * rate stays what was asked; the weight decides how that rate is shared
 * between the tests (TYPICALITY_WEIGHT says why it is under 1).
 * bench/ood.ts measures each score; BENCHMARKS.md says why this one.
 * 2-D (non-image) models have no meaningful compressor and no typicality
 * trap: their anomaly is the standardised nll, one-sided ('nll').
 */

export const SCORE_METHODS = ['typicality+complexity', 'nll'] as const;
/** The compressors behind `complexity` (core/complexity.ts says what each is); the first is what new calibrations use. */
export const COMPRESSORS = ['png-9', 'zlib-9'] as const;
export type Compressor = (typeof COMPRESSORS)[number];
export type ScoreMethod = (typeof SCORE_METHODS)[number];

/**
 * The typicality's weight in the anomaly of new calibrations. Every in-distribution
 * row the typicality flags raises the shared threshold, and the corrected score
 * with PNG's compressor is the stronger test on the other data set: bench/ood's
 * sets through each shipped image model (BENCHMARKS.md section 7) abstained on
 * 91.6% of MNIST under the Fashion-MNIST flow at weight 1 and 97.3% at 0.8, while
 * the MNIST models still flag the blank image (at 0.7 the MNIST flow no longer did).
 */
export const TYPICALITY_WEIGHT = 0.8;

/** Quantile levels stored in a calibration: 0, 0.005, ..., 1. */
export const CALIBRATION_LEVELS = 201;
/** The false-positive rate the score endpoint uses when the caller sets none. */
export const DEFAULT_FPR = 0.05;
/**
 * classify's default, below score's: an abstention withholds an answer the row
 * may deserve. bench/classify.ts over the shipped MNIST and Fashion-MNIST
 * density models (BENCHMARKS.md section 8): at 0.05 the MNIST VAE turned away
 * 5.5% of its own test digits; at 0.02 the Fashion-MNIST VAE answered 20% of
 * MNIST digits as clothes; at 0.04 every model turned away 3.4-4.2% of its
 * own test split and abstained on 95.5-99.8% of the other data set.
 */
export const CLASSIFY_FPR = 0.04;

/**
 * Robust location and one spread per side of one score over the calibration
 * rows: held-out log-likelihoods are skewed (a long tail of unlikely rows, a
 * short one of very likely rows), so a deviation is measured in units of its
 * own side's spread. Each spread is (median - q05) or (q95 - median) / 1.645,
 * the standard deviation for a normal.
 */
export interface Standardiser {
  median: number;
  lower: number;
  upper: number;
}

/** Signed deviation of v from the median, in units of its side's spread. */
export const standardise = (s: Standardiser, v: number): number => (v >= s.median ? (v - s.median) / s.upper : (v - s.median) / s.lower);

/** manifest.calibration: how `anomaly`, `percentile` and the threshold are computed for this model. */
export interface Calibration {
  method: ScoreMethod;
  /** how log p was estimated: the seed of the density noise, and the VAE's importance samples */
  estimator: { k: number; seed: number };
  /** the compressor behind `complexity` (core/complexity.ts), if used */
  compressor?: Compressor;
  /** the typicality's weight in the anomaly (absent: 1, the first calibrations') */
  typicalityWeight?: number;
  /** the held-out rows: where they come from, and how many */
  data: { dataset: string; split: string; rows: number };
  /** standardisers of nll and of nll - complexity (bits/dim) */
  nll: Standardiser;
  corrected?: Standardiser;
  /** anomaly-score quantiles at CALIBRATION_LEVELS evenly spaced levels 0..1, non-decreasing */
  quantiles: number[];
  /**
   * Class-conditional models: the classifier's abstention rule. A row whose top
   * posterior p(y | x) is under `threshold` abstains as uncertain; the threshold
   * is the (1 - coverage) quantile of the top posterior over the same held-out
   * rows, so `coverage` of in-distribution rows are answered. `accuracy`: the
   * share of the answered held-out rows whose label is right (and `overall`: of all).
   */
  confidence?: { coverage: number; threshold: number; accuracy: number; overall: number };
}

/** One row's scores. */
export interface RowScores {
  nll: number;
  complexity?: number;
  corrected?: number;
  typicality?: number;
  anomaly: number;
}

/** nll (bits/dim) of a log-density in nats over D dimensions. */
export const nllBits = (logp: number, D: number): number => -logp / (D * Math.LN2);

/** Median and per-side spreads of values (never below a tiny positive floor). */
export function standardiser(values: ArrayLike<number>): Standardiser {
  const s = Float64Array.from(values).sort();
  const median = quantileOfSorted(s, 0.5);
  const floor = 1e-9;
  return {
    median,
    lower: Math.max((median - quantileOfSorted(s, 0.05)) / 1.645, floor),
    upper: Math.max((quantileOfSorted(s, 0.95) - median) / 1.645, floor),
  };
}

/** The method a model's anomaly uses: images get the trap-proof combination. */
export const methodFor = (m: { shape: number[]; discrete?: boolean }): ScoreMethod => (m.discrete && m.shape.length === 2 ? 'typicality+complexity' : 'nll');

/**
 * Scores of one row: nll from log p (nats), complexity from the compressor
 * (bits/dim, images only). Without standardisers (no calibration yet) the
 * anomaly is nll - complexity, or nll.
 */
export function rowScores(
  logp: number,
  D: number,
  method: ScoreMethod,
  complexity: number | undefined,
  cal?: Pick<Calibration, 'nll' | 'corrected' | 'typicalityWeight'>,
): RowScores {
  const nll = nllBits(logp, D);
  if (method === 'nll' || complexity === undefined) {
    return { nll, anomaly: cal ? standardise(cal.nll, nll) : nll };
  }
  const corrected = nll - complexity;
  if (!cal || !cal.corrected) return { nll, complexity, corrected, anomaly: corrected };
  const typicality = Math.abs(standardise(cal.nll, nll));
  const correctedZ = standardise(cal.corrected, corrected);
  return { nll, complexity, corrected, typicality, anomaly: Math.max((cal.typicalityWeight ?? 1) * typicality, correctedZ) };
}

/** Linear-interpolated quantile (type 7) of sorted values at level p in [0, 1]. */
export function quantileOfSorted(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const h = (n - 1) * Math.min(1, Math.max(0, p));
  const lo = Math.floor(h);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

/** The calibration quantiles of anomaly scores: CALIBRATION_LEVELS values, non-decreasing. */
export function calibrationQuantiles(anomaly: ArrayLike<number>): number[] {
  const s = Float64Array.from(anomaly).sort();
  return Array.from({ length: CALIBRATION_LEVELS }, (_, i) => quantileOfSorted(s, i / (CALIBRATION_LEVELS - 1)));
}

/** One-sided 95% normal quantile: the confidence of `thresholdLevel`'s bound. */
const Z95 = 1.6448536269514722;

/**
 * The calibration level whose quantile is the outlier threshold at false-positive
 * rate `fpr`, from `rows` held-out rows: 1 - fpr raised by a one-sided 95%
 * binomial bound (normal approximation), z sqrt(fpr (1 - fpr) / rows), so that
 * new in-distribution rows are flagged at most `fpr` of the time with 95%
 * confidence over the held-out sample, not merely on average. The plain
 * (1 - fpr) quantile of 500 MNIST rows flagged 8.8% of the other 500 at fpr
 * 0.05; the bound puts the threshold at the 96.6% quantile there (95.8% for
 * Fashion-MNIST's 2000 rows), at most 1.
 */
export function thresholdLevel(fpr: number, rows: number): number {
  return Math.min(1, 1 - fpr + Z95 * Math.sqrt((fpr * (1 - fpr)) / Math.max(1, rows)));
}

/** The anomaly score above which a row is an outlier at false-positive rate `fpr` (`thresholdLevel`'s quantile of `rows` held-out scores). */
export function thresholdFor(quantiles: readonly number[], fpr: number, rows: number): number {
  return quantileOfSorted(quantiles, thresholdLevel(fpr, rows));
}

/**
 * Where `score` falls among the held-out scores, 0..100 (percent of held-out
 * rows that score lower): the inverse of the piecewise-linear quantile function,
 * 0 below the smallest and 100 above the largest.
 */
export function percentileOf(quantiles: readonly number[], score: number): number {
  const n = quantiles.length;
  if (!(score > quantiles[0])) return 0;
  if (score >= quantiles[n - 1]) return 100;
  let lo = 0;
  let hi = n - 1;
  // largest i with quantiles[i] < score (binary search; ties resolve to the last equal level)
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (quantiles[mid] < score) lo = mid;
    else hi = mid;
  }
  while (hi < n - 1 && quantiles[hi] === score) hi++;
  const span = quantiles[hi] - quantiles[lo];
  const frac = span > 0 ? Math.min(1, (score - quantiles[lo]) / span) : 1;
  return (100 * (lo + frac)) / (n - 1);
}

/** Checks a calibration read from a manifest: the problem, or null when it is usable. */
export function calibrationProblem(c: Calibration | undefined): string | null {
  if (!c) return 'no calibration';
  if (!(SCORE_METHODS as readonly string[]).includes(c.method)) return `unknown method '${c.method}'`;
  if (c.quantiles.length !== CALIBRATION_LEVELS) return `${c.quantiles.length} quantiles, expected ${CALIBRATION_LEVELS}`;
  for (let i = 0; i < c.quantiles.length; i++) {
    if (!Number.isFinite(c.quantiles[i])) return `quantile ${i} is not finite`;
    if (i > 0 && c.quantiles[i] < c.quantiles[i - 1]) return `quantiles decrease at ${i}`;
  }
  if (c.method === 'typicality+complexity' && !c.corrected) return 'typicality+complexity needs the corrected standardiser';
  if (c.typicalityWeight !== undefined && !(c.typicalityWeight >= 0 && Number.isFinite(c.typicalityWeight))) return `typicality weight ${c.typicalityWeight} is not a finite number >= 0`;
  return null;
}
