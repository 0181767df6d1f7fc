// Scalar math that JavaScript's Math lacks, to float64 accuracy, so that
// gradcheck's finite differences see smooth functions.

const TWO_OVER_SQRT_PI = 1.1283791670955126;
const ONE_OVER_SQRT_PI = 0.5641895835477563;

/**
 * The error function. For |x| < 3 a series of positive terms (no
 * cancellation): erf(x) = 2/√π · e^(-x²) · Σ 2ⁿ x^(2n+1) / (1·3·…·(2n+1)).
 * Beyond, erfc's continued fraction, which converges fast there.
 */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const ax = Math.abs(x);
  if (ax < 3) {
    const x2 = x * x;
    let term = x;
    let sum = x;
    for (let n = 1; n < 200; n++) {
      term *= (2 * x2) / (2 * n + 1);
      sum += term;
      if (Math.abs(term) < 1e-17 * Math.abs(sum)) break;
    }
    return TWO_OVER_SQRT_PI * Math.exp(-x2) * sum;
  }
  if (ax > 6) return Math.sign(x);
  // erfc(x) = e^(-x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + ...)))))
  let f = ax;
  for (let k = 60; k >= 1; k--) f = ax + (k / 2) / f;
  const erfc = (Math.exp(-ax * ax) * ONE_OVER_SQRT_PI) / f;
  return Math.sign(x) * (1 - erfc);
}

/** Rounds half to even, as PyTorch's `round` (C's nearbyint) does. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Python's `%`: the remainder takes the divisor's sign. */
export function pythonRemainder(a: number, b: number): number {
  const m = a % b;
  return m !== 0 && (m < 0) !== (b < 0) ? m + b : m;
}

/**
 * C's `pow`, which PyTorch uses: as `Math.pow` except that a base of 1 gives
 * 1 for every exponent (NaN included) and -1 to the power ±Infinity is 1;
 * JavaScript answers NaN to both.
 */
export function powC(base: number, exponent: number): number {
  if (base === 1 || (base === -1 && (exponent === Infinity || exponent === -Infinity))) return 1;
  return Math.pow(base, exponent);
}
