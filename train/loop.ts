/**
 * The training loop, shared by the CLI, the tests and the bench:
 * pick a backend, load data, build or resume a model, step with seeded noise,
 * evaluate on held-out data, write metrics.jsonl, a picture and an atomic
 * checkpoint at each evaluation, and stop cleanly on NaN/Inf.
 *
 * Reproducibility: step s draws its noise from Prng(mix(seed, s)) and the
 * batch order from a seeded permutation per epoch whose position is saved, so
 * a resumed run sees the same batches and noise it would have seen unbroken.
 *
 * Host syncs: losses stay on the backend as running sums and are read back only
 * when a progress line is due (and at each evaluation), so an asynchronous
 * backend (webgpu, CUDA) is not stalled every step; a NaN is still caught,
 * within one progress interval. The next batch is built and uploaded while
 * the current step's work is queued.
 */
import * as tf from '@tensorflow/tfjs';
import { appendFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dataDim, familyOf, Prng, usesConv, type Arch, type Family, type ModelSpec, type TrainDefaults } from '../core';
import { assertConvTrainable, initBackend, type BackendName } from './backend';
import { readCheckpoint, writeCheckpoint, type TrainMeta } from './checkpoint';
import { Batches, conditioning, labelRows, loadDataset, rows, stats } from './data';
import { evaluate, picture, type EvalOptions } from './evaluate';
import { buildModel, defaultSpec, isImageDataset, type TrainableModel } from './models';

export interface TrainConfig {
  family: Family;
  model?: string;
  data: string;
  backend?: BackendName;
  /** stop after this many steps (total, counting resumed ones) */
  steps: number;
  /** wall-clock budget in minutes for this invocation (stops early, then evaluates and saves) */
  minutes?: number;
  batch: number;
  lr: number;
  seed: number;
  out: string;
  resume: boolean;
  evalEvery: number;
  eval?: EvalOptions;
  size?: 'default' | 'tiny';
  /** 'conv': conv VAE / DCGAN-style GAN (images; backends with conv gradients) */
  arch?: Arch;
  /** learn p(x | y) over the data set's classes (labelled image sets) */
  conditional?: boolean;
  /**
   * A fresh run starts from this checkpoint's weights (its architecture, plus
   * `conditional`): every weight it names keeps its trained value, the new ones
   * (a conditional model's class weights) their initial one. How an
   * unconditional model that took an hour of CPU becomes a conditional one in
   * minutes, instead of starting over.
   */
  initFrom?: string;
  /** conditional models: weight of the label's cross-entropy in a hybrid objective (families with setLabelWeight) */
  labelWeight?: number;
  /** images: translate each training row by up to this many pixels (augmentation; data/index.ts `shiftedRows`) */
  shift?: number;
  /** MADE: hidden widths and components per conditional in place of the defaults (core/families/types.ts `SpecOptions`) */
  hidden?: number[];
  components?: number;
  /** the command line, recorded in the checkpoint */
  command: string;
  /** progress bar and messages on stderr (default true) */
  verbose?: boolean;
  /** XNNPACK threads for the wasm backend (default: one per core) */
  threads?: number;
  /** seconds between progress lines when stderr is not a terminal (CI logs, nohup); default 5 */
  logEvery?: number;
}

export interface TrainResult {
  step: number;
  metrics: Record<string, number>;
  history: Array<{ step: number; metrics: Record<string, number> }>;
  backend: { name: string; device: string };
  seconds: number;
  stepsPerSec: number;
  checkpoint: string;
  stopped: 'steps' | 'minutes' | 'nan';
}

/** Defaults per (family, data, model): what `npm run train` uses when a flag is absent (the family's descriptor says). */
export function defaults(family: Family, data: string, model?: string): TrainDefaults {
  const d = familyOf(family);
  return d.trainDefaults(model ?? Object.keys(d.models)[0], isImageDataset(data));
}

export function stepSeed(seed: number, step: number): number {
  return (Math.imul(seed ^ 0x5bd1e995, 0x27d4eb2d) + Math.imul(step + 1, 0x9e3779b9)) >>> 0;
}

export class NonFiniteLossError extends Error {
  override name = 'NonFiniteLossError';
}

