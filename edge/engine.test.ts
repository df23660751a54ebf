/**
 * Buffer ownership (engine.ts Owned): a tensor handed to a run is the run's.
 * Its giver cannot use it as a plain array (the compiler says so) and cannot
 * read it after the hand-over (it throws), on the main thread as on Node's
 * onnxruntime threads, and feeding it to a second run fails the same way
 * everywhere; a lent tensor stays readable.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { Prng } from '../core/prng';
import { oneHot } from '../core/protocol';
import { Owned, feedData, type Tensor } from './engine';
import { OrtThread, createNodeSession } from './node/runtime';
import { MODELS } from './testing';

const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
/** dcgan-mnist's `label` feed: n rows of one class, lent. */
const label = (n: number): Tensor => ({ data: oneHot(new Array(n).fill(3), 10), dims: [n, 10] });

it('an Owned tensor is read through data until it is taken, and never after', () => {
  const raw = new Prng(1).normals(6);
  const owned = new Owned(raw, [3, 2]);
  // @ts-expect-error an Owned tensor is not a plain array: its values are read through `data`, which checks it is still held
  const plain: Float32Array = owned;
  expect(plain).toBe(owned);
  expect(owned.data).toBe(raw);
  const lent: Tensor = { data: raw, dims: [3, 2] };
  expect(feedData(lent)).toBe(raw);
  expect(lent.data).toBe(raw); // lent: still the giver's
  expect(feedData(owned)).toBe(raw); // given: taken by whoever runs it
  expect(() => owned.data).toThrow(/handed over/);
  expect(() => owned.take()).toThrow(/handed over/);
});

it('a run on the main thread takes its Owned feeds: the caller reading one again throws, a lent feed stays readable, and the bits are the same', async () => {
  const session = await createNodeSession(new Uint8Array(readFileSync(join(MODELS, 'dcgan-mnist', 'sample.onnx'))));
  const z = () => new Prng(7).normals(2 * 64);
  const lent = { z: { data: z(), dims: [2, 64] }, label: label(2) };
  const given = { z: new Owned(z(), [2, 64]), label: label(2) };
  const a = await session.run(lent);
  const b = await session.run(given);
  expect(lent.z.data.length).toBe(2 * 64);
  expect(() => given.z.data).toThrow(/handed over/);
  expect(bits(b.x.data)).toEqual(bits(a.x.data));
  await session.release();
});

it('a tensor given to one run cannot be fed to another: the second run fails loudly, on the main thread as on a thread', async () => {
  // with a flag instead of a type, Node's thread got a detached (empty) buffer here while the
  // main thread and the Worker read the values as if nothing had happened
  const bytes = new Uint8Array(readFileSync(join(MODELS, 'dcgan-mnist', 'sample.onnx')));
  const thread = new OrtThread();
  try {
    for (const session of [await createNodeSession(bytes), await thread.createSession(bytes)]) {
      const given = { z: new Owned(new Prng(9).normals(2 * 64), [2, 64]), label: label(2) };
      expect((await session.run(given)).x.data.length).toBe(2 * 784);
      await expect(session.run(given)).rejects.toThrow(/handed over/);
      await session.release();
    }
  } finally {
    await thread.close();
  }
});
