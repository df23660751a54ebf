/** The Node runtime: models read from a folder on disk, sessions from onnxruntime-node. */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { MemoryReport, Runtime } from '../runtime';
import { jsonThread } from './json';
import { createNodeSession, ortPool } from './ort';

export interface NodeRuntimeOptions {
  /**
   * Run graphs on onnxruntime's own threads (ort.ts OrtPool: EDGEGEN_ORT_THREADS
   * of them, default the cores up to 4), not the main one. Default: on,
   * unless EDGEGEN_ORT_THREAD=0.
   */
  ortThread?: boolean;
  /**
   * Write large JSON answers on a thread of their own (json.ts JsonThread).
   * Default: on, unless EDGEGEN_JSON_THREAD=0.
   */
  jsonThread?: boolean;
}

export function nodeRuntime(modelsDir: string, opts: NodeRuntimeOptions = {}): Runtime {
  const threaded = opts.ortThread ?? process.env.EDGEGEN_ORT_THREAD !== '0';
  const jsonThreaded = opts.jsonThread ?? process.env.EDGEGEN_JSON_THREAD !== '0';
  outsideJsAtStart ??= outsideJs();
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
    ...(jsonThreaded ? { jsonRows: (data, n, width, before, after) => jsonThread().rows(data, n, width, before, after) } : {}),
    memory: () => nodeMemory(threaded ? ortPool().copies() : undefined),
  };
}

/** What the Node process holds outside V8's heap and the array buffers it knows of, bytes. */
function outsideJs(): number {
  const u = process.memoryUsage();
  return u.rss - u.heapTotal - u.external;
}
/** the same when the first runtime was made, before any session opened */
let outsideJsAtStart: number | undefined;

/** The process's peak resident set (VmHWM), where /proc tells it. */
function rssPeak(): number | undefined {
  try {
    const kb = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    return undefined;
  }
}

/**
 * /healthz's memory on Node. onnxruntime-node allocates with the C allocator,
 * out of V8's sight, so its sessions and run buffers show only in the resident
 * set: nativeBytes is that share, the growth of the resident memory outside
 * V8's heap and array buffers since the runtime was made.
 */
function nodeMemory(sessionCopies: number | undefined): MemoryReport & { nativeBytes: number; rssPeakBytes?: number; sessionCopies?: number } {
  const u = process.memoryUsage();
  const peak = rssPeak();
  return {
    jsHeapBytes: u.heapUsed,
    rssBytes: u.rss,
    nativeBytes: Math.max(0, outsideJs() - (outsideJsAtStart ?? 0)),
    ...(peak === undefined ? {} : { rssPeakBytes: peak }),
    ...(sessionCopies === undefined ? {} : { sessionCopies }),
  };
}
