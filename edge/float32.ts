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

/** The shortest decimal (as a double) that reads back as float32 `v`; NaN and infinities pass through, -0 becomes 0. */
export function float32Json(v: number): number {
  if (v === 0 || !Number.isFinite(v)) return v === 0 ? 0 : v;
  const e = Math.floor(Math.log10(Math.abs(v)));
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
function put(buf: Uint8Array, at: number, v: number, digits: Uint8Array): number {
  if (v === 0) {
    buf[at] = 0x30; // 0 and -0 both print as 0
    return at + 1;
  }
  if (v - v !== 0) return text(buf, at, 'null'); // NaN and infinities, as JSON.stringify prints them
  const e = Math.floor(Math.log10(Math.abs(v)));
  const k = 5 - e; // the 6-digit candidate's power
  if (k >= 0 && k <= 19) {
    // float32Json's four candidates at once (independent divisions overlap); the shortest that reads back wins
    const p6 = POW10[k], p7 = POW10[k + 1], p8 = POW10[k + 2], p9 = POW10[k + 3];
    const r6 = Math.round(v * p6), r7 = Math.round(v * p7), r8 = Math.round(v * p8), r9 = Math.round(v * p9);
    const ok6 = Math.fround(r6 / p6) === v, ok7 = Math.fround(r7 / p7) === v, ok8 = Math.fround(r8 / p8) === v, ok9 = Math.fround(r9 / p9) === v;
    if (ok6) return decimal(buf, at, r6, k, digits);
    if (ok7) return decimal(buf, at, r7, k + 1, digits);
    if (ok8) return decimal(buf, at, r8, k + 2, digits);
    if (ok9) return decimal(buf, at, r9, k + 3, digits);
    return text(buf, at, JSON.stringify(float32Json(v)));
  }
  for (let p = 6; p <= 9; p++) {
    const k = p - 1 - e;
    if (k > 22 || k < -22) break;
    // exactly float32Json's candidate, sign included (Math.round breaks ties upwards)
    const r = k >= 0 ? Math.round(v * POW10[k]) : Math.round(v / POW10[-k]);
    const d = k >= 0 ? r / POW10[k] : r * POW10[-k];
    if (Math.fround(d) === v) return decimal(buf, at, r, k, digits);
  }
  return text(buf, at, JSON.stringify(float32Json(v)));
}

function text(buf: Uint8Array, at: number, s: string): number {
  for (let i = 0; i < s.length; i++) buf[at++] = s.charCodeAt(i);
  return at;
}

/** The integer r times 10^-k, laid out as Number::toString would. */
function decimal(buf: Uint8Array, at: number, r: number, k: number, digits: Uint8Array): number {
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
  private readonly digits = new Uint8Array(24);

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

  /** Any JSON value by JSON.stringify (for the small fields around the rows); ASCII only. */
  value(v: unknown): this {
    const text = JSON.stringify(v);
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return this.utf8(text);
    return this.ascii(text);
  }

  private utf8(text: string): this {
    const bytes = new TextEncoder().encode(text);
    this.room(bytes.length);
    this.buf.set(bytes, this.at);
    this.at += bytes.length;
    return this;
  }

  /** One float32 value as float32Json would print it. */
  float32(v: number): this {
    this.room(MAX_CHARS);
    this.at = put(this.buf, this.at, v, this.digits);
    return this;
  }

  /** A JSON array of float32 values. */
  list(data: Float32Array): this {
    this.room(data.length * (MAX_CHARS + 1) + 2);
    const buf = this.buf;
    const digits = this.digits;
    let at = this.at;
    buf[at++] = 0x5b; // [
    for (let i = 0; i < data.length; i++) {
      if (i) buf[at++] = 0x2c; // ,
      at = put(buf, at, data[i], digits);
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