function fmtTime(s: number): string {
  if (!Number.isFinite(s)) return '--:--';
  const m = Math.floor(s / 60);
  return `${m}:${String(Math.floor(s % 60)).padStart(2, '0')}`;
}

export async function train(cfg: TrainConfig): Promise<TrainResult> {
  const say = (s: string) => cfg.verbose !== false && process.stderr.write(s + '\n');
  const backend = await initBackend(cfg.backend, { threads: cfg.threads });
  if (cfg.arch === 'conv') assertConvTrainable(tf.getBackend());
  say(`backend: ${backend.name} (${backend.device})` + (backend.skipped && Object.keys(backend.skipped).length ? `; skipped ${Object.entries(backend.skipped).map(([k, v]) => `${k}: ${v}`).join('; ')}` : ''));
  const ds = loadDataset(cfg.data);
  mkdirSync(cfg.out, { recursive: true });
  const ckPath = join(cfg.out, 'checkpoint.egck');
  const metricsPath = join(cfg.out, 'metrics.jsonl');

  let spec: ModelSpec;
  let model: TrainableModel;
  let step = 0;
  let secondsBefore = 0;
  const batches = new Batches(ds, cfg.batch, cfg.seed, cfg.shift);
  if (cfg.resume && existsSync(ckPath)) {
    const ck = readCheckpoint(ckPath);
    const meta = ck.meta as Partial<TrainMeta> & { batches?: { epoch: number; index: number } };
    if (meta.dataset !== ds.name) throw new Error(`${ckPath} was trained on ${meta.dataset}, not ${ds.name}`);
    if (ck.spec.family !== cfg.family) throw new Error(`${ckPath} holds a ${ck.spec.family}, not a ${cfg.family}`);
    spec = ck.spec;
    if (usesConv(spec)) assertConvTrainable(tf.getBackend());
    model = buildModel(spec, ck.weights, { seed: cfg.seed });
    model.setLearningRate(cfg.lr);
    if (ck.optimizer.length) model.loadOptimizerState(ck.optimizer);
    step = ck.step;
    secondsBefore = meta.seconds ?? 0;
    if (meta.batches) batches.seek(meta.batches);
    say(`resumed ${ckPath} at step ${step}`);
  } else {
    if (cfg.resume) say(`no checkpoint at ${ckPath}; starting fresh`);
    const st = ds.discrete ? undefined : stats(ds);
    const cond = cfg.conditional ? conditioning(ds) : undefined;
    if (cfg.initFrom) {
      const from = readCheckpoint(cfg.initFrom);
      if (from.spec.family !== cfg.family) throw new Error(`${cfg.initFrom} holds a ${from.spec.family}, not a ${cfg.family}`);
      if (JSON.stringify(from.spec.shape) !== JSON.stringify(ds.shape)) throw new Error(`${cfg.initFrom} models shape [${from.spec.shape}], ${ds.name} is [${ds.shape}]`);
      const { conditional: _, ...base } = from.spec;
      const withClasses = familyOf(from.spec.family).withClasses;
      spec = (cond ? (withClasses?.(base as ModelSpec, cond) ?? { ...base, conditional: cond }) : base) as ModelSpec;
      if (usesConv(spec)) assertConvTrainable(tf.getBackend());
      const fresh = buildModel(spec, undefined, { seed: cfg.seed });
      const trained = new Map(from.weights.map((w) => [w.name, w]));
      const merged = fresh.weights().map((w) => {
        const t = trained.get(w.name);
        return t && t.shape.join() === w.shape.join() ? t : w;
      });
      fresh.dispose();
      model = buildModel(spec, merged, { seed: cfg.seed });
      say(`started from ${cfg.initFrom}: ${merged.filter((w) => trained.has(w.name)).length} of ${merged.length} weights`);
    } else {
      spec = defaultSpec(cfg.family, cfg.model, ds.name, { shift: st?.mean, scale: st?.std, size: cfg.size, arch: cfg.arch, conditional: cond, hidden: cfg.hidden, components: cfg.components });
      if (usesConv(spec)) assertConvTrainable(tf.getBackend());
      model = buildModel(spec, undefined, { seed: cfg.seed });
      // data-dependent init (actnorm) on 1024 seeded training rows
      const initIdx = Int32Array.from({ length: Math.min(1024, ds.nTrain) }, (_, i) => i);
      new Prng(cfg.seed).shuffle(initIdx);
      const x0 = tf.tensor2d(rows(ds, 'train', initIdx, new Prng(cfg.seed + 1)), [initIdx.length, dataDim(spec)]);
      model.initialize(x0);
      x0.dispose();
    }
    if (cond && model.initializeClasses) {
      // class weights from 2048 seeded labelled training rows
      const idx = Int32Array.from({ length: Math.min(2048, ds.nTrain) }, (_, i) => i);
      new Prng(cfg.seed + 2).shuffle(idx);
      const C = cond.names.length;
      const x = tf.tensor2d(rows(ds, 'train', idx, new Prng(cfg.seed + 3)), [idx.length, dataDim(spec)]);
      const y = tf.tensor2d(labelRows(ds, 'train', idx), [idx.length, C]);
      model.initializeClasses(x, y);
      tf.dispose([x, y]);
    }
    model.setLearningRate(cfg.lr);
    writeFileSync(metricsPath, '');
  }
  if (cfg.labelWeight) {
    if (!model.setLabelWeight) throw new Error(`${spec.family} does not train with a label weight; drop --label-weight`);
    model.setLabelWeight(cfg.labelWeight);
  }
  say(`model: ${spec.family}/${spec.model} on ${ds.name}, ${model.parameterCount()} parameters (${((model.parameterCount() * 4) / 1e6).toFixed(2)} MB float32)`);

  const D = dataDim(spec);
  const history: TrainResult['history'] = [];
  let metrics: Record<string, number> = {};
  const t0 = performance.now();
  const elapsed = () => (performance.now() - t0) / 1000;
  const deadline = cfg.minutes !== undefined ? cfg.minutes * 60 : Infinity;
  const startStep = step;
  let lastBar = 0;
  let lastLog = -Infinity; // the first step logs at once
  let stopped: TrainResult['stopped'] = 'steps';
  const tty = process.stderr.isTTY;
  const logEvery = cfg.logEvery ?? 5;
  // running sums of each loss since the last read-back, on the backend
  let sums: Record<string, tf.Scalar> = {};
  let sumN = 0;
  let sumFrom = step;
  /** The batch and noise source of step `s`, with the data position before it (for save). */
  const prepare = (s: number) => {
    const pos = batches.position;
    const rng = new Prng(stepSeed(cfg.seed, s));
    const x = tf.tensor2d(batches.next(rng), [cfg.batch, D]);
    const C = spec.conditional?.names.length ?? 0;
    return { x, label: C ? tf.tensor2d(labelRows(ds, 'train', batches.last), [cfg.batch, C]) : undefined, rng, pos };
  };
  let next: ReturnType<typeof prepare> | undefined;
  /** Reads the loss sums back (one sync), checks them, and starts new sums. */
  const drain = (): Record<string, number> => {
    const mean: Record<string, number> = {};
    for (const [k, v] of Object.entries(sums)) mean[k] = v.dataSync()[0] / sumN;
    tf.dispose(Object.values(sums));
    sums = {};
    const from = sumFrom;
    sumN = 0;
    sumFrom = step;
    for (const [k, v] of Object.entries(mean)) {
      if (!Number.isFinite(v)) {
        const kept = from - (from % cfg.evalEvery);
        throw new NonFiniteLossError(`${k} became ${v} between steps ${from + 1} and ${step}; stopped. The last good checkpoint (step ${kept}) is kept at ${ckPath}. Try a lower --lr or a different --seed.`);
      }
    }
    return mean;
  };

  const save = () => {
    const meta: TrainMeta = {
      dataset: ds.name,
      range: ds.range,
      discrete: ds.discrete,
      backend: backend.name,
      device: backend.device,
      seconds: secondsBefore + elapsed(),
      batchSize: cfg.batch,
      seed: cfg.seed,
      command: cfg.command,
      metrics,
      config: { family: cfg.family, model: spec.model, data: ds.name, steps: cfg.steps, minutes: cfg.minutes, batch: cfg.batch, lr: cfg.lr, evalEvery: cfg.evalEvery, size: cfg.size ?? 'default', arch: cfg.arch ?? 'mlp', conditional: !!spec.conditional, ...(cfg.initFrom ? { initFrom: cfg.initFrom } : {}), ...(cfg.labelWeight ? { labelWeight: cfg.labelWeight } : {}), ...(cfg.shift ? { shift: cfg.shift } : {}) },
      // a prefetched batch has not been trained on: resume from before it
      batches: next?.pos ?? batches.position,
    };
    writeCheckpoint(ckPath, { spec, weights: model.weights(), optimizer: model.optimizerState(), step, meta });
  };
  const evalAndSave = () => {
    const te = performance.now();
    metrics = evaluate(model, ds, cfg.eval);
    history.push({ step, metrics });
    writeFileSync(join(cfg.out, 'samples.png'), picture(model, ds));
    appendFileSync(metricsPath, JSON.stringify({ kind: 'eval', step, seconds: +(secondsBefore + elapsed()).toFixed(2), evalSeconds: +((performance.now() - te) / 1000).toFixed(2), ...metrics }) + '\n');
    save();
    if (tty) process.stderr.write('\r\x1b[K');
    say(`step ${step}: ${Object.entries(metrics).map(([k, v]) => `${k} ${+v.toPrecision(5)}`).join(', ')}`);
  };

  try {
    while (step < cfg.steps) {
      if (elapsed() >= deadline) {
        stopped = 'minutes';
        break;
      }
      const cur = next ?? prepare(step);
      const out = model.trainStep(cur.x, cur.rng, cur.label);
      // build the next batch while this step's work runs (on asynchronous backends)
      next = step + 1 < cfg.steps ? prepare(step + 1) : undefined;
      cur.x.dispose();
      cur.label?.dispose();
      for (const [k, v] of Object.entries(out)) {
        if (sums[k]) {
          const s = tf.add(sums[k], v) as tf.Scalar;
          sums[k].dispose();
          v.dispose();
          sums[k] = s;
        } else sums[k] = v;
      }
      sumN += 1;
      step += 1;
      const now = elapsed();
      const barDue = tty && cfg.verbose !== false && now - lastBar > 0.25;
      const logDue = now - lastLog >= (tty ? 0.25 : logEvery) || step === cfg.steps;
      if (barDue || logDue || step === cfg.steps || step % cfg.evalEvery === 0) {
        lastBar = now;
        const mean = drain();
        const rate = (step - startStep) / now;
        const left = Math.min((cfg.steps - step) / rate, deadline - now);
        const frac = Number.isFinite(cfg.steps) ? step / cfg.steps : now / deadline;
        const stepText = `${step}/${Number.isFinite(cfg.steps) ? cfg.steps : '?'} loss ${mean.loss.toFixed(4)} ${rate.toFixed(1)} steps/s ETA ${fmtTime(left)}`;
        if (tty && cfg.verbose !== false) process.stderr.write(`\r\x1b[K[${'#'.repeat(Math.round(frac * 20)).padEnd(20, '.')}] ${stepText}`);
        if (logDue) {
          lastLog = now;
          if (!tty) say(`step ${stepText}`);
          appendFileSync(metricsPath, JSON.stringify({ kind: 'train', step, loss: mean.loss, stepsPerSec: +rate.toFixed(3) }) + '\n');
        }
      }
      if (step % cfg.evalEvery === 0) evalAndSave();
    }
  } catch (e) {
    if (tty) process.stderr.write('\n');
    model.dispose();
    throw e;
  } finally {
    tf.dispose(Object.values(sums));
    if (next) tf.dispose([next.x, ...(next.label ? [next.label] : [])]);
  }
  if (step % cfg.evalEvery !== 0 || history.length === 0) evalAndSave();
  const seconds = elapsed();
  model.dispose();
  return {
    step,
    metrics,
    history,
    backend: { name: backend.name, device: backend.device },
    seconds,
    stepsPerSec: (step - startStep) / seconds,
    checkpoint: ckPath,
    stopped,
  };
}
