// The writer's own pieces: float16 rounding (against numpy) and the
// float16-weights variant of a graph (smaller file, float32 arithmetic).
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { Prng } from '../../core/prng';
import { runGraph } from '../ort';
import { PYTHON } from '../testing/onnx-check';
import onnxProto from 'onnx-proto';
import { BATCH, GraphBuilder, int8PerChannel, toHalfBits } from './graph';

const { onnx } = onnxProto;

describe('toHalfBits', () => {
  it('rounds like numpy.float16 on normals, subnormals, ties and overflow', () => {
    const rng = new Prng(3);
    const vals = [0, -0, 1, -1, 65504, 65520, 1e6, -1e6, 6e-8, 3e-8, 2.9e-8, 1e-5, 1 + 2 ** -11, 1 + 3 * 2 ** -11, Infinity, -Infinity, 0.1, 1 / 3];
    for (const v of rng.normals(200, 10)) vals.push(v);
    for (const v of rng.normals(100, 1e-5)) vals.push(v);
    const f = Float32Array.from(vals);
    const want = execFileSync(PYTHON, ['-c', 'import sys,numpy as np; a=np.array([float(s) for s in sys.argv[1:]],dtype=np.float32); print(" ".join(str(int(b)) for b in a.astype(np.float16).view(np.uint16)))', ...Array.from(f, (v) => (Object.is(v, -0) ? '-0' : v.toString()))], { encoding: 'utf8' });
    expect(Array.from(f, toHalfBits)).toEqual(want.trim().split(' ').map(Number));
  });
});

describe('float16 weights', () => {
  it('halve the file and keep outputs within float16 rounding of the float32 graph', async () => {
    const rng = new Prng(9);
    const g = new GraphBuilder('mlp');
    const x = g.input('x', [BATCH, 64]);
    const W = g.floats('W', [64, 32], rng.normals(64 * 32, 0.2));
    const b = g.floats('b', [32], rng.normals(32));
    g.output(g.node('Tanh', [g.node('Add', [g.node('MatMul', [x, W]), b])]), 'y', [BATCH, 32]);
    const full = g.toBytes();
    const half = g.toBytes('', { weights: 'float16' });
    expect(half.length).toBeLessThan(full.length * 0.6);
    const feed = { x: { data: rng.normals(8 * 64), dims: [8, 64] } };
    const [a, h] = [await runGraph(full, feed), await runGraph(half, feed)];
    let worst = 0;
    a.y.data.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - h.y.data[i]))));
    expect(worst).toBeGreaterThan(0); // the weights really were rounded
    expect(worst).toBeLessThan(5e-3);
  });
});

describe('int8 weights', () => {
  it('store each output channel in int8 within half a step of the float32 weight', () => {
    const rng = new Prng(4);
    const dims = [3, 5, 2, 2];
    const w = Float32Array.from(rng.normals(60, 1));
    for (const axis of [0, 1, 3]) {
      const { q, scales } = int8PerChannel(w, dims, axis);
      expect(scales).toHaveLength(dims[axis]);
      const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
      w.forEach((v, i) => expect(Math.abs(q[i] * scales[Math.floor(i / inner) % dims[axis]] - v)).toBeLessThanOrEqual(scales[Math.floor(i / inner) % dims[axis]] / 2 + 1e-7));
      // every channel uses the whole range
      for (let c = 0; c < dims[axis]; c++) expect(Math.max(...Array.from(q).filter((_, i) => Math.floor(i / inner) % dims[axis] === c).map(Math.abs))).toBe(127);
    }
  });

  it('multiply on the integer kernels where a weight is a MatMul operand, store the rest, and stay close to float32', async () => {
    const rng = new Prng(11);
    const g = new GraphBuilder('mlp-conv');
    const x = g.input('x', [BATCH, 64]);
    const W = g.floats('W', [64, 32], rng.normals(64 * 32, 0.2));
    const h = g.node('Relu', [g.node('MatMul', [x, W])]);
    // a convolution over the 32 values as a 1x32 image: its weight is stored, not multiplied in int8
    const img = g.node('Reshape', [h, g.ints([-1, 1, 1, 32])]);
    const K = g.floats('K', [8, 1, 1, 3], rng.normals(24 * 16, 0.3).slice(0, 24));
    const Kbig = g.floats('Kbig', [16, 8, 1, 3], rng.normals(384, 0.2));
    const c = g.node('Conv', [g.node('Conv', [img, K], { pads: [0, 1, 0, 1] }), Kbig], { pads: [0, 1, 0, 1] });
    g.output(g.node('Reshape', [c, g.ints([-1, 512])]), 'y', [BATCH, 512]);
    const full = g.toBytes();
    const int8 = g.toBytes('', { weights: 'int8' });
    expect(int8.length).toBeLessThan(full.length * 0.5);
    const ops = onnx.ModelProto.decode(int8).graph!.node!.map((n) => n.opType);
    expect(ops.filter((o) => o === 'MatMulInteger')).toHaveLength(1);
    expect(ops.filter((o) => o === 'ReduceMax')).toHaveLength(1); // one activation scale per row
    expect(ops).not.toContain('MatMul');
    expect(ops.filter((o) => o === 'Cast')).toHaveLength(3); // activations to uint8, the int32 sums back, and Kbig (K is too small to quantise)
    const feed = { x: { data: rng.normals(8 * 64), dims: [8, 64] } };
    const [a, q] = [await runGraph(full, feed), await runGraph(int8, feed)];
    const peak = Math.max(...Array.from(a.y.data, Math.abs));
    let worst = 0;
    a.y.data.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - q.y.data[i]))));
    expect(worst).toBeGreaterThan(0);
    expect(worst / peak).toBeLessThan(0.05);
    // a row's answer is its own: the same alone as among the other seven, bit for bit
    const alone = await runGraph(int8, { x: { data: feed.x.data.slice(3 * 64, 4 * 64), dims: [1, 64] } });
    expect(Array.from(alone.y.data)).toEqual(Array.from(q.y.data.slice(3 * 512, 4 * 512)));
  });

  it('store a weight a Loop body reads, and leave the answers close', async () => {
    const rng = new Prng(12);
    const g = new GraphBuilder('loop');
    const x = g.input('x', [BATCH, 32]);
    const W = g.floats('W', [32, 32], rng.normals(32 * 32, 0.15));
    const body = g.subgraph('body');
    body.typedInput('i', 'int64', []);
    body.typedInput('cond', 'bool', []);
    const h = body.input('h', [BATCH, 32]);
    body.typedOutput('cond', 'cond_out', 'bool', []);
    body.output(body.node('Tanh', [body.node('MatMul', [h, W])]), 'h_out', [BATCH, 32]);
    const [y] = g.loop(3, [x], body, 0);
    g.output(y, 'y', [BATCH, 32]);
    const int8 = g.toBytes('', { weights: 'int8' });
    const top = onnx.ModelProto.decode(int8).graph!.node!.map((n) => n.opType);
    expect(top.slice(0, 2)).toEqual(['Cast', 'Mul']);
    expect(top).not.toContain('MatMulInteger');
    const feed = { x: { data: rng.normals(4 * 32), dims: [4, 32] } };
    const [a, q] = [await runGraph(g.toBytes(), feed), await runGraph(int8, feed)];
    let worst = 0;
    a.y.data.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - q.y.data[i]))));
    expect(worst).toBeGreaterThan(0);
    expect(worst).toBeLessThan(0.05);
  });
});
