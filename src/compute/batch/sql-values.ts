/**
 * @module Aggregation strategies that pick values rather than fold them: `last` and lifetime
 * `first` by point-in-time joins, last_k by the spans during which a value is its key's latest, and
 * top_k / histograms per (key, value) by running totals fanned out to each query's values.
 */
import type { AggregationIR } from '../../features/ir.ts';
import type { Dialect } from './dialect.ts';
import { condition, readPoint, topValues, windowStartSql } from './sql-expressions.ts';

/**
 * `last` in any window and lifetime `first` without a window function. last: the latest event
 * before t by (ts, event_id) (the tie rule) in one point-in-time join over the events themselves,
 * kept when it is inside the window (no grouping of every event by key and time first: ~20% less
 * work for a user's last device on the 1M-row benchmark spine). Lifetime first: per key the first
 * event by (ts, event_id), kept when it is before t.
 */
export function pickedCte(d: Dialect, a: AggregationIR, name: string, alias: string, keys: readonly string[], ctes: string[]): { cte: string; columns: string[] } {
  const x = d.ident(a.input as string);
  const ks = keys.join(', ');
  const cond = condition(d, a, a.filter, [`${x} IS NOT NULL`], false);
  const col = d.ident(a.name);
  if (a.op === 'first') {
    ctes.push(
      `${name}__f AS (\n  SELECT ${ks}, min(ts) AS ts, ${d.argBy('min', x, ['ts', d.binaryText('event_id')], 'TRUE')} AS v FROM ${alias}__s WHERE ${cond} GROUP BY ${ks}\n)`,
      `${name} AS (\n  SELECT ${keys.map((k) => `qq.${k}`).join(', ')}, qq.__t, CASE WHEN f.ts < qq.__t THEN f.v END AS ${col}\n  FROM ${alias}__q AS qq LEFT JOIN ${name}__f AS f ON ${keys.map((k) => `f.${k} = qq.${k}`).join(' AND ')}\n)`,
    );
    return { cte: name, columns: [a.name] };
  }
  const start = windowStartSql(d, a.window, 'l.__t');
  ctes.push(
    `${name}__l AS (\n  SELECT ${ks}, ts, event_id, ${x} AS v FROM ${alias}__s WHERE ${cond}\n)`,
    `${name} AS (\n  SELECT ${keys.map((k) => `l.${k}`).join(', ')}, l.__t, ${start === null ? 'r.v' : `CASE WHEN r.ts >= ${start} THEN r.v END`} AS ${col}\n  FROM ${d.latestBefore(`${alias}__q`, `${name}__l`, keys, '__t', 'ts', 'event_id')}\n)`,
  );
  return { cte: name, columns: [a.name] };
}

/**
 * last_k without joining each query row to its key's history: an event is its value's latest from
 * its time until the value's next event, so the spans holding t are the distinct values before t,
 * each once, with its latest time. Those that start inside the window are ranked and listed.
 */
export function spanCte(d: Dialect, a: AggregationIR, name: string, alias: string, keys: readonly string[], ctes: string[]): { cte: string; columns: string[] } {
  const x = d.ident(a.input as string);
  const group = [...keys, '__t'].join(', ');
  const start = windowStartSql(d, a.window);
  // With argByTop, each (time, value) is numbered in its key's order once, over the spans: the top k
  // then compare an integer instead of a (time, value) pair in every query row's list (~2x faster).
  const ord = d.argByTop ? `, row_number() OVER (PARTITION BY ${keys.join(', ')} ORDER BY ts, ${d.binaryText('val')}) AS ord` : '';
  ctes.push(
    `${name}__p AS (\n  SELECT ${keys.join(', ')}, val, ts, lead(ts) OVER (PARTITION BY ${keys.join(', ')}, val ORDER BY ts) AS next_ts${ord}\n  FROM (SELECT DISTINCT ${keys.join(', ')}, CAST(${x} AS ${d.types.varchar}) AS val, ts FROM ${alias}__s WHERE ${condition(d, a, a.filter, [`${x} IS NOT NULL`], false)}) AS e\n)`,
    `${name}__m AS (\n  SELECT ${keys.map((k) => `qq.${k}`).join(', ')}, qq.__t, p.val, ${d.argByTop ? 'p.ord' : `row_number() OVER (PARTITION BY ${keys.map((k) => `qq.${k}`).join(', ')}, qq.__t ORDER BY p.ts DESC, ${d.binaryText('p.val')} DESC) AS rn`}\n  FROM ${alias}__q AS qq JOIN ${name}__p AS p ON ${keys.map((k) => `p.${k} = qq.${k}`).join(' AND ')} AND p.ts < qq.__t AND (p.next_ts IS NULL OR p.next_ts >= qq.__t)${start === null ? '' : ` AND p.ts >= ${start.replaceAll('__t', 'qq.__t')}`}\n)`,
    `${name} AS (\n  SELECT ${group}, ${d.argByTop ? d.argByTop('max', 'val', ['ord'], a.k as number) : d.listAgg('val', 'rn', `rn <= ${a.k}`)} AS ${d.ident(a.name)} FROM ${name}__m GROUP BY ${group}\n)`,
  );
  return { cte: name, columns: [a.name] };
}

