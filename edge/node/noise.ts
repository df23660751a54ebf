/**
 * Sample noise drawn on a thread of its own (noise-thread.mjs) when there is
 * much of it: an MNIST VAE or flow batch of 64 needs ~50k normals, ~0.4-0.5 ms
 * of the main thread's time per request with the ziggurat (1.5 ms with the
 * Box-Muller draws before it), which the main thread then spends on other
 * requests. Same function, same seed, same bits
 * (noise.test.ts). Small draws stay on the main thread: a message each way
 * costs more than they do.
 */
import { sampleNoise } from '../../core/prng';
import { ThreadCalls } from './thread';

/** Fewer normals than this are drawn on the calling thread. */
export const THREAD_FROM_NORMALS = 8192;

type Noise = { z: Float32Array; noise?: Float32Array };

export class NoiseThread {
  private readonly thread: ThreadCalls;

  /** `script`: the thread's module (tests point it at one that cannot start) */
  constructor(script = new URL('./noise-thread.mjs', import.meta.url)) {
    this.thread = new ThreadCalls(script);
  }
  /** draws sent to the thread so far */
  threadDraws = 0;

  /** sampleNoise(seed, n, latentDim, opts), on the thread when it is large. */
  async sampleNoise(seed: number, n: number, latentDim: number, opts: { temperature?: number; observationDim?: number } = {}): Promise<Noise> {
    const count = n * (latentDim + (opts.observationDim ?? 0));
    if (count < THREAD_FROM_NORMALS || this.broken) return sampleNoise(seed, n, latentDim, opts);
    this.threadDraws++;
    try {
      return await this.thread.call<Noise>({ seed, n, latentDim, opts });
    } catch (err) {
      // a bad argument fails in line as well (and says so); a thread that cannot
      // start (e.g. tsx missing) is given up on: the noise is drawn in line from then on
      if (err instanceof Error && /seed/.test(err.message)) throw new RangeError(err.message);
      if (!this.broken) console.error('noise thread unavailable, drawing noise in line:', err);
      this.broken = true;
      return sampleNoise(seed, n, latentDim, opts);
    }
  }

  /** set once the thread has failed: every draw is in line from then on */
  private broken = false;

  close(): Promise<void> {
    return this.thread.close();
  }
}

let shared: NoiseThread | undefined;
/** The process's one noise thread, started on first use. */
export function noiseThread(): NoiseThread {
  return (shared ??= new NoiseThread());
}
