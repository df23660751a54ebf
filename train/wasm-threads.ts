/**
 * tfjs-backend-wasm's multi-threaded SIMD build, in Node.
 *
 * tfjs switches threads off in Node (its WASM_HAS_MULTITHREAD_SUPPORT flag is
 * false whenever IS_NODE). The threaded build itself runs in Node: its
 * Emscripten worker script has a Node branch on worker_threads. Three things
 * stand in the way, and each is bridged here, only while the backend starts:
 *
 * 1. tfjs hands Emscripten the worker script as a `blob:` URL, which Node's
 *    `new Worker()` refuses. The worker script is written once to a file in the
 *    OS temp folder, and `URL.createObjectURL` answers that file's path for it.
 * 2. Each worker then loads the main script from a Blob it is sent; the file
 *    above starts with a line that answers the package's own copy of that
 *    script instead (the same code the Blob holds).
 * 3. The C++ side caps the XNNPACK pool at half the logical cores (it assumes
 *    two hyper-threads per core), so a 2-core machine would get 1 thread.
 *    `os.cpus()` reports twice the wanted count while the module starts.
 *
 * The thread count is fixed when the backend starts, once per process.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { existsSync, writeFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';

const require = createRequire(import.meta.url);

type Unref = { unref?: () => void };

/** The threads XNNPACK may use here by default: one per core the OS gives this process. */
export function defaultThreads(): number {
  return Math.max(1, Math.min(8, os.availableParallelism?.() ?? os.cpus().length));
}

/**
 * Starts the wasm backend with `threads` XNNPACK threads (1 = the plain SIMD
 * build) and returns the count it runs with; where the backend already runs
 * in this process, switches to it as it is.
 */
export async function startWasm(threads: number, setBackend: () => Promise<boolean>): Promise<number> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  if (tf.findBackend('wasm')) {
    // started earlier in this process: its thread count can no longer change
    if (!(await setBackend())) throw new Error('wasm backend did not initialise');
    return wasm.getThreadsCount();
  }
  const dist = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
  wasm.setWasmPaths(join(dist, '/'));
  if (threads <= 1) {
    if (!(await setBackend())) throw new Error('wasm backend did not initialise');
    return 1;
  }
  const out = join(dist, '..', 'wasm-out');
  const { wasmWorkerContents } = require(join(out, 'tfjs-backend-wasm-threaded-simd.worker.js')) as { wasmWorkerContents: string };
  const mainScript = join(out, 'tfjs-backend-wasm-threaded-simd.js');
  // tfjs escapes newlines the same way before it builds its Blob
  const body = `URL.createObjectURL = () => ${JSON.stringify(mainScript)}; URL.revokeObjectURL = () => {};\n${wasmWorkerContents.replace(/\n/g, '\\n')}`;
  const workerFile = join(os.tmpdir(), `edgegen-tfjs-wasm-worker-${createHash('sha256').update(body).digest('hex').slice(0, 12)}.cjs`);
  if (!existsSync(workerFile)) writeFileSync(workerFile, body);

  const createObjectURL = URL.createObjectURL;
  const cpus = os.cpus;
  URL.createObjectURL = ((b: Blob) => (b.type === 'application/javascript' ? workerFile : createObjectURL(b))) as typeof URL.createObjectURL;
  os.cpus = () => Array.from({ length: 2 * threads }, () => cpus()[0]);
  try {
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
    wasm.setThreadsCount(threads);
    if (!(await setBackend())) throw new Error('wasm backend (threaded) did not initialise');
  } finally {
    os.cpus = cpus;
    URL.createObjectURL = createObjectURL;
  }
  // XNNPACK's pool threads wait on the main thread forever and would keep Node
  // from exiting after the work is done (a CLI run printed its result, then
  // hung): let the process end without them.
  const pthreads = (tf.backend() as unknown as { wasm?: { PThread?: { unusedWorkers: Unref[]; runningWorkers: Unref[] } } }).wasm?.PThread;
  for (const w of [...(pthreads?.unusedWorkers ?? []), ...(pthreads?.runningWorkers ?? [])]) w.unref?.();
  return wasm.getThreadsCount();
}
