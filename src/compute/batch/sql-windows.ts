/**
 * @module Aggregation strategies that read events in time order per query row: the range join
 * (portable, and for one time for all), the window pass over events ∪ query rows, and running
 * totals read at t and at each window's start. Each pushes its CTEs and returns the relations its
 * aggregates are read from (keys __k0.., __t).
 */
import type { AggregationIR } from '../../features/ir.ts';
import type { Dialect } from './dialect.ts';
import { columnsUsed, condition, eventsReadBy, inputConds, readPoint, scalarExpr, selectAlias, topValues, windowStartSql, type OneTime } from './sql-expressions.ts';

/**
 * The portable strategy: each query row joined to its key's events in the widest window, then
 * grouped. When every query is at one time `at` (a literal), the events before it are grouped by
 * key directly (the queried keys only), and window starts and decay read the literal.
 */
export function joinedCtes(d: Dialect, aggs: readonly AggregationIR[], alias: string, keys: readonly string[], ctes: string[], one?: OneTime): { cte: string; columns: string[] }[] {
  const q = (name: string) => d.ident(name);
  const at = one === undefined ? undefined : d.literal(one.at);
  const t = at ?? '__t';
  const group = [...keys, '__t'].join(', ');
  const starts = aggs.map((a) => windowStartSql(d, a.window, t));
  const lower = starts.includes(null) ? '' : ` AND s.ts >= ${starts.length === 1 ? starts[0] : `LEAST(${starts.join(', ')})`}`;
  // Only the columns the aggregations read: the join can be large, and DuckDB may materialize it.
  const columns = [...keys, ...columnsUsed(aggs).map(q)].map((c) => `s.${c}`).join(', ');
  ctes.push(at === undefined
    ? `${alias}__j AS (\n  SELECT qq.__t, ${columns}\n  FROM ${alias}__q AS qq JOIN ${alias}__s AS s ON ${keys.map((k) => `s.${k} = qq.${k}`).join(' AND ')} AND s.ts < qq.__t${lower}\n)`
    : `${alias}__j AS (\n  SELECT ${at} AS __t, ${columns}\n  FROM ${alias}__s AS s WHERE s.ts < ${at}${lower}${one?.everyKey ? '' : ` AND EXISTS (SELECT 1 FROM ${alias}__q AS qq WHERE ${keys.map((k) => `qq.${k} = s.${k}`).join(' AND ')})`}\n)`);
  const scalar: string[] = [];
  const lists: AggregationIR[] = [];
  // decayed_mean weighs events relative to the newest one in its window (the common factor
  // cancels), so long-dormant histories do not underflow to 0/0: that needs the newest time first.
  const means = aggs.filter((a) => a.op === 'decayed_mean');
  const newest = new Map(means.map((a, i) => [a, `__newest${i}`]));
  let source = `${alias}__j`;
  if (means.length > 0) {
    ctes.push(`${alias}__m AS (\n  SELECT ${group}, ${means.map((a, i) => `max(ts) FILTER (WHERE ${condition(d, a, a.filter, [`${q(a.input as string)} IS NOT NULL`], true, t)}) AS __newest${i}`).join(', ')}\n  FROM ${alias}__j GROUP BY ${group}\n)`);
    source = `${alias}__j JOIN ${alias}__m USING (${group})`;
  }
  for (const a of aggs) {
    const cond = condition(d, a, a.filter, inputConds(d, a), true, t);
    if (a.op === 'decayed_mean') {
      const rel = d.fdiv(`ts - ${newest.get(a)}`, String(a.halfLifeMs));
      scalar.push(`sum(${d.scale2(q(a.input as string), rel)}) FILTER (WHERE ${cond}) / sum(${d.pow2(rel)}) FILTER (WHERE ${cond}) AS ${q(a.name)}`);
      continue;
    }
    const expr = scalarExpr(d, a, cond, '', d.fdiv(`ts - ${t}`, String(a.halfLifeMs)));
    if (expr === null) lists.push(a);
    else scalar.push(`${expr} AS ${q(a.name)}`);
  }
  const parts: { cte: string; columns: string[] }[] = [];
  if (scalar.length > 0) {
    ctes.push(`${alias}__a AS (\n  SELECT ${group}${scalar.map((x) => `,\n    ${x}`).join('')}\n  FROM ${source} GROUP BY ${group}\n)`);
    parts.push({ cte: `${alias}__a`, columns: aggs.filter((a) => !lists.includes(a)).map((a) => a.name) });
  }
  lists.forEach((a, i) => {
    ctes.push(`${alias}__l${i} AS (\n${listCte(d, a, alias, keys)}\n)`);
    parts.push({ cte: `${alias}__l${i}`, columns: [a.name] });
  });
  return parts;
}

