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

const inLine = (data: Float32Array, n: number, width: number, before: string, after: string) =>
  new JsonBytes(n * width * 10 + before.length + after.length + 2).ascii(before).rows(data, n, width).ascii(after).bytes();

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

  /**
   * `before`, JsonBytes.rows(data, n, width), then `after`: on the thread when
   * the rows are large. The caller is done with `data`: a view of a whole
   * buffer goes over as it is, anything else as a copy.
   */
  async rows(data: Float32Array, n: number, width: number, before = '', after = ''): Promise<Uint8Array> {
    if (n * width < THREAD_FROM_VALUES || this.broken) return inLine(data, n, width, before, after);
    this.threadWrites++;
    // once the thread has answered, a whole buffer goes over as it is; until then (and for
    // views) a copy, so the rows are still here to write in line if the thread cannot start
    const whole = data.byteOffset === 0 && data.length === n * width && data.byteLength === data.buffer.byteLength && !(data.buffer instanceof SharedArrayBuffer);
    const own = whole && this.answered ? data : data.slice(0, n * width);
    try {
      const { buffer, length } = await this.thread.call<{ buffer: ArrayBuffer; length: number }>({ data: own, n, width, before, after }, [own.buffer as ArrayBuffer]);
      this.answered = true;
      return new Uint8Array(buffer, 0, length);
    } catch (err) {
      if (!this.broken) console.error('JSON thread unavailable, writing answers in line:', err);
      this.broken = true;
      // a thread that died with the caller's own buffer leaves nothing to write from: this request fails
      if (data.length !== n * width) throw err;
      return inLine(data, n, width, before, after);
    }
  }

  /** set once the thread has answered: from then on whole buffers go over without a copy */
  private answered = false;

  close(): Promise<void> {
    return this.thread.close();
  }
}

let shared: JsonThread | undefined;
/** The process's one JSON thread, started on first use. */
export function jsonThread(): JsonThread {
  return (shared ??= new JsonThread());
}
