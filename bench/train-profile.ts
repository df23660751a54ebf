/**
 * Per-kernel profile of one training step on the wasm backend: how many
 * kernels a step dispatches, and the time inside each kernel name, against
 * the step's wall time (the difference is tfjs's dispatch, gradient
 * bookkeeping and tidy). Every kernel registered for wasm is wrapped with a
 * timer, so absolute times include a little of that overhead.
 *
 *   npx tsx bench/train-profile.ts [--family vae] [--model vae] [--data mnist] [--batch 128] [--steps 20] [--threads 1]
 */
import * as tf from '@tensorflow/tfjs';
import { parseArgs } from 'node:util';
import { dataDim, Prng, type Family } from '../core';
import { initBackend } from '../train/backend';
import { buildModel, defaultSpec } from '../train/models';

const { values } = parseArgs({
  options: { family: { type: 'string' }, model: { type: 'string' }, data: { type: 'string' }, batch: { type: 'string' }, steps: { type: 'string' }, threads: { type: 'string' }, arch: { type: 'string' }, detail: { type: 'string' } },
});
const family = (values.family ?? 'vae') as Family;
const data = values.data ?? 'mnist';
const batch = Number(values.batch ?? 128);
const steps = Number(values.steps ?? 20);
await initBackend('wasm', { threads: Number(values.threads ?? 1) });

const spec = defaultSpec(family, values.model, data, { arch: values.arch as 'conv' | undefined });
const model = buildModel(spec, undefined, { seed: 1 });
const D = dataDim(spec);
const rng = new Prng(2);
const x = tf.tensor2d(rng.uniforms(batch * D).map((u) => (D === 2 ? 4 * u - 2 : 256 * u)), [batch, D]);
model.initialize(x);
const step = () => {
  const out = model.trainStep(x, rng);
  out.loss.dataSync();
  tf.dispose(Object.values(out));
};
step();
step();

const detail = new Set((values.detail ?? 'BatchMatMul,_FusedMatMul').split(','));
const stats = new Map<string, { n: number; ms: number }>();
let on = false;
for (const k of tf.getKernelsForBackend('wasm')) {
  const f = k.kernelFunc;
  tf.unregisterKernel(k.kernelName, 'wasm');
  tf.registerKernel({
    ...k,
    kernelFunc: ((args: Parameters<typeof f>[0]) => {
      if (!on) return f(args);
      const t = performance.now();
      const r = f(args);
      let key = k.kernelName;
      if (detail.has(key)) {
        const a = args as unknown as { inputs: Record<string, tf.TensorInfo>; attrs: Record<string, unknown> };
        key += ' ' + Object.values(a.inputs).map((t) => `[${t.shape}]`).join(' ') + (a.attrs?.transposeA ? ' tA' : '') + (a.attrs?.transposeB ? ' tB' : '') + (a.attrs?.axis !== undefined ? ` axis ${a.attrs.axis}` : '');
      }
      const s = stats.get(key) ?? { n: 0, ms: 0 };
      s.n += 1;
      s.ms += performance.now() - t;
      stats.set(key, s);
      return r;
    }) as typeof f,
  });
}
step();
on = true;
const t0 = performance.now();
for (let i = 0; i < steps; i++) step();
const wall = (performance.now() - t0) / steps;
on = false;
const rows = [...stats].map(([name, s]) => ({ name, n: s.n / steps, ms: s.ms / steps })).sort((a, b) => b.ms - a.ms);
const kms = rows.reduce((a, r) => a + r.ms, 0);
const kn = rows.reduce((a, r) => a + r.n, 0);
console.log(`${family}/${spec.model} ${data} batch ${batch}: ${wall.toFixed(2)} ms/step (${(1000 / wall).toFixed(1)} steps/s), ${kn} kernels/step, ${kms.toFixed(2)} ms inside kernels, ${(wall - kms).toFixed(2)} ms outside`);
for (const r of rows) console.log(`${r.name.padEnd(48)} ${String(r.n).padStart(5)}  ${r.ms.toFixed(3).padStart(8)} ms`);
