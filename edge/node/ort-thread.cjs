/**
 * The onnxruntime-node thread of the Node server (edge/node/ort.ts starts it):
 * it holds the sessions and runs their graphs, so the main thread keeps
 * reading requests, drawing noise and writing answers while a graph runs.
 * onnxruntime-node itself runs a graph on the calling thread.
 *
 * Plain CommonJS so it loads the same under tsx, vitest and plain node.
 * Messages in: { id, op: 'create', bytes, options } | { id, op: 'run', session,
 * feeds: { name: { data: Float32Array, dims } }, outputs?: string[] } | { id, op: 'release', session }.
 * Messages out: { id, ok: true, ... } | { id, ok: false, message }.
 */
const { parentPort, threadId } = require('node:worker_threads');
const ort = require('onnxruntime-node');

const sessions = new Map();
let next = 1;

async function handle(msg) {
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
