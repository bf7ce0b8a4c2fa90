/**
 * @module Strict UTF-8: where a byte sequence stops being UTF-8. Node's decoders replace such bytes
 * with U+FFFD, which merges ids that differ only there (`caf\xe9` and `caf\xe8` both read as
 * `caf\ufffd`), so the readers refuse them instead, naming the byte.
 *
 * Written here: `TextDecoder` with `fatal: true` says that a sequence is invalid but not where.
 */

/** The offset of the first byte of `bytes` that does not start or continue a valid UTF-8 sequence; -1 when all do. */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i] as number;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b === 0xe0) lo = 0xa0; // no overlong forms
      if (b === 0xed) hi = 0x9f; // no UTF-16 surrogates
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b === 0xf0) lo = 0x90;
      if (b === 0xf4) hi = 0x8f; // nothing above U+10FFFF
    } else return i;
    if (i + need >= bytes.length) return i; // cut short by the end
    const second = bytes[i + 1] as number;
    if (second < lo || second > hi) return i;
    for (let k = 2; k <= need; k++) {
      const c = bytes[i + k] as number;
      if (c < 0x80 || c > 0xbf) return i;
    }
    i += need + 1;
  }
  return -1;
}

const strictDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The text of `bytes`, or where they stop being UTF-8 (a message naming the byte and its offset, 1-based). */
export function decodeUtf8(bytes: Uint8Array): { readonly text: string } | { readonly invalid: string } {
  try {
    return { text: strictDecoder.decode(bytes) };
  } catch {
    const at = Math.max(0, firstInvalidUtf8(bytes));
    return { invalid: `byte ${at + 1} (${hexByte(bytes[at] ?? 0)}) is not UTF-8` };
  }
}

/** A byte as messages name it: 0xE9. */
export function hexByte(b: number): string {
  return `0x${b.toString(16).toUpperCase().padStart(2, '0')}`;
}
