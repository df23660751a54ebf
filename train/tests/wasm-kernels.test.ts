/**
 * The wasm backend's training kernels (train/wasm-kernels.ts): gradients of
 * dense, conv and transposed-conv layers match the cpu backend's, and a
 * training step of every family and architecture leaves no tensor behind.
 *
 * Tolerance: max |wasm - cpu| / max |cpu| <= 1e-4 over each gradient (float32
 * sums in another order differ by ~1e-6 of the largest entry).
 */
import * as tf from '@tensorflow/tfjs';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dataDim, paramShapes, Prng, type Family, type MultiScaleFlowSpec } from '../../core';
import { initBackend } from '../backend';
import { buildModel, defaultSpec } from '../models';
import { MultiScale } from '../models/msflow';
import { Adam, ADAM_KERNEL, Params, stdNormalLogProb } from '../models/nn';

const size = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

type Grads = (backend: 'cpu' | 'wasm') => Promise<Float32Array[]>;

/** Runs `f` on the named backend with inputs drawn from one seed, returns its gradients. */
function gradsOn(shapes: number[][], f: (...xs: tf.Tensor[]) => tf.Scalar): Grads {
  return async (backend) => {
    await initBackend(backend);
    const rng = new Prng(11);
    const xs = shapes.map((s) => tf.tensor(rng.normals(size(s)), s));
    const gs = tf.grads(f)(xs);
    const out = gs.map((g) => g.dataSync().slice() as Float32Array);
    tf.dispose([...xs, ...gs]);
    return out;
  };
}

function relErr(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / den;
}

async function expectParity(g: Grads): Promise<void> {
  const ref = await g('cpu');
  const got = await g('wasm');
  expect(got.length).toBe(ref.length);
  got.forEach((v, i) => {
    expect(v.length).toBe(ref[i].length);
    expect(relErr(v, ref[i])).toBeLessThan(1e-4);
  });
}

// a loss that is not linear in the layer output, so dy varies per entry
const loss = (y: tf.Tensor): tf.Scalar => tf.sum(tf.mul(tf.tanh(y), tf.range(0, y.size).reshape(y.shape).mod(7).sub(3)));

