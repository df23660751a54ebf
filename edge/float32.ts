/**
 * Float32 values as JSON numbers, by the shortest round trip: the fewest
 * significant digits (at most 9) that read back, through a double and
 * Math.fround (or a Float32Array), to the same float32 bits. Network outputs
 * mostly need 8; 9 everywhere would be ~10% longer, and the widened double
 * (17 digits) ~85% longer.
 *
 * The p-digit candidate is round(v * 10^k) / 10^k: with |k| <= 22 the power
 * is exact and the division correctly rounded, so the double equals what a
 * JSON parser reads from the p-digit decimal, and JSON.stringify prints it
 * with those p digits. That is about twice as fast as toPrecision(9).
 * Values so small or large that |k| > 22 take toPrecision instead.
 */
const POW10 = Array.from({ length: 23 }, (_, i) => Number(`1e${i}`));

function byToPrecision(v: number): number {
  for (let p = 1; p < 9; p++) {
    const d = Number(v.toPrecision(p));
    if (Math.fround(d) === v) return d;
  }
  return Number(v.toPrecision(9));
}

/** 10^i for i in [-50, 50], each the double nearest to it (the parser's), for exponent10. */
const POW10_ALL = Float64Array.from({ length: 101 }, (_, i) => Number(`1e${i - 50}`));
const BITS = new Float64Array(1);
const BITS_HI = new Uint32Array(BITS.buffer, 4, 1); // little-endian: the sign, exponent and top of the mantissa

/**
 * floor(log10 |v|) for a finite non-zero float32 v, from its binary exponent and
 * one comparison with a power of ten (Math.log10 took ~10 of the ~90 ns per value).
 */
function exponent10(v: number): number {
  BITS[0] = v;
  const e2 = ((BITS_HI[0] >>> 20) & 0x7ff) - 1023; // a float32 widened to a double is normal
  const e = Math.floor(e2 * 0.30102999566398120); // floor(log10 |v|) or one less
  return Math.abs(v) >= POW10_ALL[e + 51] ? e + 1 : e;
}

/** The shortest decimal (as a double) that reads back as float32 `v`; NaN and infinities pass through, -0 becomes 0. */
export function float32Json(v: number): number {
  if (v === 0 || !Number.isFinite(v)) return v === 0 ? 0 : v;
  const e = exponent10(v);
  // fewer than 6 digits: the 6-digit candidate is the same double (trailing zeros)
  for (let p = 6; p <= 9; p++) {
    const k = p - 1 - e;
    if (k > 22 || k < -22) return byToPrecision(v);
    const d = k >= 0 ? Math.round(v * POW10[k]) / POW10[k] : Math.round(v / POW10[-k]) * POW10[-k];
    if (Math.fround(d) === v) return d;
  }
  return byToPrecision(v);
}

export { byToPrecision as float32JsonReference };

/** Most characters one float32 takes: -123456789000000000000 (below 1e21 Number::toString writes no exponent) */
const MAX_CHARS = 22;

/** Write float32 `v` at `at` as float32Json's double prints; returns the new end. */
function put(buf: Uint8Array, at: number, v: number): number {
  if (v === 0) {
    buf[at] = 0x30; // 0 and -0 both print as 0
    return at + 1;
  }
  if (v - v !== 0) return text(buf, at, 'null'); // NaN and infinities, as JSON.stringify prints them
  const e = exponent10(v);
  const k = 5 - e; // the 6-digit candidate's power
  if (k >= 0 && k <= 19) {
    // float32Json's four candidates at once (independent divisions overlap); the shortest that reads back wins
    const p6 = POW10[k], p7 = POW10[k + 1], p8 = POW10[k + 2], p9 = POW10[k + 3];
    // floor(x + 0.5) is Math.round(x) whenever x + 0.5 is exact, as it is here (|x| < 1e9 < 2^30,
    // so x's ulp is at most 2^-22, a divisor of 0.5); V8's Math.round cost ~16 of the ~66 ns a value
    const r6 = Math.floor(v * p6 + 0.5), r7 = Math.floor(v * p7 + 0.5), r8 = Math.floor(v * p8 + 0.5), r9 = Math.floor(v * p9 + 0.5);
    const ok6 = Math.fround(r6 / p6) === v, ok7 = Math.fround(r7 / p7) === v, ok8 = Math.fround(r8 / p8) === v, ok9 = Math.fround(r9 / p9) === v;
    // e in [-14, 5], so the decimal point falls inside or just before the digits: fixed notation
    if (ok6) return fixed(buf, at, r6, k);
    if (ok7) return fixed(buf, at, r7, k + 1);
    if (ok8) return fixed(buf, at, r8, k + 2);
    if (ok9) return fixed(buf, at, r9, k + 3);
    return text(buf, at, JSON.stringify(float32Json(v)));
  }
  for (let p = 6; p <= 9; p++) {
    const k = p - 1 - e;
    if (k > 22 || k < -22) break;
    // exactly float32Json's candidate, sign included (Math.round breaks ties upwards)
    const r = k >= 0 ? Math.round(v * POW10[k]) : Math.round(v / POW10[-k]);
    const d = k >= 0 ? r / POW10[k] : r * POW10[-k];
    if (Math.fround(d) === v) return decimal(buf, at, r, k);
  }
  return text(buf, at, JSON.stringify(float32Json(v)));
}

