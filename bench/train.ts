/**
 * Training speed: steps/s of one training step for every family and
 * architecture (2-D MLP, 784 MLP, 28x28 conv) on the wasm backend with 1 and
 * 2 threads, on cpu, and on tfjs-node / tfjs-node-gpu / webgpu where this host
 * has them; beside them PyTorch (CPU) on the same shapes and thread counts
 * when a Python with torch is found, and the ratios tfjs-wasm / PyTorch.
 * Then the MNIST VAE timed through the training CLI, as a user runs it.
 *
 *   npm run bench:train [-- --seconds 3] [--only toys|images] [--cases 'vae 784,gan 784'] [--no-cpu] [--no-cli] [--torch PYTHON]
 *
 * --cases keeps the named cases (labels as in the table), --no-cpu skips the
 * pure-JS cpu backend (minutes on the image cases), --no-cli the CLI runs.
 *
 * PyTorch is a reference only (bench/torch_train.py), never a dependency: it
 * is looked for as --torch, else $EDGEGEN_TORCH_PYTHON, else python3. The wasm
 * thread count is fixed when the backend starts, so each backend runs in a
 * child process of its own (`--child NAME`).
 */
import * as tf from '@tensorflow/tfjs';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { dataDim, Prng, type Family } from '../core';
import { BACKENDS, initBackend, type BackendName } from '../train/backend';
import { defaults } from '../train/loop';
import { buildModel, defaultSpec } from '../train/models';

const ROOT = join(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    seconds: { type: 'string' }, only: { type: 'string' }, torch: { type: 'string' }, child: { type: 'string' }, threads: { type: 'string' },
    cases: { type: 'string' }, 'no-cpu': { type: 'boolean' }, 'no-cli': { type: 'boolean' },
  },
});
const budget = Number(values.seconds ?? 3);

type Case = { label: string; family: Family; model: string; data: string; arch?: 'conv'; batch: number };
// each case at its family's default batch (the descriptor's, as `npm run train` uses)
const ALL: Case[] = ([
  { label: 'flow realnvp 2-D', family: 'flow', model: 'realnvp', data: 'moons' },
  { label: 'flow nice 2-D', family: 'flow', model: 'nice', data: 'moons' },
  { label: 'vae 2-D', family: 'vae', model: 'vae', data: 'moons' },
  { label: 'gan 2-D', family: 'gan', model: 'gan', data: 'moons' },
  { label: 'made 2-D', family: 'made', model: 'made', data: 'moons' },
  { label: 'flow realnvp 784', family: 'flow', model: 'realnvp', data: 'mnist' },
  { label: 'flow nice 784', family: 'flow', model: 'nice', data: 'mnist' },
  { label: 'vae 784', family: 'vae', model: 'vae', data: 'mnist' },
  { label: 'gan 784', family: 'gan', model: 'gan', data: 'mnist' },
  { label: 'made 784', family: 'made', model: 'made', data: 'mnist' },
  { label: 'vae conv 28x28', family: 'vae', model: 'vae', data: 'mnist', arch: 'conv' },
  { label: 'gan dcgan 28x28', family: 'gan', model: 'dcgan', data: 'mnist', arch: 'conv' },
] as Omit<Case, 'batch'>[]).map((c) => ({ ...c, batch: defaults(c.family, c.data, c.model).batch }));
const picked = values.cases?.split(',').map((l) => l.trim());
const unknown = picked?.filter((l) => !ALL.some((c) => c.label === l));
if (unknown?.length) throw new Error(`--cases: no case ${unknown.map((l) => JSON.stringify(l)).join(', ')}; the labels are ${ALL.map((c) => c.label).join(', ')}`);
const cases = ALL.filter((c) => (!values.only || (values.only === 'toys' ? c.data === 'moons' : c.data !== 'moons')) && (!picked || picked.includes(c.label)));
const specOf = (c: Case) => defaultSpec(c.family, c.model, c.data, { arch: c.arch });

function measure(c: Case): number {
  const spec = specOf(c);
  const model = buildModel(spec, undefined, { seed: 1 });
  const D = dataDim(spec);
  const rng = new Prng(2);
  const x = tf.tensor2d(rng.uniforms(c.batch * D).map((u) => (D === 2 ? 4 * u - 2 : 256 * u)), [c.batch, D]);
  model.initialize(x);
  const step = () => {
    const out = model.trainStep(x, rng);
    out.loss.dataSync(); // wait for the step (matters on asynchronous backends)
    tf.dispose(Object.values(out));
  };
  step(); // warm-up: kernels compiled, optimizer state allocated
  step();
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < budget * 1000 || n < 3) {
    step();
    n++;
  }
  const rate = n / ((performance.now() - t0) / 1000);
  x.dispose();
  model.dispose();
  return rate;
}

if (values.child) {
  // child: one backend, every case, JSON on stdout
  try {
    const info = await initBackend(values.child as BackendName, { threads: values.threads ? Number(values.threads) : undefined });
    process.stderr.write(`measuring ${info.name} (${info.device})\n`);
    const rates: Record<string, number> = {};
    for (const c of cases) rates[c.label] = measure(c);
    console.log(JSON.stringify({ device: info.device, rates }));
  } catch (e) {
    console.log(JSON.stringify({ skipped: (e as Error).message.split('\n')[0] }));
  }
  process.exit(0);
}

