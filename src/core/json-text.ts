/**
 * @module JSON text in and out. `parseJsonText` skips a leading byte-order mark. `jsonText` is
 * `JSON.stringify` for values of any depth. V8's `JSON.stringify` recurses on the native
 * stack and throws a RangeError past a few thousand levels, while `JSON.parse` takes any depth: a
 * record nested that deeply still has to reach the dead-letter file whole (nothing is lost).
 */

class Literal {
  constructor(readonly text: string) {}
}

const COMMA = new Literal(',');
const CLOSE_ARRAY = new Literal(']');
const CLOSE_OBJECT = new Literal('}');

/** The text `JSON.stringify(value)` gives for parsed JSON and plain data, by an explicit stack. */
export function jsonText(value: unknown): string {
  let out = '';
  const work: unknown[] = [value];
  while (work.length > 0) {
    const x = work.pop();
    if (x instanceof Literal) out += x.text;
    else if (x === null || typeof x !== 'object') out += JSON.stringify(x) ?? 'null';
    else if (Array.isArray(x)) {
      out += '[';
      work.push(CLOSE_ARRAY);
      for (let i = x.length - 1; i >= 0; i--) {
        const v: unknown = x[i];
        work.push(v === undefined || typeof v === 'function' || typeof v === 'symbol' ? null : v);
        if (i > 0) work.push(COMMA);
      }
    } else {
      out += '{';
      work.push(CLOSE_OBJECT);
      const entries = Object.entries(x).filter(([, v]) => v !== undefined && typeof v !== 'function' && typeof v !== 'symbol');
      for (let i = entries.length - 1; i >= 0; i--) {
        const [k, v] = entries[i] as [string, unknown];
        work.push(v, new Literal(`${JSON.stringify(k)}:`));
        if (i > 0) work.push(COMMA);
      }
    }
  }
  return out;
}

/** `JSON.stringify(value)`, falling back to `jsonText` when the value is nested too deeply for it. */
export function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch (e) {
    if (e instanceof RangeError) return jsonText(value);
    throw e;
  }
}

/**
 * `JSON.parse`, skipping a leading byte-order mark as RFC 8259 allows (some Windows tools write
 * one; `JSON.parse` alone refuses it).
 */
export function parseJsonText(text: string): unknown {
  return JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
}

/**
 * JSON text with every integer beyond ±2^53 written as a string ("9007199254740993"), so that
 * `JSON.parse` keeps its digits: as a number it would be rounded to a neighbour (…992), and an
 * int64 entity key (a Snowflake id) would read another entity's features. Feast, in Python, keeps
 * them exact. Text holding no run of 16 digits is returned as it is, unscanned.
 *
 * Written here: Node 20's `JSON.parse` has no access to a number's source text (a later V8 adds it).
 */
export function quoteUnsafeIntegers(text: string): string {
  if (!/\d{16}/.test(text)) return text;
  let out = '';
  let last = 0;
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // A string: skip to its closing quote, past escapes.
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c) i++;
        else if (d === 0x22) break;
      }
      i++;
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      const start = i;
      for (i++; i < text.length && NUMBER_CHAR.test(text[i] as string); i++);
      const token = text.slice(start, i);
      if (/^-?\d{16,}$/.test(token) && !Number.isSafeInteger(Number(token))) {
        out += `${text.slice(last, start)}"${token}"`;
        last = i;
      }
    } else i++;
  }
  return last === 0 ? text : out + text.slice(last);
}

const NUMBER_CHAR = /[0-9.eE+-]/;

