/**
 * @module A file path as DuckDB's readers take it. They read every path as a glob, so `[`, `*`, `?`
 * (and `{`) in a folder's name are written as one-character classes (`[[]`), which match
 * themselves: a log under `runs[b]/` otherwise found no files once its first day was written.
 */
export function globLiteral(path: string): string {
  return path.replace(/[[*?{]/g, (c) => `[${c}]`);
}
