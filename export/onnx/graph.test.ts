// The writer's own pieces: float16 rounding (against numpy) and the
// float16-weights variant of a graph (smaller file, float32 arithmetic).
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { Prng } from '../../core/prng';
import { runGraph } from '../ort';
import { PYTHON } from '../testing/onnx-check';
import { BATCH, GraphBuilder, toHalfBits } from './graph';

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
