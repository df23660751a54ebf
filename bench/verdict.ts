/**
 * What the project's classifier (train/classifier.ts) makes of a set of images:
 * the figures the image-quality floor is stated in (FD against test images, the
 * share classified with p >= 0.9, class coverage, the share classified as the
 * label asked for), and the reference sets every bench states them beside:
 * real test images, held-out training images and independent pixels.
 * Shared by bench/quality.ts and bench/temperature.ts.
 */
import { Prng } from '../core';
import { rows, type Dataset } from '../train/data';
import { EVAL_SEED } from '../train/evaluate';
import { classifier, CLASSES, CLASSIFIER_STEPS, FEATURES, frechet, HOLDOUT, QUICK_STEPS, type Classifier } from '../train/classifier';

/** What the classifier makes of a set of images (the figures the quality floor is stated in). */
export interface Verdict {
  /** FD vs the test images; undefined for the test images themselves (the reference) */
  fd?: number;
  /** share of images whose top class probability is >= 0.9 */
  confident: number;
  /** entropy of the predicted-class histogram / log C: 1 = uniform over the classes */
  coverage: number;
  /** share classified as their label (requested for samples, true for real images) */
  agree?: number;
  n: number;
}

export function verdict(cls: Classifier, x: Float32Array, ref: Float32Array | undefined, labels?: ArrayLike<number>): Verdict {
  const probs = cls.probs(x);
  const C = CLASSES;
  const n = probs.length / C;
  const hist = new Array<number>(C).fill(0);
  let confident = 0;
  let agree = 0;
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < C; c++) if (probs[i * C + c] > probs[i * C + best]) best = c;
    hist[best]++;
    if (probs[i * C + best] >= 0.9) confident++;
    if (labels && labels[i] === best) agree++;
  }
  const entropy = -hist.reduce((h, k) => (k ? h + (k / n) * Math.log(k / n) : h), 0);
  return {
    fd: ref ? frechet(cls.features(x), ref, FEATURES) : undefined,
    confident: confident / n,
    coverage: entropy / Math.log(C),
    agree: labels ? agree / n : undefined,
    n,
  };
}

/**
 * n images whose pixels are independent, each from its marginal over the training
 * split: pixel d of image i is pixel d of a training image drawn for that pixel alone;
 * dequantised like the test images. The anchor a model's FD is divided by.
 */
export function independentPixels(data: Dataset, n: number, rng: Prng): Float32Array {
  const D = data.shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n * D);
  for (let i = 0; i < n; i++) for (let d = 0; d < D; d++) out[i * D + d] = data.train[rng.int(data.nTrain) * D + d] + rng.uniform();
  return out;
}

/** The classifier of a data set and its verdicts on the reference sets, against the first `nS` of `test` (dequantised test rows). */
export async function imageReference(data: Dataset, name: string, test: Float32Array, nS: number, quick = false): Promise<{ cls: Classifier; ref: Float32Array; nRef: number; real: Verdict; held: Verdict; indep: Verdict }> {
  const D = data.shape.reduce((a, b) => a * b, 1);
  const cls = await classifier(name, quick ? QUICK_STEPS : CLASSIFIER_STEPS);
  const nRef = Math.min(nS, test.length / D);
  const refX = test.subarray(0, nRef * D);
  const ref = cls.features(refX);
  // the last HOLDOUT training rows: never seen by the classifier (nor, by construction, by this FD's test side)
  const heldIdx = Array.from({ length: Math.min(nS, HOLDOUT) }, (_, i) => data.nTrain - 1 - i);
  const held = rows(data, 'train', heldIdx, new Prng(EVAL_SEED + 5));
  return {
    cls, ref, nRef,
    real: verdict(cls, refX, undefined, data.testLabels?.subarray(0, nRef)),
    held: verdict(cls, held, ref, data.trainLabels ? heldIdx.map((j) => data.trainLabels![j]) : undefined),
    indep: verdict(cls, independentPixels(data, nS, new Prng(EVAL_SEED + 6)), ref),
  };
}
