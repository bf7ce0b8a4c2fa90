import { compileFeatureSet } from '../src/plan/compile.ts';
import { postgres, type Dialect } from '../src/compute/batch/dialect.ts';
import { renderFeatureSql } from '../src/compute/batch/sql.ts';
import { defineFeatureSet, entity, sessionView } from '../src/index.ts';
import { createTestSchema, loadEvents, loadQueries, openTestPostgres } from './helpers/postgres.ts';
const fs = compileFeatureSet(defineFeatureSet({ name: 'b', views: [sessionView({ name: 's', entity: entity('user', ['user_id']), gap: '30m' })] }));
const conn = await openTestPostgres();
const c = conn.client!;
const s = await createTestSchema(c);
const N = Number(process.argv[2] ?? 20000), U = 200, Q = Number(process.argv[3] ?? 2000);
const B = Date.UTC(2024, 0, 1);
let seed = 1; const rnd = () => ((seed = (seed * 48271) % 2147483647) / 2147483647);
await loadEvents(c, `${s.name}.events`, Array.from({ length: N }, (_, i) => ({ eventId: `e${i}`, userId: `u${Math.floor(rnd() * U)}`, itemId: `i${Math.floor(rnd() * 50)}`, ts: B + Math.floor(rnd() * 30 * 86400000), type: 'play', value: null, duration: null, context: {} })));
await loadQueries(c, `${s.name}.q`, ['user_id'], Array.from({ length: Q }, () => ({ ts: B + Math.floor(rnd() * 30 * 86400000), keys: { user_id: `u${Math.floor(rnd() * U)}` } })));
const rowNumber: Dialect['latestBefore'] = (left, right, keys, lt, rt) =>
  `${left} AS l LEFT JOIN (SELECT * FROM (SELECT r0.*, ${keys.map((k, i) => `l0.${k} AS __lk${i}`).join(', ')}, l0.${lt} AS __lt, row_number() OVER (PARTITION BY ${keys.map((k) => `l0.${k}`).join(', ')}, l0.${lt} ORDER BY r0.${rt} DESC) AS __rn FROM ${left} AS l0 JOIN ${right} AS r0 ON ${keys.map((k) => `r0.${k} = l0.${k}`).join(' AND ')} AND r0.${rt} < l0.${lt}) AS r1 WHERE __rn = 1) AS r ON ${keys.map((k, i) => `r.__lk${i} = l.${k}`).join(' AND ')} AND r.__lt = l.${lt}`;
const maxJoin: Dialect['latestBefore'] = (left, right, keys, lt, rt) =>
  `${left} AS l LEFT JOIN (SELECT ${keys.map((k) => `l0.${k}`).join(', ')}, l0.${lt} AS __lt, max(r0.${rt}) AS __rt FROM ${left} AS l0 JOIN ${right} AS r0 ON ${keys.map((k) => `r0.${k} = l0.${k}`).join(' AND ')} AND r0.${rt} < l0.${lt} GROUP BY ${keys.map((k) => `l0.${k}`).join(', ')}, l0.${lt}) AS m ON ${keys.map((k) => `m.${k} = l.${k}`).join(' AND ')} AND m.__lt = l.${lt} LEFT JOIN ${right} AS r ON ${keys.map((k) => `r.${k} = l.${k}`).join(' AND ')} AND r.${rt} = m.__rt`;
const results: string[] = [];
for (const [name, d] of [['lateral', postgres], ['row_number', { ...postgres, latestBefore: rowNumber }], ['max_join', { ...postgres, latestBefore: maxJoin }]] as const) {
  const sql = renderFeatureSql({ ir: fs.ir, dialect: d, events: `${s.name}.events`, items: null, users: null, queries: `${s.name}.q` });
  const t0 = performance.now();
  const r = await c.query(sql);
  results.push(JSON.stringify(r.rows));
  console.log(name, Math.round(performance.now() - t0), 'ms', r.rows.length);
}
console.log('same', results.every((x) => x === results[0]));
await s.drop(); await c.end();