/**
 * The ASOF form of fannedCtes' reads: running totals per (key, value) over the events alone (one
 * row per time), then each query row's totals before t (`__rc0`, `__rw0`) and before each window
 * start j (`__rc{j+1}`, ...) by one point-in-time join each. Lifetime starts read nothing (0).
 * Both sides carry the (key, value) pair's integer surrogate `g` (from `${name}__g`): the window and
 * the joins partition and sort by one integer instead of two strings (a genre view's chunk 10.8 →
 * 9.1 s on the 1M-row benchmark spine).
 * Sorting the read points in with the events instead costs a pass over query rows × values × read
 * points, which outnumber the events on a large spine (a user's genres at each of their queries).
 */
export function asofReads(d: Dialect, starts: readonly (string | null)[], name: string, keys: readonly string[]): string[] {
  const on = ['g'];
  const ctes = [
    `${name}__st AS (\n  SELECT g, ts, sum(c) OVER o AS rc, sum(w) OVER o AS rw\n  FROM (SELECT v.g, e.ts, count(*) AS c, sum(e.w) AS w FROM ${name}__e AS e JOIN ${name}__g AS v USING (${[...keys, 'val'].join(', ')}) GROUP BY v.g, e.ts) AS e\n  WINDOW o AS (PARTITION BY g ORDER BY ts ROWS UNBOUNDED PRECEDING)\n)`,
    `${name}__p AS (\n  SELECT *${starts.map((st, j) => `, ${st ?? 'NULL'} AS __s${j + 1}`).join('')} FROM ${name}__v\n)`,
    `${name}__a0 AS (\n  SELECT l.*, r.rc AS __rc0, r.rw AS __rw0 FROM ${d.latestBefore(`${name}__p`, `${name}__st`, on, '__t', 'ts')}\n)`,
  ];
  starts.forEach((st, j) => {
    const read = st === null ? `SELECT *, NULL AS __rc${j + 1}, NULL AS __rw${j + 1} FROM ${name}__a${j}` : `SELECT l.*, r.rc AS __rc${j + 1}, r.rw AS __rw${j + 1} FROM ${d.latestBefore(`${name}__a${j}`, `${name}__st`, on, `__s${j + 1}`, 'ts')}`;
    ctes.push(`${name}__a${j + 1} AS (\n  ${read}\n)`);
  });
  return ctes;
}

/**
 * top_k and histograms per (key, value), by running totals, one pass for all those reading the
 * same value, filter and weight. Each query row is fanned out to the values its key had before t;
 * a value's count and weight in a window are the totals at t less those at its start. With a
 * native ASOF join the totals run over the events alone and are read at those points (asofReads);
 * otherwise events and read points go into one global order of (key, value, time) and one running
 * sum. Weights are summed as exact decimals (or integers, for a column in `integral`), so the
 * differences carry no rounding; a weight beyond ±1e20 is out of range.
 */
