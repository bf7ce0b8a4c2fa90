/**
 * @module A Redis Streams consumer that keeps the stream engine's state in Redis. Consumers of
 * one group share a stream; each event's effect lands exactly once, also across crashes:
 *
 * - A batch's new state, its dead letters and the consumer's checkpoint (the last stream ID it
 *   applied, with its counts) are written in one MULTI/EXEC, guarded by WATCH on every key the
 *   batch read (optimistic: another consumer that changed one of them in between makes EXEC fail,
 *   and the batch is recomputed from the fresh state). XACK comes after.
 * - On start, a consumer first re-reads its own pending entries: those at or before its checkpoint
 *   were applied before a crash between EXEC and XACK, and are only acknowledged. Later, before
 *   each batch, the ones below it that it never received (a lost reply) are applied first, so the
 *   checkpoint never passes an entry that was not applied.
 * - Entries removed from the stream before the group read them are counted and dead-lettered.
 * - Lateness is judged against the slowest live consumer's watermark (each checkpoint carries its
 *   consumer's), not the newest time any consumer saw, and never below the group's settled
 *   watermark (what any commit folded and forgot at): see `BatchWatermarks`.
 * - A consumer that died and was not restarted leaves its pending entries to the others: once it has
 *   neither read nor committed for `takeOverAfterMs`, a live consumer applies its pending entries
 *   *as that consumer* (guarded by WATCH on the dead one's checkpoint, which it advances, so the
 *   rule "at or before the checkpoint means applied" still holds for the dead one's entries), then
 *   acknowledges them. The entries are not XCLAIMed: claimed into the live consumer's own pending
 *   list they would be judged by its checkpoint after a crash of its own, and wrongly. A consumer
 *   that comes back starts by writing its checkpoint, which makes the takeover's next commit fail
 *   and stop; one that was only frozen finds `takenOverBy` in its checkpoint and goes on from it.
 *
 * Hot keys (popular items) are in almost every batch, so concurrent batches conflict and are
 * recomputed: several consumers give fault tolerance, not yet more throughput. That needs the
 * events re-keyed per entity into partitions that each consumer owns.
 *
 * That holds on one Redis (state, checkpoint and dead letters on the `state` connection). On a
 * Redis Cluster the MULTI spans slots and is refused; see store-backed.ts.
 */
import type { Redis } from 'ioredis';
import { RecsignalError } from '../../core/errors.ts';
import { parseJsonText } from '../../core/json-text.ts';
import { reasonOf, type EventValidator } from '../../events/validate.ts';
import type { InteractionEvent } from '../../events/schema.ts';
import { applyBatch, stateKeys, type StoredStateOptions } from './store-backed.ts';
import { ttlOf } from '../../store/online/redis/redis-shared.ts';

export interface ConsumerOptions extends StoredStateOptions {
  readonly stream: string;
  readonly group: string;
  readonly consumer: string;
  readonly validator: EventValidator;
  /** Messages per XREADGROUP (default 500). */
  readonly batch?: number;
  /** How long one XREADGROUP waits for new messages (default 1000 ms); stop() takes effect within it. */
  readonly blockMs?: number;
  /** Stop once a read finds nothing new (tests, one-shot catch-up) instead of waiting for more. */
  readonly untilIdle?: boolean;
  /**
   * A consumer whose last commit is older than this (default 30 s) no longer holds the group's
   * watermark back: it is idle, or dead and not restarted. A consumer slower than this per batch may
   * see its events judged late against the others.
   */
  readonly staleAfterMs?: number;
  /**
   * A consumer that has neither read nor committed for this long (default 20 s) and still holds
   * pending entries is taken to be dead: a live one applies and acknowledges its entries for it.
   * Keep it under staleAfterMs: until then the dead one's watermark holds the group's back, so
   * the state its entries need has not been folded or forgotten.
   */
  readonly takeOverAfterMs?: number;
  /** Called after a batch's EXEC succeeded and before its XACK (tests crash here). */
  readonly afterCommit?: (lastId: string, stats: ConsumerStats) => Promise<void> | void;
}

export interface ConsumerCounts {
  applied: number;
  duplicates: number;
  late: number;
  invalid: number;
}

