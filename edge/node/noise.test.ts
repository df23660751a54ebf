/** Sample noise drawn on the noise thread (noise.ts): the bits core/prng gives on the main thread, for large draws only. */
import { afterAll, expect, it } from 'vitest';
import { sampleNoise } from '../../core/prng';
import { NoiseThread, THREAD_FROM_NORMALS } from './noise';

const thread = new NoiseThread();
afterAll(() => thread.close());

const bits = (a: Float32Array | undefined) => (a ? Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length)) : undefined);

it.each([
  [7, 64, 784, {}],
  [1, 64, 32, { temperature: 0.7, observationDim: 784 }],
  [0xffffffff, 3, 2, { temperature: 1.3 }],
])('seed %i, n %i, latent %i %o: the same bits as on the main thread', async (seed, n, latentDim, opts) => {
  const before = thread.threadDraws;
  const got = await thread.sampleNoise(seed, n, latentDim, opts);
  const want = sampleNoise(seed, n, latentDim, opts);
  expect(bits(got.z)).toEqual(bits(want.z));
  expect(bits(got.noise)).toEqual(bits(want.noise));
  const count = n * (latentDim + ((opts as { observationDim?: number }).observationDim ?? 0));
  expect(thread.threadDraws - before).toBe(count >= THREAD_FROM_NORMALS ? 1 : 0);
});

it('a bad seed fails on the thread as in line', async () => {
  await expect(thread.sampleNoise(-1, 64, 784)).rejects.toThrow(/seed/);
});

it('a thread that cannot start: the noise is drawn in line, the same bits', async () => {
  const lost = new NoiseThread(new URL('./no-such-noise-thread.mjs', import.meta.url));
  const errors: unknown[] = [];
  const log = console.error;
  console.error = (...args: unknown[]) => void errors.push(args);
  try {
    for (let i = 0; i < 2; i++) {
      const got = await lost.sampleNoise(7, 64, 784);
      expect(bits(got.z)).toEqual(bits(sampleNoise(7, 64, 784).z));
    }
  } finally {
    console.error = log;
    await lost.close();
  }
  expect(lost.threadDraws).toBe(1);
  expect(errors.length).toBe(1);
});
