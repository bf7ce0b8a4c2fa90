/** @module Parsers of numeric command-line options, shared by every command: a bad value is a usage error naming the flag. */
import { RecsignalError } from '../core/errors.ts';

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/**
 * A flag's text as a number, NaN unless written in decimal: `Number` alone reads '0x10' as 16,
 * '0b1' as 1, and '' or ' ' as 0, none of which a user meant.
 */
export function decimalNumber(v: string): number {
  return DECIMAL.test(v) ? Number(v) : Number.NaN;
}

/** `--name <n>`: a positive whole number. */
export function positiveInt(name: string): (v: string) => number {
  return (v: string) => {
    const n = decimalNumber(v);
    if (!Number.isSafeInteger(n) || n <= 0) throw new RecsignalError('INVALID_ARGUMENT', `--${name} '${v}': give a positive whole number (at most 2^53 − 1)`);
    return n;
  };
}

/** `--name <x>`: a positive finite number. */
export function positiveNumber(name: string): (v: string) => number {
  return (v: string) => {
    const n = decimalNumber(v);
    if (!Number.isFinite(n) || n <= 0) throw new RecsignalError('INVALID_ARGUMENT', `--${name} '${v}': give a positive number`);
    return n;
  };
}

/** `--name <n>`: a whole number, 0 or more. */
export function nonNegativeInt(name: string): (v: string) => number {
  return (v: string) => {
    const n = decimalNumber(v);
    if (!Number.isSafeInteger(n) || n < 0) throw new RecsignalError('INVALID_ARGUMENT', `--${name} '${v}': give a whole number, 0 or more (at most 2^53 − 1)`);
    return n;
  };
}