function text(buf: Uint8Array, at: number, s: string): number {
  for (let i = 0; i < s.length; i++) buf[at++] = s.charCodeAt(i);
  return at;
}

/** "00".."99": two digits per table read, halving the divisions by ten. */
const PAIRS = Uint8Array.from({ length: 200 }, (_, i) => 0x30 + (i & 1 ? (i >> 1) % 10 : Math.floor((i >> 1) / 10)));

/**
 * decimal() for the fast path's integers: |r| < 10^9 with the point k digits
 * from the right, where the value lies in [1e-14, 1e6) so Number::toString
 * writes no exponent. The digits go straight into place, right to left, two
 * at a time (this and exponent10 made a 64 x 784 answer ~2x faster).
 */
function fixed(buf: Uint8Array, at: number, r: number, k: number): number {
  if (r < 0) {
    buf[at++] = 0x2d; // -
    r = -r;
  }
  let u = r | 0;
  while (k > 0 && u % 10 === 0) {
    u = (u / 10) | 0;
    k--;
  }
  const nd = u >= 100000 ? (u >= 10000000 ? (u >= 100000000 ? 9 : 8) : u >= 1000000 ? 7 : 6) : u >= 1000 ? (u >= 10000 ? 5 : 4) : u >= 100 ? 3 : u >= 10 ? 2 : 1;
  let n = nd - k; // digits before the point
  // below 1e-6 Number::toString writes an exponent: the general layout
  if (n <= -6) return decimal(buf, at, u, k);
  // "ddd" (k = 0) or "ddd.ddd"; else "0.000ddd" with -n zeros after the point
  const end = n > 0 ? at + nd + (k > 0 ? 1 : 0) : at + 2 - n + nd;
  let pos = end;
  let frac = k; // fractional digits still to write
  while (u >= 100) {
    const q = (u / 100) | 0;
    const pair = (u - q * 100) << 1;
    u = q;
    if (frac === 1) {
      // the point falls between the pair's digits
      buf[--pos] = PAIRS[pair + 1];
      buf[--pos] = 0x2e;
      buf[--pos] = PAIRS[pair];
    } else {
      buf[--pos] = PAIRS[pair + 1];
      buf[--pos] = PAIRS[pair];
      if (frac === 2) buf[--pos] = 0x2e;
    }
    frac -= 2;
  }
  if (u >= 10) {
    const pair = u << 1;
    buf[--pos] = PAIRS[pair + 1];
    if (frac === 1) buf[--pos] = 0x2e;
    buf[--pos] = PAIRS[pair];
    frac -= 2;
  } else {
    buf[--pos] = 0x30 + u;
    frac -= 1;
  }
  if (n <= 0) {
    // every digit was fractional: then the zeros, the point and the leading 0
    while (n < 0) {
      buf[--pos] = 0x30;
      n++;
    }
    buf[--pos] = 0x2e;
    buf[--pos] = 0x30;
  }
  return end;
}
/** decimal()'s digits, last first (scratch: one per thread, as every module is) */
const DIGITS = new Uint8Array(24);