/**
 * The window strategy: events and query rows in one relation, each aggregate a window function
 * whose frame is the sawtooth window `[start(t), t)` (RANGE ... AND 1 PRECEDING keeps ts < t).
 * Lifetime decayed sums keep exponents bounded by anchoring at buckets of 256 half-lives: within
 * the query's bucket a running sum, before it the buckets' totals carried forward; nothing
 * overflows however far apart the timestamps are, and what underflows is truly below 2^-1022.
 */
export function windowCtes(d: Dialect, aggs: readonly AggregationIR[], alias: string, keys: readonly string[], ctes: string[], name = alias): { cte: string; columns: string[] }[] {
  const q = (name: string) => d.ident(name);
  const cols = columnsUsed(aggs).filter((c) => c !== 'ts');
  ctes.push(
    `${name}__u AS (\n  SELECT ${keys.join(', ')}, ts, ${cols.map(q).join(', ')}, FALSE AS __is_q FROM ${alias}__s${eventsReadBy(d, aggs, true)}\n  UNION ALL\n  SELECT ${keys.join(', ')}, __t AS ts, ${cols.map((c) => `NULL AS ${q(c)}`).join(', ')}, TRUE AS __is_q FROM ${alias}__q\n)`,
  );
  const frames = new Map<string, string>();
  const frameOf = (spec: string) => {
    if (!frames.has(spec)) frames.set(spec, `w${frames.size}`);
    return frames.get(spec) as string;
  };
  const byKey = `PARTITION BY ${keys.join(', ')} ORDER BY ts`;
  const selects: string[] = [];
  const buckets: { a: AggregationIR; i: number; size: number }[] = [];
  aggs.forEach((a, i) => {
    const cond = condition(d, a, a.filter, ['NOT __is_q', ...inputConds(d, a)], false);
    if (a.op === 'decayed_sum' || a.op === 'decayed_count') {
      const size = 256 * (a.halfLifeMs as number);
      const bucket = d.floorDiv('ts', String(size));
      const decay = d.fdiv(`ts - ${bucket} * ${size}`, String(a.halfLifeMs));
      const w = frameOf(`PARTITION BY ${keys.join(', ')}, ${bucket} ORDER BY ts RANGE BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING`);
      selects.push(`${scalarExpr(d, a, cond, ` OVER ${w}`, decay)} AS __c${i}`);
      buckets.push({ a, i, size });
      return;
    }
    const start = a.window.kind === 'lifetime' ? 'UNBOUNDED PRECEDING' : `(ts - ${d.floorDiv(`ts - ${a.window.lengthMs}`, String(a.window.hopMs))} * ${a.window.hopMs}) PRECEDING`;
    selects.push(`${scalarExpr(d, a, cond, ` OVER ${frameOf(`${byKey} RANGE BETWEEN ${start} AND 1 PRECEDING`)}`, '')} AS ${q(a.name)}`);
  });
  ctes.push(
    `${name}__w AS (\n  SELECT ${keys.join(', ')}, __t${[...selects.keys()].map((i) => `, ${selectAlias(selects[i] as string)}`).join('')} FROM (\n    SELECT ${keys.join(', ')}, ts AS __t, __is_q${selects.map((x) => `,\n      ${x}`).join('')}\n    FROM ${name}__u\n    WINDOW ${[...frames.entries()].map(([spec, name]) => `${name} AS (${spec})`).join(',\n      ')}\n  ) AS x WHERE __is_q\n)`,
  );
  const parts: { cte: string; columns: string[] }[] = [{ cte: `${name}__w`, columns: aggs.filter((a) => !buckets.some((b) => b.a === a)).map((a) => a.name) }];
  for (const { a, i, size } of buckets) {
    const cond = condition(d, a, a.filter, inputConds(d, a), false);
    const value = a.input === null ? '1' : q(a.input);
    const bucket = d.floorDiv('ts', String(size));
    ctes.push(
      `${name}__b${i} AS (\n  SELECT ${keys.join(', ')}, ${bucket} AS b, sum(${value} * ${d.pow2(d.fdiv(`ts - ${bucket} * ${size}`, String(a.halfLifeMs)))}) AS total\n  FROM ${alias}__s WHERE ${cond} GROUP BY ${keys.join(', ')}, ${bucket}\n)`,
      `${name}__d${i} AS (\n  SELECT w.${keys.join(', w.')}, w.__t,\n    CASE WHEN count(b.b) > 0 OR w.__c${i} IS NOT NULL THEN (coalesce(sum(b.total * ${d.pow2(d.fdiv(`b.b * ${size} - ${d.floorDiv('w.__t', String(size))} * ${size}`, String(a.halfLifeMs)))}), 0) + coalesce(w.__c${i}, 0))\n      * ${d.pow2(d.fdiv(`${d.floorDiv('w.__t', String(size))} * ${size} - w.__t`, String(a.halfLifeMs)))} END AS ${q(a.name)}\n  FROM ${name}__w AS w LEFT JOIN ${name}__b${i} AS b ON ${keys.map((k) => `b.${k} = w.${k}`).join(' AND ')} AND b.b < ${d.floorDiv('w.__t', String(size))}\n  GROUP BY w.${keys.join(', w.')}, w.__t, w.__c${i}\n)`,
    );
    parts.push({ cte: `${name}__d${i}`, columns: [a.name] });
  }
  return parts;
}

