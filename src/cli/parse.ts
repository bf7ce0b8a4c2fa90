/** @module Parsers of numeric command-line options, shared by every command: a bad value is a usage error naming the flag. */
import { RecsignalError } from '../core/errors.ts';

/** `--name <n>`: a positive whole number. */
export function positiveInt(name: string): (v: string) => number {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new RecsignalError('INVALID_ARGUMENT', `--${name} '${v}': give a positive whole number`);
    return n;
  };
}

/** `--name <x>`: a positive finite number. */
export function positiveNumber(name: string): (v: string) => number {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new RecsignalError('INVALID_ARGUMENT', `--${name} '${v}': give a positive number`);
    return n;
  };
}

/** `--name <n>`: a whole number, 0 or more. */
export function nonNegativeInt(name: string): (v: string) => number {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new RecsignalError('INVALID_ARGUMENT', `--${name} '${v}': give a whole number, 0 or more`);
    return n;
  };
}
