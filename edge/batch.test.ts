/**
 * BatchingSession over a session that takes several runs at once (Node's
 * onnxruntime threads): that many batches go out side by side, never more, and
 * every request still gets the bits it gets alone.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { Prng } from '../core/prng';
import { oneHot } from '../core/protocol';
import { BatchingSession, type Session, type Tensor } from './engine';
import { OrtPool } from './node/runtime';
import { MODELS } from './testing';

const pool = new OrtPool(2);
afterAll(() => pool.close());
const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

it('runs as many batches at once as the inner session takes, each request with its lone bits', async () => {
  const inner = await pool.createSession(new Uint8Array(readFileSync(join(MODELS, 'dcgan-mnist', 'sample.onnx'))));
  let running = 0;
  let most = 0;
  // the real session, counted: how many of its runs overlap
  const counted: Session = {
    ...inner,
    run: async (feeds) => {
      most = Math.max(most, ++running);
      try {
        return await inner.run(feeds);
      } finally {
        running--;
      }
    },
  };
  // batches of at most 8 rows, so 12 requests of 4 rows need several runs
  const session = new BatchingSession(counted, { waitMs: 0, waitBelowRows: 16, aloneFromRows: Infinity, maxRows: 8, maxUnits: 1 << 20, unitsPerRow: () => 1 });
  expect(session.concurrency).toBe(2);
  const feedsOf = (seed: number): Record<string, Tensor> => ({ z: { data: new Prng(seed).normals(4 * 64), dims: [4, 64] }, label: { data: oneHot([seed % 10, 1, 2, 3], 10), dims: [4, 10] } });
  const together = await Promise.all(Array.from({ length: 12 }, (_, i) => session.run(feedsOf(i))));
  expect(most).toBe(2);
  for (let i = 0; i < 12; i++) expect(bits(together[i].x.data)).toEqual(bits((await inner.run(feedsOf(i))).x.data));
  await inner.release!();
});