/** The integer r times 10^-k, laid out as Number::toString would. */
function decimal(buf: Uint8Array, at: number, r: number, k: number): number {
  const digits = DIGITS;
  if (r < 0) {
    buf[at++] = 0x2d; // -
    r = -r;
  }
  // r < 10^10: an int32 below 2^31 whenever it has at most 9 digits, which the fast path guarantees
  let nd = 0;
  if (r < 2147483648) {
    let u = r | 0;
    while (u % 10 === 0) {
      u = (u / 10) | 0;
      k--;
    }
    while (u > 0) {
      const q = (u / 10) | 0;
      digits[nd++] = 0x30 + u - q * 10;
      u = q;
    }
  } else {
    while (r % 10 === 0) {
      r /= 10;
      k--;
    }
    while (r > 0) {
      const q = Math.floor(r / 10);
      digits[nd++] = 0x30 + (r - q * 10);
      r = q;
    }
  }
  // digits[nd-1] is the first; the value is 0.d1d2... x 10^n
  const n = nd - k;
  if (nd <= n && n <= 21) {
    for (let i = nd - 1; i >= 0; i--) buf[at++] = digits[i];
    for (let i = nd; i < n; i++) buf[at++] = 0x30;
  } else if (0 < n && n <= 21) {
    for (let i = nd - 1; i >= nd - n; i--) buf[at++] = digits[i];
    buf[at++] = 0x2e; // .
    for (let i = nd - n - 1; i >= 0; i--) buf[at++] = digits[i];
  } else if (-6 < n && n <= 0) {
    buf[at++] = 0x30;
    buf[at++] = 0x2e;
    for (let i = n; i < 0; i++) buf[at++] = 0x30;
    for (let i = nd - 1; i >= 0; i--) buf[at++] = digits[i];
  } else {
    buf[at++] = digits[nd - 1];
    if (nd > 1) {
      buf[at++] = 0x2e;
      for (let i = nd - 2; i >= 0; i--) buf[at++] = digits[i];
    }
    buf[at++] = 0x65; // e
    const x = n - 1;
    buf[at++] = x < 0 ? 0x2d : 0x2b;
    const ax = Math.abs(x);
    if (ax >= 10) buf[at++] = 0x30 + Math.floor(ax / 10);
    buf[at++] = 0x30 + (ax % 10);
  }
  return at;
}

/**
 * JSON text straight into bytes: float32 rows written digit by digit, the same
 * characters JSON.stringify(float32Json(v)) gives, without a number[][] of
 * doubles in between or a second number-to-text pass (1.7-2.6x faster on an
 * MNIST batch of 50k values in one process). The text follows ECMAScript's Number::toString layout
 * (plain between 1e-7 and 1e21, else d.ddde±x), which is what JSON.stringify
 * prints for the p-digit double float32Json picks: that double's shortest
 * round trip is exactly its p-digit decimal (two decimals of at most 15
 * digits never share a double), so its digits are the integer
 * round(v * 10^k) with trailing zeros dropped.
 */
export class JsonBytes {
  private buf: Uint8Array;
  private at = 0;

  constructor(capacity = 1024) {
    this.buf = new Uint8Array(capacity);
  }

  /** Room for `n` more bytes. */
  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.at + n));
    next.set(this.buf.subarray(0, this.at));
    this.buf = next;
  }

  /** ASCII text as is (keys, punctuation, JSON.stringify of small values). */
  ascii(text: string): this {
    this.room(text.length);
    const buf = this.buf;
    let at = this.at;
    for (let i = 0; i < text.length; i++) buf[at++] = text.charCodeAt(i);
    this.at = at;
    return this;
  }

  /** A JSON array of float32 values. */
  private list(data: Float32Array): this {
    this.room(data.length * (MAX_CHARS + 1) + 2);
    const buf = this.buf;
    let at = this.at;
    buf[at++] = 0x5b; // [
    for (let i = 0; i < data.length; i++) {
      if (i) buf[at++] = 0x2c; // ,
      at = put(buf, at, data[i]);
    }
    buf[at++] = 0x5d; // ]
    this.at = at;
    return this;
  }

  /** n rows of `width` float32 values, row-major, as a JSON array of arrays. */
  rows(data: Float32Array, n: number, width: number): this {
    this.room(2);
    this.buf[this.at++] = 0x5b;
    for (let i = 0; i < n; i++) {
      if (i) {
        this.room(1);
        this.buf[this.at++] = 0x2c;
      }
      this.list(data.subarray(i * width, (i + 1) * width));
    }
    this.room(1);
    this.buf[this.at++] = 0x5d;
    return this;
  }

  /** The bytes written so far (a view: the writer must not be used afterwards). */
  bytes(): Uint8Array<ArrayBuffer> {
    return this.buf.subarray(0, this.at) as Uint8Array<ArrayBuffer>;
  }
}
