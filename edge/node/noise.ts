/**
 * Sample noise drawn on a thread of its own (noise-thread.mjs) when there is
 * much of it: an MNIST VAE or flow batch of 64 needs ~50k Box-Muller normals,
 * about 1.5 ms of the main thread's time per request, which the main thread
 * then spends on other requests. Same function, same seed, same bits
 * (noise.test.ts). Small draws stay on the main thread: a message each way
 * costs more than they do.
 */
import { sampleNoise } from '../../core/prng';
import { ThreadCalls } from './thread';

/** Fewer normals than this are drawn on the calling thread. */
export const THREAD_FROM_NORMALS = 8192;

type Noise = { z: Float32Array; noise?: Float32Array };

export class NoiseThread {
  private readonly thread = new ThreadCalls(new URL('./noise-thread.mjs', import.meta.url));
  /** draws sent to the thread so far */
  threadDraws = 0;

  /** sampleNoise(seed, n, latentDim, opts), on the thread when it is large. */
  async sampleNoise(seed: number, n: number, latentDim: number, opts: { temperature?: number; observationDim?: number } = {}): Promise<Noise> {
    const count = n * (latentDim + (opts.observationDim ?? 0));
    if (count < THREAD_FROM_NORMALS) return sampleNoise(seed, n, latentDim, opts);
    this.threadDraws++;
    return this.thread.call<Noise>({ seed, n, latentDim, opts });
  }

  close(): Promise<void> {
    return this.thread.close();
  }
}

let shared: NoiseThread | undefined;
/** The process's one noise thread, started on first use. */
export function noiseThread(): NoiseThread {
  return (shared ??= new NoiseThread());
}