/**
 * Counts, sums and means as differences of running totals. Events (one row per key and time, a
 * count — and for a sum or mean an exact decimal sum — per aggregation) and read points (t, each
 * window's start, and for lifetime ones a point before everything) go into one relation in the
 * global order (key, time, read points first at equal times); one running sum over it gives at each
 * read point the totals before it, and a window's value is the total at t less the total at its
 * start. Integers and decimals subtract exactly. No PARTITION BY, no frame per row and no ASOF join:
 * on DuckDB a window over many large partitions (a popular item's hundred thousand events) or with a
 * FILTER clause is many times slower than one ordered pass, and each ASOF join sorts the whole event
 * side again. Sums and means take this path only for columns whose total magnitude fits the
 * decimal (`exactColumns`, measured on the log); others stay window functions.
 */
export function runningCte(d: Dialect, aggs: readonly AggregationIR[], alias: string, keys: readonly string[], ctes: string[]): { cte: string; columns: string[] } {
  const q = (name: string) => d.ident(name);
  const ks = keys.join(', ');
  const starts = [...new Set(aggs.map((a) => windowStartSql(d, a.window)))];
  // Each aggregation's measures: a count of its events, and for a sum or mean the exact sum of its
  // input; one running sum per distinct measure (a count over four windows is one measure).
  const measures: { expr: string; zero: string }[] = [];
  const measure = (expr: string, zero: string) => {
    const at = measures.findIndex((m) => m.expr === expr);
    return at >= 0 ? at : measures.push({ expr, zero }) - 1;
  };
  const slots = aggs.map((a) => {
    const cond = condition(d, a, a.filter, [], false);
    if (a.op === 'count') return { n: measure(`count(*) FILTER (WHERE ${cond})`, '0'), s: -1 };
    const x = d.ident(a.input as string);
    return { n: measure(`count(${x}) FILTER (WHERE ${cond})`, '0'), s: measure(`sum(CAST(${x} AS ${d.types.exact})) FILTER (WHERE ${cond})`, `CAST(0 AS ${d.types.exact})`) };
  });
  // Read point 0 is t; point j + 1 is starts[j]; a lifetime aggregation's "start" is before every event.
  const pointTime = (s: string | null) => readPoint(d, s);
  const zeros = measures.map((m, i) => `, ${m.zero} AS __c${i}`).join('');
  const reads = [`SELECT ${ks}, __t AS ts, __t, 0 AS __p, TRUE AS __isq${zeros} FROM ${alias}__q`, ...starts.map((s, j) => `SELECT ${ks}, ${pointTime(s)} AS ts, __t, ${j + 1} AS __p, TRUE AS __isq${zeros} FROM ${alias}__q`)];
  ctes.push(
    `${alias}__n AS (\n  SELECT ${ks}, ts, CAST(NULL AS ${d.types.bigint}) AS __t, -1 AS __p, FALSE AS __isq${measures.map((m, i) => `, ${m.expr} AS __c${i}`).join('')}\n  FROM ${alias}__s${eventsReadBy(d, aggs, false)} GROUP BY ${ks}, ts${reads.map((r) => `\n  UNION ALL\n  ${r}`).join('')}\n)`,
    `${alias}__nr AS (\n  SELECT * FROM (SELECT ${ks}, __t, __p, __isq${measures.map((_, i) => `, sum(__c${i}) OVER __o AS __r${i}`).join('')} FROM ${alias}__n WINDOW __o AS (ORDER BY ${ks}, ts, __isq DESC ROWS UNBOUNDED PRECEDING)) AS x WHERE __isq\n)`,
  );
  const diff = (m: number, a: AggregationIR) => `(max(__r${m}) FILTER (WHERE __p = 0) - max(__r${m}) FILTER (WHERE __p = ${starts.indexOf(windowStartSql(d, a.window)) + 1}))`;
  const values = aggs.map((a, i) => {
    const { n, s } = slots[i] as { n: number; s: number };
    if (a.op === 'count') return `NULLIF(CAST(${diff(n, a)} AS ${d.types.bigint}), 0) AS ${q(a.name)}`;
    const sum = `CAST(${diff(s, a)} AS ${d.types.double})`;
    return `CASE WHEN ${diff(n, a)} > 0 THEN ${a.op === 'sum' ? sum : `${sum} / ${diff(n, a)}`} END AS ${q(a.name)}`;
  });
  ctes.push(`${alias}__c AS (\n  SELECT ${ks}, __t, ${values.join(', ')}\n  FROM ${alias}__nr GROUP BY ${ks}, __t\n)`);
  return { cte: `${alias}__c`, columns: aggs.map((a) => a.name) };
}