export function fannedCtes(d: Dialect, aggs: readonly AggregationIR[], name: string, alias: string, keys: readonly string[], ctes: string[], integral: ReadonlySet<string> = new Set()): { cte: string; columns: string[] }[] {
  const first = aggs[0] as AggregationIR;
  const x = d.ident(first.input as string);
  const ks = keys.join(', ');
  const group = [...keys, '__t'].join(', ');
  const cond = condition(d, first, first.filter, [`${x} IS NOT NULL`], false);
  // A weight column known to hold only integers (the event-type weights of most feature sets) sums
  // exactly as BIGINT, cheaper than the exact decimal (genre taste on the 1M-row spine: ~9% less).
  const exact = first.weight !== null && integral.has(first.weight) ? d.types.bigint : d.types.exact;
  const zero = `CAST(0 AS ${exact})`;
  const weight = first.weight === null ? zero : `CAST(coalesce(${d.ident(first.weight)}, 0) AS ${exact})`;
  const starts = [...new Set(aggs.map((a) => windowStartSql(d, a.window)))];
  const point = (s: string | null) => readPoint(d, s?.replaceAll('__t', 'qq.__t') ?? null);
  ctes.push(
    `${name}__e AS (\n  SELECT ${ks}, CAST(${x} AS ${d.types.varchar}) AS val, ts, ${weight} AS w FROM ${alias}__s WHERE ${cond}\n)`,
    // Each (key, value) pair once: its first time, and with a native ASOF join an integer surrogate,
    // numbered in (key, value) order so that every reference to this CTE sees the same numbers
    // whether the engine materializes it or inlines it twice (row_number() OVER () need not).
    `${name}__g AS (\n  SELECT ${ks}, val, min(ts) AS first_ts${d.nativeAsof ? `, row_number() OVER (ORDER BY ${ks}, val) AS g` : ''} FROM ${name}__e GROUP BY ${ks}, val\n)`,
    `${name}__v AS (\n  SELECT ${keys.map((k) => `qq.${k}`).join(', ')}, qq.__t, v.val${d.nativeAsof ? ', v.g' : ''} FROM ${alias}__q AS qq JOIN ${name}__g AS v ON ${keys.map((k) => `v.${k} = qq.${k}`).join(' AND ')} AND v.first_ts < qq.__t\n)`,
  );
  if (d.nativeAsof) ctes.push(...asofReads(d, starts, name, keys));
  else {
    ctes.push(
      `${name}__n AS (\n  SELECT ${ks}, val, ts, CAST(NULL AS ${d.types.bigint}) AS __t, -1 AS __p, FALSE AS __isq, 1 AS c, w FROM ${name}__e\n  UNION ALL\n  SELECT ${ks}, val, __t, __t, 0, TRUE, 0, ${zero} FROM ${name}__v${starts.map((st, j) => `\n  UNION ALL\n  SELECT ${keys.map((k) => `qq.${k}`).join(', ')}, qq.val, ${point(st)}, qq.__t, ${j + 1}, TRUE, 0, ${zero} FROM ${name}__v AS qq`).join('')}\n)`,
      `${name}__r AS (\n  SELECT * FROM (SELECT ${ks}, val, __t, __p, __isq, sum(c) OVER o AS rc, sum(w) OVER o AS rw FROM ${name}__n WINDOW o AS (ORDER BY ${ks}, val, ts, __isq DESC ROWS UNBOUNDED PRECEDING)) AS x WHERE __isq\n)`,
    );
  }
  // The totals (count rc, weight rw) at t and at read point p: a window's value is their difference.
  const at = (col: string, p: number) => (d.nativeAsof ? `coalesce(__${col}${p}, 0)` : `max(${col}) FILTER (WHERE __p = ${p})`);
  const cols = aggs.map((a, i) => {
    const p = starts.indexOf(windowStartSql(d, a.window)) + 1;
    const n = `${at('rc', 0)} - ${at('rc', p)}`;
    return `CAST(${n} AS ${d.types.bigint}) AS __n${i}, CAST(${a.weight === null ? n : `${at('rw', 0)} - ${at('rw', p)}`} AS ${d.types.double}) AS __m${i}`;
  });
  ctes.push(
    d.nativeAsof
      ? `${name}__w AS (\n  SELECT ${group}, val, ${cols.join(', ')}\n  FROM ${name}__a${starts.length}\n)`
      : `${name}__w AS (\n  SELECT ${group}, val, ${cols.join(', ')}\n  FROM ${name}__r GROUP BY ${group}, val\n)`,
  );
  return aggs.map((a, i) => {
    const cte = `${name}_${i}`;
    const rows = `SELECT ${group}, val, __m${i} AS m FROM ${name}__w WHERE __n${i} > 0`;
    if (a.op === 'histogram') ctes.push(`${cte} AS (\n  SELECT ${group}, ${d.pairsAgg('val', 'm')} AS ${d.ident(a.name)} FROM (${rows}) AS h GROUP BY ${group}\n)`);
    else if (d.argByTop) ctes.push(`${cte} AS (\n  SELECT ${group}, ${topValues(d, a, 'm')} AS ${d.ident(a.name)} FROM (${rows}) AS h GROUP BY ${group}\n)`);
    else ctes.push(`${cte} AS (\n  SELECT ${group}, ${d.listAgg('val', 'rn', `rn <= ${a.k}`)} AS ${d.ident(a.name)} FROM (SELECT ${group}, val, row_number() OVER (PARTITION BY ${group} ORDER BY m DESC, ${d.binaryText('val')} ASC) AS rn FROM (${rows}) AS h) AS r GROUP BY ${group}\n)`);
    return { cte, columns: [a.name] };
  });
}
