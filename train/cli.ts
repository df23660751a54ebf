/**
 * npm run train -- --family flow --model realnvp --data moons [--steps N]
 *   [--minutes M] [--batch B] [--lr LR] [--seed S] [--backend NAME]
 *   [--out DIR] [--resume] [--eval-every N] [--eval-n N] [--iwae-k K] [--tiny] [--arch mlp|conv]
 *   [--threads N] [--shift N] [--hidden H,H] [--components K]
 */
import { parseArgs } from 'node:util';
import { FAMILY_ORDER, familyOf, type Family } from '../core';
import { parseBackend } from './backend';
import { resolveDatasetName } from './data';
import { defaults, NonFiniteLossError, train } from './loop';
import { isImageDataset, MODELS } from './models';

const HELP = `usage: npm run train -- --family ${FAMILY_ORDER.join('|')} [--model NAME] --data NAME [options]
models: ${FAMILY_ORDER.map((f) => `${f}: ${MODELS[f].join(', ')}`).join('; ')}
data: moons, eightgaussians (8gaussians), checkerboard, spirals, rings, mnist, fashion-mnist
options:
  --steps N        total steps (default per family/data; resumed steps count)
  --minutes M      wall-clock budget for this invocation; stops, evaluates and saves
  --batch B        batch size            --lr LR       Adam learning rate
  --seed S         seeds init, batches and noise (repeatable on cpu/wasm)
  --backend NAME   tfjs-node-gpu | tfjs-node | webgpu | wasm | cpu (default: best available)
  --threads N      wasm backend threads (default: one per core)
  --out DIR        run folder (default runs/<family>-<model>-<data>/)
  --resume         continue from DIR/checkpoint.egck
  --eval-every N   steps between held-out evaluations, pictures and checkpoints
  --eval-n N       test rows per evaluation     --iwae-k K   VAE importance samples
  --tiny           tiny networks (smoke tests)
  (--model realnvp-ms: multi-scale conv RealNVP, images only; see train/README.md)
  --arch mlp|conv  conv: conv nets (images only; ${FAMILY_ORDER.filter((f) => familyOf(f).archs.includes('conv')).join(', ')})
  --conditional    learn p(x | y) over the data set's classes (mnist, fashion-mnist): the
                   label is one more input of every graph, and p(x) the mixture over the classes
  --init-from CK   start from a checkpoint's weights and architecture (e.g. a shipped model's
                   models/<id>/checkpoint.egck); new weights (the classes') start fresh
  --label-weight W conditional flows, VAEs and MADEs: add W x the cross-entropy of p(y | x) to the likelihood
                   loss (a hybrid objective; W = 0, the default, is likelihood alone)
  --shift N        images: translate each training image by up to N pixels each way, at random
                   (augmentation; the default 0 trains on the images as they are)
  --hidden H[,H]   MADE: hidden layer widths (default: 1024 for conditional images)
  --components K   MADE: components per conditional (Gaussians, or discretised logistics on images)
progress: a bar on a terminal; otherwise a line every 5 s (step, loss, steps/s, ETA)`;

function num(name: string, v: string | undefined, int = false): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || (int && !Number.isInteger(n))) throw new Error(`--${name} must be a positive ${int ? 'integer' : 'number'}, got "${v}"`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      family: { type: 'string' }, model: { type: 'string' }, data: { type: 'string' },
      steps: { type: 'string' }, minutes: { type: 'string' }, batch: { type: 'string' }, lr: { type: 'string' },
      seed: { type: 'string' }, backend: { type: 'string' }, out: { type: 'string' }, resume: { type: 'boolean' },
      'eval-every': { type: 'string' }, 'eval-n': { type: 'string' }, 'iwae-k': { type: 'string' },
      tiny: { type: 'boolean' }, arch: { type: 'string' }, conditional: { type: 'boolean' }, 'init-from': { type: 'string' }, 'label-weight': { type: 'string' }, shift: { type: 'string' }, hidden: { type: 'string' }, components: { type: 'string' }, threads: { type: 'string' }, help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  const family = values.family as Family | undefined;
  if (!family || !(family in MODELS)) throw new Error(`--family must be one of ${Object.keys(MODELS).join(', ')}\n${HELP}`);
  const fam = familyOf(family);
  // a family's conv model (the DCGAN) is its default model with --arch conv; name it either way
  const convModel = fam.convModel !== undefined && values.model === fam.convModel;
  if (convModel && values.arch === 'mlp') throw new Error(`--model ${fam.convModel} is the conv ${family}; drop --arch mlp`);
  const model = convModel ? MODELS[family][0] : values.model ?? MODELS[family][0];
  if (!MODELS[family].includes(model)) throw new Error(`--model for ${family} must be one of ${MODELS[family].join(', ')}`);
  if (!values.data) throw new Error(`--data is required\n${HELP}`);
  const data = resolveDatasetName(values.data);
  const arch = values.arch ?? (convModel ? 'conv' : 'mlp');
  if (arch !== 'mlp' && arch !== 'conv') throw new Error(`--arch must be mlp or conv, got "${arch}"`);
  if (arch === 'conv' && !isImageDataset(data)) throw new Error(`--arch conv needs image data (mnist, fashion-mnist); "${data}" is 2-D, use the default --arch mlp`);
  const d = defaults(family, data, model);
  const minutes = num('minutes', values.minutes);
  const seed = values.seed === undefined ? 0 : Number(values.seed);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new Error(`--seed must be an integer in [0, 2^32), got "${values.seed}"`);
  const result = await train({
    family, model, data,
    backend: values.backend ? parseBackend(values.backend) : undefined,
    // with only --minutes, the budget alone decides when to stop
    steps: num('steps', values.steps, true) ?? (minutes !== undefined ? Infinity : d.steps),
    minutes,
    batch: num('batch', values.batch, true) ?? d.batch,
    lr: num('lr', values.lr) ?? d.lr,
    seed,
    out: values.out ?? `runs/${family}-${model}${arch === 'conv' ? '-conv' : ''}${values.conditional ? '-cond' : ''}-${data}`,
    resume: values.resume ?? false,
    evalEvery: num('eval-every', values['eval-every'], true) ?? d.evalEvery,
    eval: { n: num('eval-n', values['eval-n'], true), k: num('iwae-k', values['iwae-k'], true) },
    size: values.tiny ? 'tiny' : 'default',
    arch,
    conditional: values.conditional ?? false,
    initFrom: values['init-from'],
    labelWeight: num('label-weight', values['label-weight']),
    shift: num('shift', values.shift, true),
    hidden: values.hidden?.split(',').map((h) => num('hidden', h, true)!),
    components: num('components', values.components, true),
    threads: num('threads', values.threads, true),
    command: ['npm run train --', ...process.argv.slice(2)].join(' '),
  });
  console.log(JSON.stringify({ step: result.step, stopped: result.stopped, backend: result.backend, seconds: +result.seconds.toFixed(1), stepsPerSec: +result.stepsPerSec.toFixed(2), metrics: result.metrics, checkpoint: result.checkpoint }));
}

main().catch((e: unknown) => {
  process.stderr.write(`\ntrain: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(e instanceof NonFiniteLossError ? 3 : 1);
});
