/** @module What every reader yields: one record per input line or row, either a wire-shape object or the reason it could not be parsed. */
import { basename } from 'node:path';
import type { Problem } from '../../core/errors.ts';

/**
 * One input line or row. `raw` is a wire-shape object for `createEventValidator`; the second form
 * is a line that could not even be parsed (malformed JSON, a ragged CSV row), with the original
 * text so that the rejection log can show it.
 */
export type RawRecord =
  | { readonly position: string; readonly raw: unknown }
  | { readonly position: string; readonly problems: Problem[]; readonly text: string };

/** The longest original text a problems record carries. */
export const MAX_TEXT_CHARS = 10_000;

export function truncateText(text: string): string {
  return text.length > MAX_TEXT_CHARS ? text.slice(0, MAX_TEXT_CHARS) : text;
}

/** `events.csv:12`: the file's base name and a 1-based line, or `x.parquet:row 7`. */
export function positionOf(path: string, where: number | string): string {
  return `${basename(path)}:${where}`;
}

export function problemRecord(position: string, problems: Problem[], text: string): RawRecord {
  return { position, problems, text: truncateText(text) };
}

export function isProblemRecord(r: RawRecord): r is Extract<RawRecord, { problems: Problem[] }> {
  return 'problems' in r;
}
