/**
 * The worker thread of the Node server (edge/node/runtime.ts starts them): an
 * onnxruntime thread holds sessions and runs their graphs, and the JSON
 * thread writes large float32 answers as JSON text, so the main thread keeps
 * reading requests, drawing noise and writing the small answers meanwhile.
 * onnxruntime-node itself runs a graph on the calling thread.
 *
 * The JSON writer is edge/float32.ts's own JsonBytes (so the bytes are the
 * main thread's), imported through tsx on the first answer: the Node server
 * runs under it, and an onnxruntime thread never loads it.
 *
 * Messages in: { id, op: 'create', bytes, options } | { id, op: 'run', session,
 * feeds: { name: { data: Float32Array, dims } }, outputs?: string[] } |
 * { id, op: 'release', session } | { id, op: 'json', data: Float32Array, n,
 * width, before, after }.
 * Messages out: { id, ok: true, value } | { id, ok: false, message }.
 */
import { createRequire } from 'node:module';
import { parentPort, threadId } from 'node:worker_threads';

const require = createRequire(import.meta.url);
/** @type {typeof import('onnxruntime-node') | undefined} */
let ort;
let JsonBytes;

const sessions = new Map();
let next = 1;

async function handle(msg) {
  if (msg.op === 'json') {
    JsonBytes ??= (await (await import('tsx/esm/api')).tsImport('../float32.ts', import.meta.url)).JsonBytes;
    const out = new JsonBytes(msg.n * msg.width * 10 + msg.before.length + msg.after.length + 2);
    const bytes = out.ascii(msg.before).rows(msg.data, msg.n, msg.width).ascii(msg.after).bytes();
    return { value: { buffer: bytes.buffer, length: bytes.length }, transfer: [bytes.buffer] };
  }
  ort ??= require('onnxruntime-node');
  if (msg.op === 'create') {
    const session = await ort.InferenceSession.create(msg.bytes, msg.options);
    const handle = next++;
    sessions.set(handle, session);
    return { value: { session: handle, inputNames: session.inputNames, outputNames: session.outputNames } };
  }
  const session = sessions.get(msg.session);
  if (!session) throw new Error('onnxruntime session was released');
  if (msg.op === 'release') {
    sessions.delete(msg.session);
    await session.release();
    return { value: null };
  }
  const inputs = {};
  for (const [name, t] of Object.entries(msg.feeds)) inputs[name] = new ort.Tensor('float32', t.data, t.dims);
  // only the outputs the caller reads, when it says which
  const outputs = msg.outputs ? await session.run(inputs, msg.outputs) : await session.run(inputs);
  const result = {};
  const transfer = [];
  for (const [name, t] of Object.entries(outputs)) {
    let data = t.data;
    // hand the buffer over when the tensor owns all of it, else a copy that does
    if (data.byteOffset !== 0 || data.byteLength !== data.buffer.byteLength) data = data.slice();
    result[name] = { data, dims: Array.from(t.dims) };
    transfer.push(data.buffer);
  }
  return { value: { outputs: result, threadId }, transfer };
}

parentPort.on('message', (msg) => {
  handle(msg).then(
    ({ value, transfer }) => parentPort.postMessage({ id: msg.id, ok: true, value }, transfer ?? []),
    (err) => parentPort.postMessage({ id: msg.id, ok: false, message: String((err && err.message) || err) }),
  );
});