/** last_k, top_k and histogram: rank the distinct values of each query row, then list them. */
export function listCte(d: Dialect, a: AggregationIR, alias: string, keys: readonly string[]): string {
  const group = [...keys, '__t'].join(', ');
  const x = d.ident(a.input as string);
  const cond = condition(d, a, a.filter, [`${x} IS NOT NULL`]);
  const measure = a.op === 'last_k' ? 'max(ts)' : a.weight === null ? `CAST(count(*) AS ${d.types.double})` : `sum(coalesce(${d.ident(a.weight)}, 0))`;
  const inner = `SELECT ${group}, CAST(${x} AS ${d.types.varchar}) AS val, ${measure} AS m FROM ${alias}__j WHERE ${cond} GROUP BY ${group}, CAST(${x} AS ${d.types.varchar})`;
  if (a.op === 'histogram') return `  SELECT ${group}, ${d.pairsAgg('val', 'm')} AS ${d.ident(a.name)} FROM (${inner}) AS g GROUP BY ${group}`;
  if (d.argByTop) return `  SELECT ${group}, ${topValues(d, a, 'm')} AS ${d.ident(a.name)} FROM (${inner}) AS g GROUP BY ${group}`;
  const order = a.op === 'last_k' ? `m DESC, ${d.binaryText('val')} DESC` : `m DESC, ${d.binaryText('val')} ASC`;
  const ranked = `SELECT ${group}, val, row_number() OVER (PARTITION BY ${group} ORDER BY ${order}) AS rn FROM (${inner}) AS g`;
  return `  SELECT ${group}, ${d.listAgg('val', 'rn', `rn <= ${a.k}`)} AS ${d.ident(a.name)} FROM (${ranked}) AS r GROUP BY ${group}`;
}