describe('wasm training kernels match the cpu backend', () => {
  it('dense: x W + b, and matMul with every transpose flag, batched too', async () => {
    await expectParity(gradsOn([[37, 53], [53, 29], [29]], (x, w, b) => loss(tf.add(tf.matMul(x, w), b))));
    for (const [ta, tb] of [[true, false], [false, true], [true, true]] as const) {
      const a = ta ? [53, 37] : [37, 53];
      const b = tb ? [29, 53] : [53, 29];
      await expectParity(gradsOn([a, b], (x, w) => loss(tf.matMul(x, w, ta, tb))));
      await expectParity(gradsOn([[3, ...a], [3, ...b]], (x, w) => loss(tf.matMul(x, w, ta, tb))));
    }
  });

  it('wide products (a packed operand over 2^18 values, computed as C^T = B^T A^T): every transpose flag, and gradients', async () => {
    // M < N and K N >= 2^18: fastMatMul swaps the operands; M 12 and 10 (SIMD transposes, and the stock
    // transpose for a size not a multiple of 4)
    for (const [M, K, N] of [[12, 520, 512], [10, 512, 516]]) {
      for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]] as const) {
        const a = ta ? [K, M] : [M, K];
        const b = tb ? [N, K] : [K, N];
        await expectParity(gradsOn([a, b], (x, w) => loss(tf.matMul(x, w, ta, tb))));
      }
      // a leading axis of 1 on both (tfjs's matMul gradient does not reduce a broadcast batch axis)
      await expectParity(gradsOn([[1, M, K], [1, K, N]], (x, w) => loss(tf.matMul(x, w))));
    }
  });

  it('sum over leading axes (bias gradients): SIMD rows and the JS fallback, keepDims, and the stock cases', async () => {
    const cases: Array<[number[], number | number[], boolean]> = [
      [[128, 784], 0, false], [[37, 30], 0, false], [[5, 3, 8], [0, 1], false], [[5, 3, 8], [1, 0], true], [[6, 7], 1, false], [[4, 4], [0, 1], false], [[9, 12], -2, true],
    ];
    const run = async (backend: 'cpu' | 'wasm') => {
      await initBackend(backend);
      const rng = new Prng(21);
      return cases.map(([shape, axis, keep]) => {
        const x = tf.tensor(rng.normals(size(shape)), shape);
        const y = tf.sum(x, axis, keep);
        const out = { shape: y.shape, data: y.dataSync().slice() as Float32Array };
        tf.dispose([x, y]);
        return out;
      });
    };
    const ref = await run('cpu');
    const got = await run('wasm');
    got.forEach((g, i) => {
      expect(g.shape).toEqual(ref[i].shape);
      expect(relErr(g.data, ref[i].data)).toBeLessThan(1e-5);
    });
    // and as a gradient: a bias added to a batch
    await expectParity(gradsOn([[16, 20], [20]], (x, b) => loss(tf.add(x, b))));
  });

  it('conv2d: stride 1 and 2, same and valid padding, 1 and several channels', async () => {
    for (const [x, w, stride, pad] of [
      [[5, 28, 28, 1], [3, 3, 1, 4], 2, 'same'],
      [[3, 14, 14, 4], [3, 3, 4, 6], 2, 'same'],
      [[2, 9, 11, 3], [3, 2, 3, 5], 1, 'valid'],
      [[2, 8, 8, 2], [4, 4, 2, 3], 2, 'valid'],
      [[2, 7, 7, 6], [3, 3, 6, 2], 1, 'same'],
    ] as const) {
      await expectParity(gradsOn([[...x], [...w]], (xi, wi) => loss(tf.conv2d(xi as tf.Tensor4D, wi as tf.Tensor4D, stride, pad))));
    }
  });

  it('transposed conv (conv2dTranspose): forward and both gradients', async () => {
    for (const [z, w, out, stride] of [
      [[4, 7, 7, 8], [3, 3, 4, 8], [4, 14, 14, 4], 2],
      [[3, 14, 14, 4], [3, 3, 1, 4], [3, 28, 28, 1], 2],
      [[2, 5, 5, 3], [3, 3, 2, 3], [2, 5, 5, 2], 1],
    ] as const) {
      const f = (zi: tf.Tensor, wi: tf.Tensor) => loss(tf.conv2dTranspose(zi as tf.Tensor4D, wi as tf.Tensor4D, [...out] as [number, number, number, number], stride as 1 | 2, 'same'));
      await expectParity(gradsOn([[...z], [...w]], f));
      const fwd = async (b: 'cpu' | 'wasm') => {
        await initBackend(b);
        const rng = new Prng(3);
        const zi = tf.tensor4d(rng.normals(size(z)), [...z] as [number, number, number, number]);
        const wi = tf.tensor4d(rng.normals(size(w)), [...w] as [number, number, number, number]);
        const y = tf.conv2dTranspose(zi, wi, [...out] as [number, number, number, number], stride as 1 | 2, 'same');
        const v = y.dataSync().slice() as Float32Array;
        tf.dispose([zi, wi, y]);
        return v;
      };
      expect(relErr(await fwd('wasm'), await fwd('cpu'))).toBeLessThan(1e-4);
    }
  });

  it('concat and split along every axis: forward values and gradients', async () => {
    for (const axis of [0, 1, 2, 3]) {
      const a = [3, 4, 5, 2];
      const b = a.map((d, i) => (i === axis ? d + 2 : d));
      await expectParity(gradsOn([a, b], (x, y) => {
        const c = tf.concat([x, y], axis);
        const [p, q, r] = tf.split(c, [1, 2, c.shape[axis]! - 3], axis);
        return tf.addN([loss(p), tf.sum(tf.mul(q, q)), loss(tf.tanh(r))]) as tf.Scalar;
      }));
    }
  });

  it('multi-scale RealNVP (8x8, 2 scales, kernel 3 and 1x1 convs): gradient of -log p for every weight', async () => {
    const spec: MultiScaleFlowSpec = {
      family: 'flow', model: 'realnvp-ms', shape: [8, 8], preprocess: { kind: 'logit', alpha: 0.05 }, activation: 'relu',
      multiscale: { scales: 2, checker: 2, channel: 2, final: 2, filters: [6, 5], kernel: 3 },
    };
    const shapes = paramShapes(spec);
    const grads: Grads = async (backend) => {
      await initBackend(backend);
      const rng = new Prng(12);
      const p = new Params(shapes, shapes.map((s) => ({ name: s.name, shape: s.shape, data: rng.normals(size(s.shape), 0.3) })), 0, 'parity');
      const flow = new MultiScale(p, spec);
      const y = tf.tensor2d(rng.normals(6 * 64), [6, 64]);
      const vars = [...p.vars.values()];
      const { value, grads: g } = tf.variableGrads(() => {
        const { y: z, logdet } = flow.forward(y);
        return tf.neg(tf.mean(tf.add(stdNormalLogProb(z, 1), logdet))) as tf.Scalar;
      }, vars);
      const out = vars.map((v) => g[v.name].dataSync().slice() as Float32Array);
      tf.dispose([value, y, ...Object.values(g)]);
      flow.dispose();
      p.dispose();
      return out;
    };
    await expectParity(grads);
  });
});

