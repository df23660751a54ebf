/**
 * Training speed per tfjs backend: steps/s of one trainStep for each family
 * on fixed shapes (toys: default 2-D spec, batch 256; images: default 28x28
 * spec, batch 128 — 64 for the GAN, as the CLI defaults), printed as a table
 * with each backend's ratio to cpu. Every backend this host can start is
 * measured; the others are listed with the reason they were skipped.
 *
 *   npm run bench:train [-- --seconds 3] [-- --only toys|images]
 */
import * as tf from '@tensorflow/tfjs';
import { parseArgs } from 'node:util';
import { dataDim, Prng, type Family } from '../core';
import { BACKENDS, initBackend } from '../train/backend';
import { buildModel, defaultSpec } from '../train/models';

const { values } = parseArgs({ options: { seconds: { type: 'string' }, only: { type: 'string' } } });
const budget = Number(values.seconds ?? 3);

type Case = { label: string; family: Family; model: string; data: string; batch: number };
const all: Case[] = [
  { label: 'flow realnvp 2-D', family: 'flow', model: 'realnvp', data: 'moons', batch: 256 },
  { label: 'flow nice 2-D', family: 'flow', model: 'nice', data: 'moons', batch: 256 },
  { label: 'vae 2-D', family: 'vae', model: 'vae', data: 'moons', batch: 256 },
  { label: 'gan 2-D', family: 'gan', model: 'gan', data: 'moons', batch: 256 },
  { label: 'flow realnvp 784', family: 'flow', model: 'realnvp', data: 'mnist', batch: 128 },
  { label: 'flow nice 784', family: 'flow', model: 'nice', data: 'mnist', batch: 128 },
  { label: 'vae 784', family: 'vae', model: 'vae', data: 'mnist', batch: 128 },
  { label: 'gan 784', family: 'gan', model: 'gan', data: 'mnist', batch: 64 },
];
const cases = all.filter((c) => !values.only || (values.only === 'toys' ? c.data === 'moons' : c.data !== 'moons'));

function measure(c: (typeof cases)[number]): number {
  const spec = defaultSpec(c.family, c.model, c.data);
  const model = buildModel(spec, undefined, { seed: 1 });
  const D = dataDim(spec);
  const rng = new Prng(2);
  const x = tf.tensor2d(rng.uniforms(c.batch * D).map((u) => (D === 2 ? 4 * u - 2 : 256 * u)), [c.batch, D]);
  model.initialize(x);
  model.trainStep(x, rng); // warm-up: kernels compiled, optimizer state allocated
  model.trainStep(x, rng);
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < budget * 1000 || n < 3) {
    model.trainStep(x, rng);
    n++;
  }
  const rate = n / ((performance.now() - t0) / 1000);
  x.dispose();
  model.dispose();
  return rate;
}

const results = new Map<string, Map<string, number>>();
const skipped: string[] = [];
for (const b of BACKENDS) {
  try {
    const info = await initBackend(b);
    process.stderr.write(`measuring ${b} (${info.device})\n`);
    const row = new Map<string, number>();
    for (const c of cases) row.set(c.label, measure(c));
    results.set(`${b}`, row);
  } catch (e) {
    skipped.push(`${b}: ${(e as Error).message.split('\n')[0]}`);
  }
}

const names = [...results.keys()];
const base = results.get('cpu');
const head = ['case', ...names.map((n) => `${n} steps/s`), ...names.filter((n) => n !== 'cpu').map((n) => `${n}/cpu`)];
console.log(`| ${head.join(' | ')} |`);
console.log(`|${head.map(() => '---').join('|')}|`);
for (const c of cases) {
  const rates = names.map((n) => results.get(n)!.get(c.label)!);
  const ratios = names.filter((n) => n !== 'cpu').map((n) => (base ? (results.get(n)!.get(c.label)! / base.get(c.label)!).toFixed(2) + 'x' : '-'));
  console.log(`| ${c.label} (batch ${c.batch}) | ${rates.map((r) => r.toFixed(r < 10 ? 2 : 1)).join(' | ')} | ${ratios.join(' | ')} |`);
}
if (skipped.length) console.log(`\nskipped: ${skipped.join('; ')}`);
