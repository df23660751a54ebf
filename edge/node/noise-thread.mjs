/**
 * The noise thread of the Node server (edge/node/noise.ts starts it): draws a
 * sample request's noise with core/prng.ts's own sampleNoise, so a seed gives
 * the same numbers as on the main thread, while the main thread serves other
 * requests. Loaded through tsx (the Node server runs under it) to import the
 * TypeScript source itself rather than a copy.
 * Messages in: { id, seed, n, latentDim, opts }; out: { id, ok, value: { z, noise? } }.
 */
import { parentPort } from 'node:worker_threads';
import { tsImport } from 'tsx/esm/api';

const { sampleNoise } = await tsImport('../../core/prng.ts', import.meta.url);

parentPort.on('message', (msg) => {
  try {
    const value = sampleNoise(msg.seed, msg.n, msg.latentDim, msg.opts);
    const transfer = [value.z.buffer];
    if (value.noise) transfer.push(value.noise.buffer);
    parentPort.postMessage({ id: msg.id, ok: true, value }, transfer);
  } catch (err) {
    parentPort.postMessage({ id: msg.id, ok: false, message: String((err && err.message) || err) });
  }
});
