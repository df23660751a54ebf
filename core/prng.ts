/**
 * The one seeded PRNG of edgegen. Node, the Worker and the browser all draw
 * noise through this file, so a seed names the same noise everywhere.
 *
 * Generator: xoshiro128** (Blackman & Vigna), 32-bit state words updated with
 * Math.imul and >>> only, so every JS engine produces the same integers.
 * Seeding: splitmix32 expands a 32-bit seed into the four state words.
 * Normals: the ziggurat method (Marsaglia & Tsang 2000, 128 layers). One
 * 32-bit draw gives a normal 97.3% of the time (measured): its low 7 bits pick the
 * layer, its high 25 bits (signed) the position, and the value is an integer
 * times a table entry, exact in IEEE arithmetic. The rest (the wedges and the
 * tail beyond r = 3.4426) take more draws and one Math.exp or two Math.log.
 * The tables are built at load with Math.exp/log/sqrt, the same fdlibm-derived
 * code in V8 (Node, workerd, Chromium), so normals match bit for bit across the
 * three runtimes edgegen targets. (Until 2026-11-25 this was Box-Muller, a log,
 * a cos and a sqrt per normal: ~3x slower, and the noise of a 64-image
 * request was the largest part of its CPU time.)
 */

/**
 * Ziggurat tables for 128 layers of equal area ZIG_V under exp(-x^2/2)
 * (Marsaglia & Tsang 2000, their r and v). Layer i > 0 spans x in [0, x_i)
 * with x decreasing towards the top; layer 0 is the base (a rectangle of
 * width v / f(r), the part past r being the tail). ZIG_K[i]: a draw whose
 * |position| is below it lies in the layer's inner rectangle (accepted at
 * once), in units of 2^-24 x_i;
 * ZIG_W[i] = x_i / 2^24; ZIG_F[i] = exp(-x_i^2 / 2).
 */
const ZIG_R = 3.442619855899;
const ZIG_V = 9.91256303526217e-3;
const ZIG_SCALE = 16777216; // 2^24: positions are 25-bit signed integers
const ZIG_K = new Int32Array(128);
const ZIG_W = new Float64Array(128);
const ZIG_F = new Float64Array(128);
{
  let x = ZIG_R;
  let above = x;
  const base = ZIG_V / Math.exp(-0.5 * x * x);
  ZIG_K[0] = Math.floor((x / base) * ZIG_SCALE);
  ZIG_K[1] = 0;
  ZIG_W[0] = base / ZIG_SCALE;
  ZIG_W[127] = x / ZIG_SCALE;
  ZIG_F[0] = 1;
  ZIG_F[127] = Math.exp(-0.5 * x * x);
  for (let i = 126; i >= 1; i--) {
    x = Math.sqrt(-2 * Math.log(ZIG_V / x + Math.exp(-0.5 * x * x)));
    ZIG_K[i + 1] = Math.floor((x / above) * ZIG_SCALE);
    above = x;
    ZIG_F[i] = Math.exp(-0.5 * x * x);
    ZIG_W[i] = x / ZIG_SCALE;
  }
}

export class Prng {
  /** xoshiro128**'s four state words (a typed array: number fields would box values >= 2^31) */
  private readonly s = new Uint32Array(4);

  constructor(seed: number) {
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
      throw new RangeError(`seed must be an integer in [0, 2^32), got ${seed}`);
    }
    let x = seed >>> 0;
    const next = (): number => {
      // splitmix32
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s[0] = next();
    this.s[1] = next();
    this.s[2] = next();
    this.s[3] = next();
  }

