/**
 * @module The one order of text every engine breaks ties by: Unicode code points, which is the byte
 * order of UTF-8 and so what DuckDB (and PostgreSQL under "C", and Spark) compare. JavaScript's `<`
 * compares UTF-16 code units, which differs for characters above U+FFFF against U+E000–U+FFFF
 * ("😀" < "｡" in JavaScript, the reverse in UTF-8): at equal times batch kept one event last and the
 * stream engine the other.
 */

/** Negative, 0 or positive as `a` comes before, with or after `b` in code-point order. */
export function compareText(a: string, b: string): number {
  const n = a.length < b.length ? a.length : b.length;
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    // Below U+D800 code units are code points. From there on, surrogates (U+10000 and up) go
    // above U+E000–U+FFFF: shifted up by 0x2000, and those down by 0x800.
    if (x >= 0xd800 && y >= 0xd800) {
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    }
    return x - y;
  }
  return a.length - b.length;
}
