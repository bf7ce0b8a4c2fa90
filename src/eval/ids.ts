/** @module A total order on ids that sorts integer ids numerically, as pandas does with integer keys. */

const INTEGER = /^(0|[1-9]\d*)$/;

/**
 * Integer ids (canonical decimal) come first, in numeric order; every other id follows in code-unit
 * order. Used for the catalogue order, which decides how tied scores rank.
 */
export function compareIds(a: string, b: string): number {
  const ai = INTEGER.test(a);
  const bi = INTEGER.test(b);
  if (ai !== bi) return ai ? -1 : 1;
  if (ai && a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The distinct items of the rows in `compareIds` order: the catalogue every baseline scores. */
export function catalogueOf(rows: Iterable<{ readonly item: string }>): string[] {
  const set = new Set<string>();
  for (const r of rows) set.add(r.item);
  return [...set].sort(compareIds);
}

/** The distinct users of the rows in `compareIds` order. */
export function usersOf(rows: Iterable<{ readonly user: string }>): string[] {
  const set = new Set<string>();
  for (const r of rows) set.add(r.user);
  return [...set].sort(compareIds);
}
