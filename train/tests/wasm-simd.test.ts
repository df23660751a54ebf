/**
 * train/wasm-simd.ts: the hand-assembled SIMD module is valid in both memory
 * modes (plain for the single-threaded wasm build, shared for the threaded
 * one), its loops give the JavaScript reference's values, and the fused Adam
 * kernel really runs on it on the wasm backend.
 */
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { Prng } from '../../core';
import { initBackend } from '../backend';
import { assembleForTest, backendMemory, simdKernels } from '../wasm-simd';

function adamRef(P: Float32Array, M: Float32Array, V: Float32Array, G: Float32Array, lr: number, b1: number, b2: number, eps: number) {
  const m = M.map((x, i) => b1 * x + (1 - b1) * G[i]);
  const v = V.map((x, i) => b2 * x + (1 - b2) * G[i] * G[i]);
  const p = P.map((x, i) => x - (lr * m[i]) / (Math.sqrt(v[i]) + eps));
  return { p, m, v };
}

describe('wasm-simd', () => {
  for (const shared of [false, true]) {
    it(`assembles a valid module and adam matches the reference (${shared ? 'shared' : 'plain'} memory)`, () => {
      expect(WebAssembly.validate(assembleForTest(shared))).toBe(true);
      const memory = shared ? new WebAssembly.Memory({ initial: 1, maximum: 65536, shared: true }) : new WebAssembly.Memory({ initial: 1 });
      const k = simdKernels(memory);
      expect(k).not.toBeNull();
      const n = 40; // a multiple of 4: the loop covers all of it
      const rng = new Prng(3);
      const heap = new Float32Array(memory.buffer);
      const at = (j: number) => j * n; // 7 arrays of n floats, back to back
      for (let j = 0; j < 4; j++) heap.set(Float32Array.from(rng.normals(n), (x) => (j === 2 ? Math.abs(x) : x)), at(j));
      const [P, M, V, G] = [0, 1, 2, 3].map((j) => heap.slice(at(j), at(j) + n));
      k!.adam(at(0) * 4, at(1) * 4, at(2) * 4, at(3) * 4, at(4) * 4, at(5) * 4, at(6) * 4, n, 0.01, 0.9, 0.1, 0.999, 1 - 0.999, 1e-8);
      const ref = adamRef(P, M, V, G, 0.01, 0.9, 0.999, 1e-8);
      for (const [j, want] of [[4, ref.p], [5, ref.m], [6, ref.v]] as const) {
        const got = heap.subarray(at(j), at(j) + n);
        for (let i = 0; i < n; i++) expect(Math.abs(got[i] - want[i])).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(want[i])));
      }
      // the inputs are untouched
      expect(heap.slice(at(0), at(0) + n)).toEqual(P);
    });
  }

  it('binds to the wasm backend heap, so the fused Adam kernel runs on SIMD there', async () => {
    await initBackend('wasm');
    const memory = backendMemory((tf.backend() as unknown as { wasm: unknown }).wasm);
    expect(memory).toBeInstanceOf(WebAssembly.Memory);
    expect(simdKernels(memory!)).not.toBeNull();
  });
});

describe('wasm-simd transpose', () => {
  it('transposes [R, C] to [C, R] for several multiple-of-4 shapes', () => {
    const memory = new WebAssembly.Memory({ initial: 2 });
    const k = simdKernels(memory)!;
    const heap = new Float32Array(memory.buffer);
    for (const [R, C] of [[4, 4], [8, 12], [128, 36], [20, 8]]) {
      const src = Float32Array.from({ length: R * C }, (_, i) => i + 0.5);
      heap.set(src, 0);
      heap.fill(-1, R * C, 2 * R * C);
      k.transpose(0, R * C * 4, R, C, C, R);
      const dst = heap.subarray(R * C, 2 * R * C);
      for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) expect(dst[c * R + r]).toBe(src[r * C + c]);
    }
    // a 4x8 block of a [8, 12] matrix at row 4, col 4, into a [12, 8] destination: strides apply
    const src = Float32Array.from({ length: 96 }, (_, i) => i);
    heap.set(src, 0);
    heap.fill(-1, 96, 192);
    k.transpose((4 * 12 + 4) * 4, (96 + 4 * 8 + 4) * 4, 4, 8, 12, 8);
    for (let r = 0; r < 4; r++) for (let c = 0; c < 8; c++) expect(heap[96 + (4 + c) * 8 + 4 + r]).toBe(src[(4 + r) * 12 + 4 + c]);
    expect(heap[96]).toBe(-1);
  });
});
