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
