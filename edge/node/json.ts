/**
 * Large JSON answers written on a thread of their own (json-thread.mjs): a
 * 64-image flow sample is 50k float32 values, ~3 ms of digit writing that
 * would otherwise hold the main thread (the largest part of its time per
 * request in that case). Same JsonBytes code, same bytes (json.test.ts).
 * Small answers stay on the main thread: the messages cost more than they do.
 */
import { JsonBytes } from '../float32';
import { ThreadCalls } from './thread';

/** Answers of fewer values than this are written on the calling thread. */
export const THREAD_FROM_VALUES = 8192;

const inLine = (data: Float32Array, n: number, width: number) => new JsonBytes(n * width * 12 + 2).rows(data, n, width).bytes();

export class JsonThread {
  private readonly thread: ThreadCalls;
  /** answers written on the thread so far */
  threadWrites = 0;
  /** set once the thread has failed: every answer is written in line from then on */
  private broken = false;

  /** `script`: the thread's module (tests point it at one that cannot start) */
  constructor(script = new URL('./json-thread.mjs', import.meta.url)) {
    this.thread = new ThreadCalls(script);
  }

  /** JsonBytes.rows(data, n, width): the JSON array of n rows, on the thread when it is large. */
  async rows(data: Float32Array, n: number, width: number): Promise<Uint8Array> {
    if (n * width < THREAD_FROM_VALUES || this.broken) return inLine(data, n, width);
    this.threadWrites++;
    // a copy of its own goes over (the rows may be a view into a batch's output)
    const own = data.slice(0, n * width);
    try {
      const { buffer, length } = await this.thread.call<{ buffer: ArrayBuffer; length: number }>({ data: own, n, width }, [own.buffer]);
      return new Uint8Array(buffer, 0, length);
    } catch (err) {
      if (!this.broken) console.error('JSON thread unavailable, writing answers in line:', err);
      this.broken = true;
      return inLine(data, n, width);
    }
  }

  close(): Promise<void> {
    return this.thread.close();
  }
}

let shared: JsonThread | undefined;
/** The process's one JSON thread, started on first use. */
export function jsonThread(): JsonThread {
  return (shared ??= new JsonThread());
}