describe('the threaded wasm build (train/wasm-threads.ts)', () => {
  it('a CLI run on 2 threads says so, finishes and exits (its pool threads do not hold the process)', () => {
    const root = join(import.meta.dirname, '../..');
    const out = mkdtempSync(join(tmpdir(), 'edgegen-threads-'));
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'train/cli.ts'), '--family', 'flow', '--data', 'moons', '--backend', 'wasm', '--threads', '2', '--steps', '5', '--tiny', '--eval-n', '100', '--out', out], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    expect(r.error, 'the process did not exit within 60 s').toBeUndefined();
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout.trim().split('\n').at(-1)!).backend.device).toMatch(/2 threads/);
  }, 90_000);
});

describe('fused Adam (wasm) equals the elementwise chain (cpu)', () => {
  it('five steps on an MLP give the same weights and moments', async () => {
    const run = async (backend: 'cpu' | 'wasm') => {
      await initBackend(backend);
      expect(!!tf.getKernel(ADAM_KERNEL, backend)).toBe(backend === 'wasm');
      const rng = new Prng(5);
      const w = tf.variable(tf.tensor2d(rng.normals(13 * 7), [13, 7]));
      const b = tf.variable(tf.tensor1d(rng.normals(7)));
      const x = tf.tensor2d(rng.normals(9 * 13), [9, 13]);
      const opt = new Adam(new Map<string, tf.Variable>([['w', w], ['b', b]]), 0.05);
      for (let i = 0; i < 5; i++) opt.minimize(() => loss(tf.add(tf.matMul(x, w), b))).dispose();
      const out = [w, b, ...opt.state().filter((s) => s.name !== 'opt.t').map((s) => tf.tensor(s.data))].map((t) => t.dataSync().slice() as Float32Array);
      tf.dispose([w, b, x]);
      opt.dispose();
      return out;
    };
    const ref = await run('cpu');
    const got = await run('wasm');
    got.forEach((v, i) => expect(relErr(v, ref[i])).toBeLessThan(1e-5));
  });
});

describe('a training step leaks no tensors and no backend buffers (wasm)', () => {
  const cases: Array<[Family, string, string, 'mlp' | 'conv']> = [
    ['flow', 'realnvp', 'moons', 'mlp'], ['flow', 'nice', 'mnist', 'mlp'], ['vae', 'vae', 'moons', 'mlp'],
    ['vae', 'vae', 'mnist', 'conv'], ['gan', 'gan', 'moons', 'mlp'], ['gan', 'dcgan', 'mnist', 'conv'], ['made', 'made', 'moons', 'mlp'],
    ['flow', 'realnvp-ms', 'mnist', 'mlp'],
  ];
  it.each(cases)('%s %s on %s (%s)', async (family, model, data, arch) => {
    await initBackend('wasm');
    const spec = defaultSpec(family, model, data, { size: 'tiny', arch: arch === 'conv' ? 'conv' : undefined });
    const m = buildModel(spec, undefined, { seed: 1 });
    const D = dataDim(spec);
    const rng = new Prng(4);
    const x = tf.tensor2d(rng.uniforms(8 * D).map((u) => (D === 2 ? 4 * u - 2 : 255 * u)), [8, D]);
    m.initialize(x);
    tf.dispose(Object.values(m.trainStep(x, rng))); // first step creates the optimizer's moments
    const before = tf.memory().numTensors;
    // buffers a kernel allocates for itself are not tensors: count the backend's too
    const buffers = tf.engine().backend.numDataIds();
    const out = m.trainStep(x, rng);
    expect(Number.isFinite(out.loss.dataSync()[0])).toBe(true);
    tf.dispose(Object.values(out));
    expect(tf.memory().numTensors).toBe(before);
    expect(tf.engine().backend.numDataIds()).toBe(buffers);
    x.dispose();
    m.dispose();
  });
});

describe('Identity and same-dtype Cast share the buffer (wasm)', () => {
  it('clone and cast allocate nothing, survive the source, and a real cast still converts', async () => {
    await initBackend('wasm');
    const x = tf.tensor2d([1.5, -2.25, 3, 4], [2, 2]);
    const buffers = tf.engine().backend.numDataIds();
    const c = tf.clone(x);
    const f = tf.cast(x, 'float32');
    expect(tf.engine().backend.numDataIds()).toBe(buffers);
    x.dispose();
    expect([...c.dataSync()]).toEqual([1.5, -2.25, 3, 4]);
    expect([...f.dataSync()]).toEqual([1.5, -2.25, 3, 4]);
    const i = tf.cast(c, 'int32');
    expect(i.dtype).toBe('int32');
    expect([...i.dataSync()]).toEqual([1, -2, 3, 4]);
    const before = tf.engine().backend.numDataIds();
    tf.dispose([c, f, i]);
    expect(tf.engine().backend.numDataIds()).toBe(before - 2); // c and f shared one buffer
  });
});
