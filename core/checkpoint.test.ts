import { describe, expect, it } from 'vitest';
import { CheckpointError, decodeCheckpoint, encodeCheckpoint, type Checkpoint } from './checkpoint';
import type { GanSpec } from './spec';

const spec: GanSpec = {
  family: 'gan', model: 'gan', shape: [2], preprocess: { kind: 'unit' }, latentDim: 2,
  generator: { sizes: [2, 3, 2], hidden: 'relu', output: 'linear' },
  discriminator: { sizes: [2, 3, 1], hidden: 'leakyRelu', output: 'linear' },
};
const ck: Checkpoint = {
  spec,
  weights: [
    { name: 'gen.0.W', shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) },
    { name: 'gen.0.b', shape: [3], data: Float32Array.from([0.5, -0.5, 0]) },
  ],
  optimizer: [{ name: 'adam.m.gen.0.b', shape: [3], data: Float32Array.from([7, 8, 9]) }],
  step: 12,
  meta: { dataset: 'moons' },
};

describe('checkpoint format', () => {
  it('round-trips weights, optimizer state, step and meta', () => {
    const back = decodeCheckpoint(encodeCheckpoint(ck));
    expect(back.spec).toEqual(spec);
    expect(back.step).toBe(12);
    expect(back.meta).toEqual({ dataset: 'moons' });
    expect(back.weights.map((w) => [w.name, w.shape, Array.from(w.data)])).toEqual(
      ck.weights.map((w) => [w.name, w.shape, Array.from(w.data)]),
    );
    expect(Array.from(back.optimizer[0].data)).toEqual([7, 8, 9]);
  });

  it('refuses truncated, corrupted and foreign files, naming the source', () => {
    const bytes = encodeCheckpoint(ck);
    expect(() => decodeCheckpoint(bytes.subarray(0, bytes.length - 4), 'a.egck')).toThrow(/a\.egck.*truncated/);
    const flipped = bytes.slice();
    flipped[flipped.length - 2] ^= 0xff;
    expect(() => decodeCheckpoint(flipped, 'b.egck')).toThrow(/b\.egck: checksum mismatch/);
    expect(() => decodeCheckpoint(new TextEncoder().encode('{"not":"a checkpoint"}'), 'c')).toThrow(CheckpointError);
  });

  it('rejects a tensor whose data does not fill its shape', () => {
    const bad = { ...ck, weights: [{ name: 'x', shape: [2, 2], data: new Float32Array(3) }] };
    expect(() => encodeCheckpoint(bad)).toThrow(/x: 3 values for shape \[2,2\]/);
  });
});