export interface ConsumerStats extends ConsumerCounts {
  /** Messages acknowledged by this run. */
  acked: number;
  batches: number;
  /** Batches recomputed because another consumer changed a key they read. */
  conflicts: number;
  /** Pending messages found already applied at start (a crash between EXEC and XACK). */
  alreadyApplied: number;
  /** Messages of dead consumers this one applied (or found applied) and acknowledged for them. */
  takenOver: number;
  /**
   * At the end of the run: messages the group's other consumers still hold, unacknowledged (a
   * consumer that crashed, not yet silent for takeOverAfterMs, or one still at work). `untilIdle`
   * stops when nothing new comes for this consumer, so a run after a crash can end with some.
   */
  pendingInGroup: number;
  /** At the end of the run: this consumer's own unacknowledged entries (a stop in the middle of its batch's XACK, say); a restart applies them. */
  pendingOwn: number;
  /** Entries removed from the stream before the group read them: never applied, told in one dead letter per gap (see `#readNew`). */
  removedUnread: number;
  /** Entries delivered to this consumer whose reply it never received, read back and applied (see `#handleUnreceived`). */
  unreceived: number;
}

export interface Checkpoint {
  readonly lastId: string | null;
  readonly counts: ConsumerCounts;
  /** The newest event time this consumer applied (null: none yet). */
  readonly watermark: number | null;
  /** Wall-clock time of the commit (ms). */
  readonly at: number;
  /** Set when a live consumer committed this checkpoint for its dead owner (see the module). */
  readonly takenOverBy?: string;
  /** The stream its IDs are of (absent in checkpoints written before it was recorded). */
  readonly stream?: string;
}

/** A consumer whose checkpoint a batch advances: this one, or a dead one being taken over. */
interface Owner {
  readonly name: string;
  readonly key: string;
  checkpoint: Checkpoint;
  /** The checkpoint as stored (null when none): a batch commits only while it is unchanged. */
  text: string | null;
  /** This consumer itself; otherwise a dead one whose entries it applies. */
  readonly self: boolean;
}

/** The stored checkpoint of a batch's owner changed under it (see `#othersWatermark`). */
class CheckpointMoved extends Error {
  constructor(readonly text: string | null) {
    super('checkpoint moved');
  }
}

type Entry = [id: string, fields: string[] | null];

const MAX_CONFLICTS = 1000;

export class StreamConsumer {
  readonly stats: ConsumerStats = { applied: 0, duplicates: 0, late: 0, invalid: 0, acked: 0, batches: 0, conflicts: 0, alreadyApplied: 0, takenOver: 0, pendingInGroup: 0, pendingOwn: 0, unreceived: 0, removedUnread: 0 };
  #stopping = false;
  readonly #self: Owner;
  readonly #dead: string;
  readonly #membersKey: string;
  readonly #settledKey: string;
  #nextTakeOverCheck = 0;
  /** The last gap `#tellRemovedUnread` told: a read that finds nothing leaves it in place. */
  #toldGap = '';

  /**
   * `streams` reads and acknowledges (it blocks in XREADGROUP); `state` is used by this consumer
   * alone, since WATCH belongs to a connection: give each consumer its own.
   */
  constructor(private readonly streams: Redis, private readonly state: Redis, private readonly o: ConsumerOptions) {
    this.#dead = `${o.stream}:dead`;
    this.#self = { name: o.consumer, key: stateKeys(o.namespace).checkpoint(o.group, o.consumer), checkpoint: parseCheckpoint(null), text: null, self: true };
    this.#membersKey = stateKeys(o.namespace).members(o.group);
    this.#settledKey = stateKeys(o.namespace).settled(o.group);
  }

  /** Stops after the batch in hand (within blockMs when waiting). */
  stop(): void {
    this.#stopping = true;
  }

