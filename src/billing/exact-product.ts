import { Decimal } from 'decimal.js';

// Exact decimal products as the exports write them (FOCUS's contracted and list costs), the way
// PostgreSQL's numeric writes them.

/** Exact decimals for costs: a quantity times a price has as many digits as both. */
const Exact = Decimal.clone({ precision: 200 });
const PLAIN_DECIMAL = /^-?\d+(\.\d+)?$/;
/** A decimal's digits as an integer, and how many of them are decimals. */
function scaled(text: string): { digits: bigint; scale: number } {
  const dot = text.indexOf('.');
  return dot < 0
    ? { digits: BigInt(text), scale: 0 }
    : { digits: BigInt(text.slice(0, dot) + text.slice(dot + 1)), scale: text.length - dot - 1 };
}

/**
 * A product as PostgreSQL's `trim_scale(a * b)::text` writes it: exact, no trailing zeros, no
 * exponent. In integers (BigInt): half the time decimal.js took on an export.
 */
export function exactProduct(a: string, b: string): string {
  if (!PLAIN_DECIMAL.test(a) || !PLAIN_DECIMAL.test(b)) {
    const p = new Exact(a).times(b);
    return p.isZero() ? '0' : p.toFixed();
  }
  const x = scaled(a);
  const y = scaled(b);
  const product = x.digits * y.digits;
  if (product === 0n) return '0';
  const scale = x.scale + y.scale;
  const negative = product < 0n;
  const digits = (negative ? -product : product).toString().padStart(scale + 1, '0');
  const whole = digits.slice(0, digits.length - scale);
  let decimals = digits.slice(digits.length - scale);
  let end = decimals.length;
  while (end > 0 && decimals.charCodeAt(end - 1) === 48) end--;
  decimals = decimals.slice(0, end);
  return `${negative ? '-' : ''}${whole}${decimals === '' ? '' : `.${decimals}`}`;
}

/** Whether two decimals' texts are the same number (`1.0` and `1.00` are). */
export const sameDecimal = (a: string, b: string) => a === b || new Exact(a).eq(b);
