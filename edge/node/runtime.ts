/** The Node runtime: models read from a folder on disk, sessions from onnxruntime-node. */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Runtime } from '../runtime';
import { jsonThread } from './json';
import { noiseThread } from './noise';
import { createNodeSession, ortPool } from './ort';

export interface NodeRuntimeOptions {
  /**
   * Run graphs on onnxruntime's own threads (ort.ts OrtPool: EDGEGEN_ORT_THREADS
   * of them, default the cores up to 4), not the main one. Default: on,
   * unless EDGEGEN_ORT_THREAD=0.
   */
  ortThread?: boolean;
  /**
   * Draw large sample noise on a thread of its own (noise.ts NoiseThread).
   * Default: on, unless EDGEGEN_NOISE_THREAD=0.
   */
  noiseThread?: boolean;
  /**
   * Write large JSON answers on a thread of their own (json.ts JsonThread).
   * Default: on, unless EDGEGEN_JSON_THREAD=0.
   */
  jsonThread?: boolean;
}

export function nodeRuntime(modelsDir: string, opts: NodeRuntimeOptions = {}): Runtime {
  const threaded = opts.ortThread ?? process.env.EDGEGEN_ORT_THREAD !== '0';
  const noiseThreaded = opts.noiseThread ?? process.env.EDGEGEN_NOISE_THREAD !== '0';
  const jsonThreaded = opts.jsonThread ?? process.env.EDGEGEN_JSON_THREAD !== '0';
  const root = resolve(modelsDir);
  return {
    name: 'node',
    async loadBytes(path) {
      const full = resolve(join(root, path));
      if (!full.startsWith(root + '/')) return null; // never read outside the models folder
      try {
        return new Uint8Array(await readFile(full));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw err;
      }
    },
    createSession: threaded ? (bytes) => ortPool().createSession(bytes) : createNodeSession,
    ...(noiseThreaded ? { sampleNoise: (...args) => noiseThread().sampleNoise(...args) } : {}),
    ...(jsonThreaded ? { jsonRows: (data, n, width, before, after) => jsonThread().rows(data, n, width, before, after) } : {}),
    memory() {
      const u = process.memoryUsage();
      return { jsHeapBytes: u.heapUsed, rssBytes: u.rss };
    },
  };
}
