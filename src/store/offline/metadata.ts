/** @module Reads the log's item and user metadata snapshots back into plain records. */
import type { ItemMetadata, UserMetadata } from '../../events/schema.ts';
import { DuckDBEngine } from './duckdb-engine.ts';
import type { EventLog } from './event-log.ts';

export async function readMetadata(log: EventLog): Promise<{ items: ItemMetadata[]; users: UserMetadata[] }> {
  const items = log.itemsRelation();
  const users = log.usersRelation();
  if (items === null && users === null) return { items: [], users: [] };
  const engine = await DuckDBEngine.open();
  try {
    const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
    const str = (v: unknown) => (v === null || v === undefined ? null : String(v));
    return {
      items: items === null ? [] : (await engine.query(`SELECT * FROM ${items}`)).map((r) => ({
        itemId: String(r['item_id']),
        title: str(r['title']),
        year: num(r['year']),
        genres: ((r['genres'] as string[] | null) ?? []).map(String),
        releaseTs: num(r['release_ts']),
        duration: num(r['duration']),
      })),
      users: users === null ? [] : (await engine.query(`SELECT * FROM ${users}`)).map((r) => ({
        userId: String(r['user_id']),
        age: num(r['age']),
        gender: str(r['gender']),
        occupation: str(r['occupation']),
        country: str(r['country']),
      })),
    };
  } finally {
    engine.close();
  }
}