const tsx = join(ROOT, 'node_modules/tsx/dist/cli.mjs');
const passOn = ['--seconds', String(budget), ...(values.only ? ['--only', values.only] : []), ...(values.cases ? ['--cases', values.cases] : [])];
function child(backend: BackendName, threads?: number): { device?: string; rates?: Record<string, number>; skipped?: string } {
  const args = [tsx, join(ROOT, 'bench/train.ts'), '--child', backend, ...passOn, ...(threads ? ['--threads', String(threads)] : [])];
  const out = execFileSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 30 * 60_000 });
  return JSON.parse(out.trim().split('\n').at(-1)!);
}

const cols: Array<{ name: string; rates: Record<string, number> }> = [];
const skipped: string[] = [];
const threadCounts = availableParallelism() >= 2 ? [1, 2] : [1];
for (const t of threadCounts) {
  const r = child('wasm', t);
  if (r.rates) cols.push({ name: `wasm ${t}T`, rates: r.rates });
  else skipped.push(`wasm ${t}T: ${r.skipped}`);
}
for (const b of BACKENDS.filter((n) => n !== 'wasm' && !(n === 'cpu' && values['no-cpu']))) {
  const r = child(b);
  if (r.rates) cols.push({ name: b, rates: r.rates });
  else skipped.push(`${b}: ${r.skipped}`);
}

// PyTorch peer
const python = values.torch ?? process.env.EDGEGEN_TORCH_PYTHON ?? 'python3';
const probe = spawnSync(python, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
const torchCols: typeof cols = [];
if (probe.status === 0) {
  const input = JSON.stringify(cases.map((c) => ({ label: c.label, batch: c.batch, spec: specOf(c) })));
  for (const t of threadCounts) {
    process.stderr.write(`measuring PyTorch ${probe.stdout.trim()} with ${t} thread(s)\n`);
    const out = execFileSync(python, [join(ROOT, 'bench/torch_train.py'), String(t), String(budget)], { input, encoding: 'utf8', timeout: 30 * 60_000 });
    torchCols.push({ name: `torch ${t}T`, rates: JSON.parse(out) });
  }
} else {
  skipped.push(`PyTorch: ${python} cannot import torch (set --torch or EDGEGEN_TORCH_PYTHON)`);
}

const fmt = (r: number | undefined) => (r === undefined ? '-' : r.toFixed(r < 10 ? 2 : 1));
const ratio = (a: number | undefined, b: number | undefined) => (a && b ? `${(a / b).toFixed(2)}x` : '-');
const cpu = cols.find((c) => c.name === 'cpu');
const head = ['case (batch)', ...[...cols, ...torchCols].map((c) => `${c.name} steps/s`), ...threadCounts.map((t) => `wasm/torch ${t}T`), 'wasm 1T/cpu'];
console.log(`| ${head.join(' | ')} |`);
console.log(`|${head.map(() => '---').join('|')}|`);
for (const c of cases) {
  const w = (t: number) => cols.find((x) => x.name === `wasm ${t}T`)?.rates[c.label];
  const tr = (t: number) => torchCols.find((x) => x.name === `torch ${t}T`)?.rates[c.label];
  const cells = [...cols, ...torchCols].map((x) => fmt(x.rates[c.label]));
  console.log(`| ${c.label} (${c.batch}) | ${cells.join(' | ')} | ${threadCounts.map((t) => ratio(w(t), tr(t))).join(' | ')} | ${ratio(w(1), cpu?.rates[c.label])} |`);
}

// the MNIST VAE as a user trains it: the CLI, wasm, its own progress accounting
if ((!values.only || values.only === 'images') && !values['no-cli']) {
  console.log('\nMNIST VAE through `npm run train` (wasm, batch 128, 400 steps, one 200-row evaluation at the end):\n');
  console.log('| threads | CLI steps/s | torch steps/s | ratio |');
  console.log('|---|---|---|---|');
  for (const t of threadCounts) {
    const out = mkdtempSync(join(tmpdir(), 'edgegen-bench-cli-'));
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'train/cli.ts'), '--family', 'vae', '--data', 'mnist', '--backend', 'wasm', '--threads', String(t),
      '--steps', '400', '--eval-every', '100000', '--eval-n', '200', '--out', out], { cwd: ROOT, encoding: 'utf8', timeout: 10 * 60_000 });
    rmSync(out, { recursive: true, force: true });
    const rate = r.status === 0 ? (JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { stepsPerSec: number }).stepsPerSec : undefined;
    const peer = torchCols.find((x) => x.name === `torch ${t}T`)?.rates['vae 784'];
    console.log(`| ${t} | ${fmt(rate)} | ${fmt(peer)} | ${ratio(rate, peer)} |`);
  }
}
if (skipped.length) console.log(`\nskipped: ${skipped.join('; ')}`);
