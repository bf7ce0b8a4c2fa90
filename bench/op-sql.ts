/**
 * @module Child step: the hand-written DuckDB SQL (bench/handwritten/*.sql) over the same log,
 * statement by statement on one in-memory database with DuckDB's defaults, as recsignal opens it.
 *   training-set --log DIR --spine FILE --out FILE
 *   backfill     --log DIR --at MS --out FILE
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBEngine } from '../src/store/offline/duckdb-engine.ts';
import { EventLog } from '../src/store/offline/event-log.ts';
import { argMap, timeAndReport } from './child.ts';

/** The statements of a hand-written script with its placeholders filled; comment lines dropped. */
export function handwrittenStatements(name: 'training-set' | 'backfill', values: Readonly<Record<string, string>>): string[] {
  const text = readFileSync(fileURLToPath(new URL(`./handwritten/${name}.sql`, import.meta.url)), 'utf8');
  const filled = text.replace(/\{\{(\w+)\}\}/g, (_, k: string) => {
    const v = values[k];
    if (v === undefined) throw new Error(`handwritten/${name}.sql: no value for {{${k}}}`);
    return v;
  });
  return filled
    .split('\n')
    .filter((l) => !l.trimStart().startsWith('--'))
    .join('\n')
    .split(/;\s*(?:\n|$)/)
    .map((s) => s.trim())
    .filter(Boolean);
}

const [op, ...rest] = process.argv.slice(2);
if (op !== undefined && process.argv[1] === fileURLToPath(import.meta.url)) {
  const a = argMap(rest);
  const need = (k: string): string => {
    const v = a.get(k);
    if (v === undefined) throw new Error(`op-sql ${op}: --${k} is required`);
    return v;
  };
  const log = new EventLog(need('log'));
  if (op !== 'training-set' && op !== 'backfill') throw new Error(`op-sql: unknown operation '${op}'; use backfill or training-set`);
  const values: Record<string, string> = {
    events: log.eventsRelation(),
    items: join(log.dir, 'items.parquet'),
    users: join(log.dir, 'users.parquet'),
    out: need('out'),
    ...(op === 'training-set' ? { spine: need('spine') } : { at: need('at') }),
  };
  const statements = handwrittenStatements(op, values);
  await timeAndReport(async () => {
    const engine = await DuckDBEngine.open();
    const steps: { sql: string; seconds: number }[] = [];
    try {
      for (const sql of statements) {
        const t0 = performance.now();
        await engine.run(sql);
        const step = { sql: sql.replace(/\s+/g, ' ').slice(0, 60), seconds: (performance.now() - t0) / 1000 };
        steps.push(step);
        if (process.env['BENCH_VERBOSE']) process.stderr.write(`${step.seconds.toFixed(2).padStart(8)} s  ${step.sql}\n`);
      }
    } finally {
      engine.close();
    }
    return { steps };
  });
}