  /** Consumes until stop() (or, with untilIdle, until nothing new arrives); returns this run's counts. */
  async run(): Promise<ConsumerStats> {
    await ensureGroup(this.streams, this.o.stream, this.o.group);
    await this.#checkGroupState();
    await this.state.sadd(this.#membersKey, this.o.consumer);
    // Announce this consumer as live before it reads: until its first commit it holds the group's
    // watermark back, so the others do not forget what its first batch may still need.
    // Guarded: a live consumer taking this one over may commit for it between the read and the write.
    for (let attempt = 0; ; attempt++) {
      if (attempt >= MAX_CONFLICTS) throw new Error(`consumer '${this.o.consumer}': its checkpoint kept changing while it started; is another process running under the same --consumer name?`);
      await this.state.watch(this.#self.key);
      const watchedOn = this.state.stream;
      const { takenOverBy: _, ...stored } = parseCheckpoint(await this.state.get(this.#self.key));
      const checkpoint = { ...stored, at: Date.now(), stream: this.o.stream };
      const text = JSON.stringify(checkpoint);
      // As in #handle: a connection that dropped and came back since the WATCH would run the MULTI unguarded.
      if (this.state.status !== 'ready' || this.state.stream !== watchedOn) continue;
      if ((await this.state.multi().set(this.#self.key, text).exec()) === null) continue;
      this.#self.checkpoint = checkpoint;
      this.#self.text = text;
      break;
    }
    const count = this.o.batch ?? 500;
    // Own pending entries first: delivered before a crash, maybe applied, surely not acknowledged.
    let cursor = '0';
    while (!this.#stopping) {
      const entries = await this.#read(cursor, count, null);
      if (entries.length === 0) break;
      await this.#handle(entries, this.#self);
      cursor = (entries[entries.length - 1] as Entry)[0];
    }
    while (!this.#stopping) {
      await this.#takeOverDead(count);
      const entries = await this.#readNew(count, this.o.blockMs ?? 1000);
      if (entries.length === 0) {
        if (this.o.untilIdle) break;
        continue;
      }
      await this.#handleUnreceived((entries[0] as Entry)[0], count);
      await this.#handle(entries, this.#self);
    }
    // XPENDING's summary: [count, smallest, greatest, [[consumer, count], ...]].
    const summary = (await this.streams.xpending(this.o.stream, this.o.group)) as [number, unknown, unknown, [string, string][] | null];
    const own = Number((summary[3] ?? []).find(([name]) => name === this.o.consumer)?.[1] ?? 0);
    this.stats.pendingInGroup = Number(summary[0] ?? 0) - own;
    this.stats.pendingOwn = own;
    return this.stats;
  }

  /**
   * Entries delivered to this consumer that it never received, below the batch in hand: a reply
   * lost with its connection, after which the read was sent again (ioredis resends unanswered
   * commands) and delivered the entries after them. They sit in this consumer's pending list, and
   * the batch's commit would move the checkpoint past them: "at or before the checkpoint" would then
   * acknowledge them as applied at the next start. So they are read back and applied first.
   */
  async #handleUnreceived(before: string, count: number): Promise<void> {
    for (;;) {
      const pending = (await this.streams.xpending(this.o.stream, this.o.group, '-', `(${before}`, count, this.o.consumer)) as [string, ...unknown[]][];
      if (pending.length === 0) return;
      const entries = await this.#entriesOf(pending.map(([id]) => id));
      this.stats.unreceived += entries.length;
      await this.#handle(entries, this.#self);
    }
  }

  /** The entries of these IDs, read by XRANGE (one pipeline); an entry no longer in the stream has null fields. */
  async #entriesOf(ids: readonly string[]): Promise<Entry[]> {
    const read = this.streams.pipeline();
    for (const id of ids) read.xrange(this.o.stream, id, id);
    const replies = (await read.exec()) ?? [];
    return ids.map((id, i): Entry => {
      const [error, found] = replies[i] ?? [new Error('no reply')];
      if (error) throw error;
      return [id, (found as [string, string[]][])[0]?.[1] ?? null];
    });
  }

  /**
   * Refuses to start on state whose checkpoints belong to another stream, or to an earlier stream of
   * this name: an entry at or before a checkpoint counts as applied, so the events of a second stream
   * (or of a stream deleted and written again from lower IDs) would be acknowledged and never applied.
   * A namespace's state comes from one stream; its lateness and folding follow that stream's times.
   */
  async #checkGroupState(): Promise<void> {
    const names = await this.state.smembers(this.#membersKey);
    if (!names.includes(this.o.consumer)) names.push(this.o.consumer);
    const k = stateKeys(this.o.namespace);
    const read = this.state.pipeline();
    for (const name of names) read.get(k.checkpoint(this.o.group, name));
    const texts = ((await read.exec()) ?? []).map(([error, text]) => {
      if (error) throw error;
      return text as string | null;
    });
    const newest = String(fieldOf((await this.streams.xinfo('STREAM', this.o.stream)) as unknown[], 'last-generated-id') ?? '0-0');
    const where = `the state under namespace '${this.o.namespace}'`;
    names.forEach((name, i) => {
      const text = texts[i];
      if (text === null || text === undefined) return;
      const c = parseCheckpoint(text);
      if (c.stream !== undefined && c.stream !== this.o.stream) {
        throw new RecsignalError('INVALID_ARGUMENT', `${where} was built from stream '${c.stream}' (consumer '${name}' of group '${this.o.group}'), not '${this.o.stream}': its checkpoints would mark this stream's entries as applied. Give this stream its own --namespace (a state comes from one stream), or consume '${c.stream}'`);
      }
      if (c.lastId !== null && compareIds(c.lastId, newest) > 0) {
        throw new RecsignalError('INVALID_ARGUMENT', `consumer '${name}' of group '${this.o.group}' applied stream '${this.o.stream}' up to ID ${c.lastId}, but the stream's newest ID is ${newest}: it was deleted and written again, and its entries up to ${c.lastId} would be taken as applied. Build the state of the new stream under a new --namespace (or delete the old namespace's keys first)`);
      }
    });
  }

  /**
   * Applies the pending entries of consumers of the group that have neither read nor committed for
   * takeOverAfterMs (dead, not restarted), as those consumers, oldest first; checked at most every
   * quarter of that time.
   */
  async #takeOverDead(count: number): Promise<void> {
    const after = this.o.takeOverAfterMs ?? 20_000;
    if (Date.now() < this.#nextTakeOverCheck) return;
    this.#nextTakeOverCheck = Date.now() + after / 4;
    const consumers = (await this.streams.xinfo('CONSUMERS', this.o.stream, this.o.group)) as unknown[][];
    // Consumers that hold nothing and have not read for longer than the others wait for their
    // watermark leave the members: every restart under a default name adds one, and every batch
    // reads the members' checkpoints. Their checkpoints (and counts) stay. One that was only frozen
    // becomes a member again at its next commit. (Not XGROUP DELCONSUMER: one that woke since
    // XINFO may hold entries again, and DELCONSUMER would drop them from the pending list.)
    const gone = consumers
      .filter((info) => String(fieldOf(info, 'name')) !== this.o.consumer && Number(fieldOf(info, 'pending')) === 0 && Number(fieldOf(info, 'idle')) >= (this.o.staleAfterMs ?? 30_000))
      .map((info) => String(fieldOf(info, 'name')));
    if (gone.length > 0) await this.state.srem(this.#membersKey, ...gone);
    for (const info of consumers) {
      const field = (f: string) => fieldOf(info, f);
      const name = String(field('name'));
      if (name === this.o.consumer || Number(field('pending')) === 0 || Number(field('idle')) < after) continue;
      const key = stateKeys(this.o.namespace).checkpoint(this.o.group, name);
      const text = await this.state.get(key);
      const checkpoint = parseCheckpoint(text);
      if (Date.now() - checkpoint.at < after) continue;
      const owner: Owner = { name, key, checkpoint, text, self: false };
      try {
        while (!this.#stopping) {
          const pending = (await this.streams.xpending(this.o.stream, this.o.group, '-', '+', count, name)) as [string, ...unknown[]][];
          if (pending.length === 0) break;
          const ids = pending.map(([id]) => id);
          await this.#handle(await this.#entriesOf(ids), owner);
          this.stats.takenOver += ids.length;
        }
      } catch (e) {
        // It came back (or another live consumer took it over first): its checkpoint moved; leave it.
        if (!(e instanceof CheckpointMoved)) throw e;
      }
    }
  }

  /**
   * The next new entries for this consumer. First a read that does not block, in one MULTI with
   * XINFO of the stream and of the group: entries removed from the stream (trimmed by MAXLEN or
   * MINID, or deleted) before the group read them can be seen only there, since the read that passes
   * them moves the group on as if they had been read. They are counted and dead-lettered (one dead
   * letter for the gap). The read that passes the gap is one consumer's, so the gap is told once.
   * With nothing new, a blocking read: a consumer that waits has read everything, so what is
   * trimmed while it waits was read already.
   */
  async #readNew(count: number, blockMs: number): Promise<Entry[]> {
    const tx = this.streams.multi();
    tx.xinfo('STREAM', this.o.stream);
    tx.xinfo('GROUPS', this.o.stream);
    tx.call('XREADGROUP', 'GROUP', this.o.group, this.o.consumer, 'COUNT', count, 'STREAMS', this.o.stream, '>');
    const replies = await tx.exec();
    if (replies === null) throw new Error(`reading ${this.o.stream}: the MULTI was aborted`);
    for (const [error] of replies) if (error) throw error;
    const group = ((replies[1]?.[1] ?? []) as unknown[][]).find((g) => String(fieldOf(g, 'name')) === this.o.group);
    if (group !== undefined) await this.#tellRemovedUnread(replies[0]?.[1] as unknown[], group);
    // XREADGROUP's reply: [[stream, entries]], which ioredis hands back inside a MULTI as [stream, entries]; null when nothing is new.
    const raw = replies[2]?.[1] as [string, Entry[]][] | [string, Entry[]] | null;
    const entries = raw === null || raw.length === 0 ? [] : typeof raw[0] === 'string' ? (raw as [string, Entry[]])[1] : ((raw as [string, Entry[]][])[0]?.[1] ?? []);
    return entries.length > 0 ? entries : this.#read('>', count, blockMs);
  }

  /** The gap of a stream's entries removed before the group read them, if its XINFO shows one not told yet (see `#readNew`). */
  async #tellRemovedUnread(stream: readonly unknown[], group: readonly unknown[]): Promise<void> {
    const added = Number(fieldOf(stream, 'entries-added'));
    const length = Number(fieldOf(stream, 'length'));
    const first = String(fieldOf(stream, 'recorded-first-entry-id') ?? '0-0');
    const newest = String(fieldOf(stream, 'last-generated-id') ?? '0-0');
    const last = String(fieldOf(group, 'last-delivered-id') ?? '0-0');
    const read = fieldOf(group, 'entries-read');
    // The group's read counter; null when Redis cannot tell (deletions after what it read), unless it never read.
    const delivered = read === null || read === undefined ? (last === '0-0' ? 0 : null) : Number(read);
    // Removed unread only when everything up to the last delivered entry is gone too (trims take the oldest first).
    const passed = length === 0 ? compareIds(last, newest) < 0 : compareIds(first, last) > 0;
    if (delivered === null || !passed || !Number.isFinite(added)) return;
    const lost = added - length - delivered;
    const gap = `${last} ${added} ${length}`;
    if (lost <= 0 || gap === this.#toldGap) return;
    this.#toldGap = gap;
    this.stats.removedUnread += lost;
    const reason = `${lost} entries were removed from the stream (trimmed by MAXLEN or MINID, or deleted) after ID ${last} and before group '${this.o.group}' read them${length > 0 ? ` (the oldest entry left is ${first})` : ''}: their events were never applied; keep the stream longer than its consumers take to read it`;
    await this.state.xadd(this.#dead, '*', 'id', `${last}..${length > 0 ? first : newest}`, 'reason', reason, 'event', '');
  }

  async #read(id: string, count: number, blockMs: number | null): Promise<Entry[]> {
    const args: (string | number)[] = ['GROUP', this.o.group, this.o.consumer, 'COUNT', count];
    if (blockMs !== null) args.push('BLOCK', blockMs);
    args.push('STREAMS', this.o.stream, id);
    const reply = (await (this.streams.xreadgroup as (...a: (string | number)[]) => Promise<unknown>)(...args)) as [string, Entry[]][] | null;
    return reply?.[0]?.[1] ?? [];
  }

  async #handle(entries: readonly Entry[], owner: Owner): Promise<void> {
    const done = owner.checkpoint.lastId;
    const old = done === null ? [] : entries.filter(([id]) => compareIds(id, done) <= 0);
    const fresh = done === null ? entries : entries.filter(([id]) => compareIds(id, done) > 0);
    if (old.length > 0) {
      if (owner.self) this.stats.alreadyApplied += old.length;
      await this.#ack(old.map(([id]) => id));
    }
    if (fresh.length === 0) return;

    const events: InteractionEvent[] = [];
    const eventIds: string[] = [];
    const eventTexts: string[] = [];
    const dead: { id: string; reason: string; input: string }[] = [];
    for (const [id, fields] of fresh) {
      const text = fieldOf(fields, 'event');
      if (text === undefined) {
        // A trimmed entry (fields null) or one without an `event` field.
        dead.push({ id, reason: fields === null ? 'the entry was delivered, then deleted from the stream (XDEL, or trimmed by MAXLEN / MINID) before it was applied: its event is lost; keep the stream longer than consumers take to apply it' : 'no `event` field: XADD <stream> * event <event JSON>', input: JSON.stringify(fields) });
        continue;
      }
      let raw: unknown;
      try {
        raw = parseJsonText(text);
      } catch (e) {
        dead.push({ id, reason: `not JSON (${(e as Error).message}): send one event object as JSON text`, input: text });
        continue;
      }
      const r = this.o.validator(raw);
      if (r.ok) {
        events.push(r.event);
        eventIds.push(id);
        eventTexts.push(text);
      } else dead.push({ id, reason: reasonOf(r.problems), input: text });
    }
    const lastId = (fresh[fresh.length - 1] as Entry)[0];

    for (let attempt = 0; ; attempt++) {
      if (attempt >= MAX_CONFLICTS) throw new Error(`batch up to ${lastId}: ${MAX_CONFLICTS} WATCH conflicts in a row; too many consumers on too few keys? use fewer consumers or larger batches`);
      // WATCH belongs to a connection: a batch whose EXEC went on a later one than its WATCH would
      // commit unguarded (another consumer's write unseen). The socket WATCH answered on is noted.
      let watchedOn: unknown = null;
      // The group's settled watermark is read with every read of keys, after their WATCH, and not
      // watched itself (every commit raises it: watching it would make all concurrent batches conflict).
      let floor: number | null = null;
      const read = async (keys: readonly string[]) => {
        await this.state.watch(...keys);
        watchedOn ??= this.state.stream;
        const values = await this.state.mget(...keys);
        const settled = await this.state.zscore(this.#settledKey, 'w');
        if (settled !== null) floor = Math.max(floor ?? -Infinity, Number(settled));
        return values;
      };
      let result;
      try {
        const others = await this.#othersWatermark(owner);
        result = await applyBatch(this.o, events, read, { own: owner.checkpoint.watermark, others, floor: () => floor });
      } catch (e) {
        await this.state.unwatch();
        if (e instanceof CheckpointMoved && owner.self) {
          // Taken over while this consumer was frozen: go on from what the taker committed (the text
          // and its parse are one read: a later commit of the taker is a mismatch again).
          owner.checkpoint = parseCheckpoint(e.text);
          owner.text = e.text;
          return this.#handle(fresh, owner);
        }
        throw e;
      }
      const counts = { ...owner.checkpoint.counts };
      const lateDead: typeof dead = [];
      result.outcomes.forEach((outcome, i) => {
        const e = events[i] as InteractionEvent;
        if (outcome === 'applied') counts.applied++;
        else if (outcome === 'duplicate') counts.duplicates++;
        else {
          counts.late++;
          lateDead.push({ id: eventIds[i] as string, reason: `late: event time ${e.ts} is more than the allowed lateness (${this.o.lateness} ms) behind the watermark (the newest event time every live consumer of the group has reached); allow more with --lateness`, input: eventTexts[i] as string });
        }
      });
      counts.invalid += dead.length;
      // A dead consumer's checkpoint keeps its time: it stays stale, holding no watermark back.
      const checkpoint: Checkpoint = owner.self
        ? { lastId, counts, watermark: result.watermark, at: Date.now(), stream: this.o.stream }
        : { lastId, counts, watermark: result.watermark, at: owner.checkpoint.at, takenOverBy: this.o.consumer, stream: this.o.stream };
      const tx = this.state.multi();
      // A member again at every commit: one that froze past the others' patience was dropped from the set (see #takeOverDead).
      if (owner.self) tx.sadd(this.#membersKey, this.o.consumer);
      for (const w of result.writes) {
        if (w.value === null) tx.del(w.key);
        else if (w.ttlMs !== undefined) tx.set(w.key, w.value, 'PX', ttlOf(w.ttlMs));
        else tx.set(w.key, w.value);
      }
      for (const d of [...dead, ...lateDead]) tx.xadd(this.#dead, '*', 'id', d.id, 'reason', d.reason, 'event', d.input);
      const checkpointText = JSON.stringify(checkpoint);
      tx.set(owner.key, checkpointText);
      if (result.settled !== null) tx.zadd(this.#settledKey, 'GT', result.settled, 'w');
      // Checked in the same turn as EXEC is sent: the client reconnected since WATCH, so start over.
      if (this.state.status !== 'ready' || (watchedOn !== null && this.state.stream !== watchedOn)) {
        this.stats.conflicts++;
        continue;
      }
      const replies = await tx.exec();
      if (replies === null) {
        this.stats.conflicts++;
        continue;
      }
      for (const [error] of replies) if (error) throw error;
      const prev = owner.checkpoint.counts;
      this.stats.applied += counts.applied - prev.applied;
      this.stats.duplicates += counts.duplicates - prev.duplicates;
      this.stats.late += counts.late - prev.late;
      this.stats.invalid += counts.invalid - prev.invalid;
      this.stats.batches++;
      owner.checkpoint = checkpoint;
      owner.text = checkpointText;
      break;
    }
    if (owner.self) await this.o.afterCommit?.(lastId, this.stats);
    await this.#ack(fresh.map(([id]) => id));
  }

  /**
   * WATCHes the batch owner's checkpoint (a second process under the same name then fails instead of
   * applying a batch twice) and returns the minimum watermark of the group's other live consumers
   * (-Infinity while one of them has applied nothing yet). Theirs are not watched: they only grow,
   * so a stale one is lower, which is only more lenient. A checkpoint that moved because another
   * consumer took this one over, or because a consumer being taken over came back, is a
   * `CheckpointMoved`.
   */
  async #othersWatermark(owner: Owner): Promise<number | null> {
    const replies = await this.state.pipeline().watch(owner.key).smembers(this.#membersKey).exec();
    for (const [error] of replies ?? []) if (error) throw error;
    const others = ((replies?.[1]?.[1] ?? []) as string[]).filter((name) => name !== owner.name);
    const k = stateKeys(this.o.namespace);
    const [mine, ...texts] = await this.state.mget(owner.key, ...others.map((name) => k.checkpoint(this.o.group, name)));
    if ((mine ?? null) !== owner.text) {
      if (!owner.self || parseCheckpoint(mine ?? null).takenOverBy !== undefined) throw new CheckpointMoved(mine ?? null);
      throw new Error(`consumer '${this.o.consumer}' of group '${this.o.group}': its checkpoint changed under it; is another process running under the same --consumer name? give each consumer its own name`);
    }
    const since = Date.now() - (this.o.staleAfterMs ?? 30_000);
    let min: number | null = null;
    for (const text of texts) {
      const c = parseCheckpoint(text ?? null);
      if (c.at < since) continue;
      const w = c.watermark ?? -Infinity;
      min = min === null ? w : Math.min(min, w);
    }
    return min;
  }

  async #ack(ids: readonly string[]): Promise<void> {
    await this.streams.xack(this.o.stream, this.o.group, ...ids);
    this.stats.acked += ids.length;
  }
}

/** Creates the group (reading from the stream's start) and the stream if missing. */
export async function ensureGroup(client: Redis, stream: string, group: string): Promise<void> {
  try {
    await client.xgroup('CREATE', stream, group, '0', 'MKSTREAM');
  } catch (e) {
    const message = (e as Error).message;
    if (/WRONGTYPE/.test(message)) {
      const type = await client.type(stream).catch(() => 'another type');
      throw new RecsignalError('INVALID_ARGUMENT', `the key '${stream}' holds a ${type}, not a stream: point --source at a stream key (XADD <key> * event <event JSON>)`, { cause: e });
    }
    if (!/BUSYGROUP/.test(message)) throw e;
  }
}

export async function readCheckpoint(client: Redis, namespace: string, group: string, consumer: string): Promise<Checkpoint> {
  return parseCheckpoint(await client.get(stateKeys(namespace).checkpoint(group, consumer)));
}

function parseCheckpoint(text: string | null): Checkpoint {
  return text === null ? { lastId: null, counts: { applied: 0, duplicates: 0, late: 0, invalid: 0 }, watermark: null, at: 0 } : (JSON.parse(text) as Checkpoint);
}

/** Orders stream IDs (`ms-seq`). */
export function compareIds(a: string, b: string): number {
  const [am = '0', as = '0'] = a.split('-');
  const [bm = '0', bs = '0'] = b.split('-');
  const x = BigInt(am) - BigInt(bm);
  if (x !== 0n) return x < 0n ? -1 : 1;
  const y = BigInt(as) - BigInt(bs);
  return y === 0n ? 0 : y < 0n ? -1 : 1;
}

/**
 * The value after `name` in a field, value, field, value… reply (an entry's fields, XINFO's): fields
 * are looked for at even places only (a consumer may be named `idle`).
 */
function fieldOf<T>(fields: readonly T[] | null, name: string): T | undefined {
  if (fields === null) return undefined;
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}
