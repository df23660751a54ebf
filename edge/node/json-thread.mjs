/**
 * The JSON thread of the Node server (edge/node/json.ts starts it): writes
 * large float32 answers as JSON text with edge/float32.ts's own JsonBytes, so
 * the bytes are the main thread's, while the main thread serves other
 * requests. Loaded through tsx (the Node server runs under it) to import the
 * TypeScript source itself rather than a copy.
 * Messages in: { id, data: Float32Array, n, width, before, after };
 * out: { id, ok, value: { buffer, length } }.
 */
import { parentPort } from 'node:worker_threads';
import { tsImport } from 'tsx/esm/api';

const { JsonBytes } = await tsImport('../float32.ts', import.meta.url);

parentPort.on('message', (msg) => {
  try {
    const out = new JsonBytes(msg.n * msg.width * 10 + msg.before.length + msg.after.length + 2);
    const bytes = out.ascii(msg.before).rows(msg.data, msg.n, msg.width).ascii(msg.after).bytes();
    parentPort.postMessage({ id: msg.id, ok: true, value: { buffer: bytes.buffer, length: bytes.length } }, [bytes.buffer]);
  } catch (err) {
    parentPort.postMessage({ id: msg.id, ok: false, message: String((err && err.message) || err) });
  }
});