  /** Next 32-bit unsigned integer. */
  nextUint32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform in [0, 1) with 32 bits of resolution. */
  uniform(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform in (0, 1): never 0, so log() is finite. */
  uniformOpen(): number {
    return (this.nextUint32() + 0.5) / 4294967296;
  }

  /** One standard normal draw (the ziggurat: usually one 32-bit draw; the same sequence as normals()). */
  normal(): number {
    const u = this.nextUint32();
    const layer = u & 127;
    const j = (u | 0) >> 7;
    if ((j < 0 ? -j : j) < ZIG_K[layer]) return j * ZIG_W[layer];
    return this.zigguratSlow(j, layer);
  }

  /**
   * The ziggurat's rare path, for a draw (position j, layer) that fell outside
   * its layer's inner rectangle: the tail beyond r for the base layer, else a
   * wedge test against the density, and on rejection a fresh draw.
   */
  private zigguratSlow(j: number, layer: number): number {
    for (;;) {
      if (layer === 0) {
        // Marsaglia's tail: x = -ln(U1)/r, y = -ln(U2), accept when 2y >= x^2
        let x: number, y: number;
        do {
          x = -Math.log(this.uniformOpen()) / ZIG_R;
          y = -Math.log(this.uniformOpen());
        } while (y + y < x * x);
        return j > 0 ? ZIG_R + x : -ZIG_R - x;
      }
      const x = j * ZIG_W[layer];
      if (ZIG_F[layer] + this.uniform() * (ZIG_F[layer - 1] - ZIG_F[layer]) < Math.exp(-0.5 * x * x)) return x;
      const u = this.nextUint32();
      layer = u & 127;
      j = (u | 0) >> 7;
      if ((j < 0 ? -j : j) < ZIG_K[layer]) return j * ZIG_W[layer];
    }
  }

  /**
   * n standard normals, each multiplied by `scale` (a temperature): the same
   * numbers as n calls of normal(), with the generator's state in locals and
   * nothing allocated per value (about 2x faster on the noise of an image batch).
   */
  normals(n: number, scale = 1): Float32Array {
    const out = new Float32Array(n);
    const st = this.s;
    // the state as int32 locals: xor, shift and imul give the same 32 bits signed or not
    let s0 = st[0] | 0, s1 = st[1] | 0, s2 = st[2] | 0, s3 = st[3] | 0;
    for (let i = 0; i < n; i++) {
      // one xoshiro128** step, as nextUint32() (u is its result as int32)
      const m = Math.imul(s1, 5);
      const u = Math.imul((m << 7) | (m >>> 25), 9);
      const t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = (s3 << 11) | (s3 >>> 21);
      const layer = u & 127;
      const j = u >> 7;
      if ((j < 0 ? -j : j) < ZIG_K[layer]) {
        out[i] = j * ZIG_W[layer] * scale;
      } else {
        // rare (~2.7%): hand the state to the method that draws more
        st[0] = s0;
        st[1] = s1;
        st[2] = s2;
        st[3] = s3;
        out[i] = this.zigguratSlow(j, layer) * scale;
        s0 = st[0] | 0;
        s1 = st[1] | 0;
        s2 = st[2] | 0;
        s3 = st[3] | 0;
      }
    }
    st[0] = s0;
    st[1] = s1;
    st[2] = s2;
    st[3] = s3;
    return out;
  }

  /**
   * out[i] += uniform() for every i, in order: the same numbers as that loop,
   * with the generator's state in locals (an MNIST batch's dequantisation
   * noise, 100 352 values, went from ~2.5 ms to a fraction of that). The
   * step is written out as in normals(), not shared: a helper would have to
   * hand back four state words per value, the allocation this loop avoids.
   */
  addUniforms(out: Float32Array): void {
    let s0 = this.s[0], s1 = this.s[1], s2 = this.s[2], s3 = this.s[3];
    for (let i = 0; i < out.length; i++) {
      // one xoshiro128** step, exactly as nextUint32()
      const a = Math.imul(rotl(Math.imul(s1, 5) >>> 0, 7), 9) >>> 0;
      const t = (s1 << 9) >>> 0;
      s2 = (s2 ^ s0) >>> 0;
      s3 = (s3 ^ s1) >>> 0;
      s1 = (s1 ^ s2) >>> 0;
      s0 = (s0 ^ s3) >>> 0;
      s2 = (s2 ^ t) >>> 0;
      s3 = rotl(s3, 11);
      out[i] += a / 4294967296;
    }
    this.s[0] = s0;
    this.s[1] = s1;
    this.s[2] = s2;
    this.s[3] = s3;
  }

  /** n uniforms in [0, 1). */
  uniforms(n: number): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.nextUint32() / 4294967296;
    return out;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Fisher-Yates shuffle in place. */
  shuffle<T>(items: T[] | Int32Array | Uint32Array): void {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = items[i];
      items[i] = items[j];
      items[j] = tmp;
    }
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/**
 * The noise a `sample` request consumes, in a fixed order so every runtime
 * builds the same tensors from (seed, n): first the latent z [n, latentDim]
 * (scaled by temperature), then, for a VAE drawing from p(x|z), the observation
 * noise [n, dataDim] (also scaled by temperature).
 */
export function sampleNoise(
  seed: number,
  n: number,
  latentDim: number,
  opts: { temperature?: number; observationDim?: number } = {},
): { z: Float32Array; noise?: Float32Array } {
  const t = opts.temperature ?? 1;
  const rng = new Prng(seed);
  const z = rng.normals(n * latentDim, t);
  if (opts.observationDim === undefined) return { z };
  return { z, noise: rng.normals(n * opts.observationDim, t) };
}

/**
 * Class ids for a conditional model's sample request that names no label:
 * y ~ prior, one uniform per row by inverse CDF. A stream of its own (the seed
 * mixed with a constant), so z is the same with or without a label and a
 * grid of one seed over the classes shows one style in every class.
 */
export function drawLabels(seed: number, n: number, prior: readonly number[]): Int32Array {
  const rng = new Prng((seed ^ 0x6c61626c) >>> 0);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const u = rng.uniform();
    let acc = 0;
    let y = prior.length - 1;
    for (let c = 0; c < prior.length; c++) {
      acc += prior[c];
      if (u < acc) {
        y = c;
        break;
      }
    }
    out[i] = y;
  }
  return out;
}

/**
 * The noise a `density` request consumes, in a fixed order so every runtime
 * builds the same tensors from (seed, n): first, for discrete (image) models,
 * the uniform dequantisation noise u [n, dataDim] in [0, 1) that is added to
 * integer pixels; then, for a VAE, the standard normals eps [n, k, latentDim]
 * of its importance samples.
 */
export function densityNoise(
  seed: number,
  n: number,
  dataDim: number,
  opts: { dequantise?: boolean; k?: number; latentDim?: number } = {},
): { u?: Float32Array; eps?: Float32Array } {
  const rng = new Prng(seed);
  const u = opts.dequantise ? rng.uniforms(n * dataDim) : undefined;
  const eps = opts.k !== undefined && opts.latentDim !== undefined ? rng.normals(n * opts.k * opts.latentDim) : undefined;
  return { u, eps };
}
