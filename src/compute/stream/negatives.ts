/**
 * @module The bookkeeping of derived negatives ("an impression not followed by a play within a
 * timeout"), per user × item pair: the times of its plays, and its impressions still waiting for
 * their timeout (each already counted in its view, at ts + timeout, until a play answers it). Both
 * are forgotten pair by pair once no read from the fold horizon on can need them.
 */
import { KEY_SEPARATOR } from '../../events/schema.ts';
import type { FeatureViewIR } from '../../features/ir.ts';

export interface PendingNegative {
  readonly view: string;
  readonly key: string;
  readonly eventId: string;
  /** The impression's time; the derived event happens at ts + timeout. */
  readonly ts: number;
}

/** Whether a play at `ts` answers the pending impression `p` of view `view` (shown in [ts − timeout, ts)). */
function answers(p: PendingNegative, view: string, ts: number, timeout: number): boolean {
  return p.view === view && p.ts < ts && ts <= p.ts + timeout;
}

export class NegativesLedger {
  /** Plays by pair; impressions waiting for their timeout by pair. */
  readonly plays = new Map<string, number[]>();
  readonly pending = new Map<string, PendingNegative[]>();
  /** Pairs in the order events reached them, with those times: what `forget` looks at. */
  private queue: string[] = [];
  private queueTs: number[] = [];
  private head = 0;

  /** @param maxTimeout the longest timeout of any negatives view: how long a play or an impression can matter */
  constructor(readonly maxTimeout: number) {}

  /** An event of the pair at `ts` (a play or an impression): the pair is looked at again once `ts` is past the horizon. */
  touch(pair: string, ts: number): void {
    this.queue.push(pair);
    this.queueTs.push(ts);
  }

  /**
   * A play of the pair at `ts`, of the play types numbered `types` (views whose play types differ
   * must not see each other's plays: a `complete` is no play to a view that waits for `play`).
   * Kept by the pair for the first set of play types, by the pair and the set's number for others
   * (a key of its own, forgotten as pairs are).
   */
  addPlay(pair: string, ts: number, types = 0): void {
    const key = playsKey(pair, types);
    if (types !== 0) this.touch(key, ts);
    const plays = this.plays.get(key);
    if (plays === undefined) this.plays.set(key, [ts]);
    else plays.push(ts);
  }

  /** Whether the pair has a play (of the play types numbered `types`) in (ts, ts + timeout]: then an impression at ts is no negative. */
  playedWithin(pair: string, ts: number, timeout: number, types = 0): boolean {
    const plays = this.plays.get(playsKey(pair, types));
    if (plays === undefined) return false;
    for (let i = 0; i < plays.length; i++) {
      const p = plays[i] as number;
      if (p > ts && p <= ts + timeout) return true;
    }
    return false;
  }

  addPending(pair: string, p: PendingNegative): void {
    const list = this.pending.get(pair);
    if (list === undefined) this.pending.set(pair, [p]);
    else list.push(p);
  }

  /**
   * Takes out the impressions of `view` that a play at `ts` answers (shown in [ts − timeout, ts)),
   * and returns them (empty when none): their view must drop their derived rows.
   */
  answered(pair: string, view: string, ts: number, timeout: number): readonly PendingNegative[] {
    const list = this.pending.get(pair);
    if (list === undefined) return NONE;
    let any = false;
    for (let i = 0; i < list.length && !any; i++) any = answers(list[i] as PendingNegative, view, ts, timeout);
    if (!any) return NONE;
    const kept: PendingNegative[] = [];
    const out: PendingNegative[] = [];
    for (let i = 0; i < list.length; i++) {
      const p = list[i] as PendingNegative;
      (answers(p, view, ts, timeout) ? out : kept).push(p);
    }
    this.pending.set(pair, kept);
    return out;
  }

  /** Forgets plays and pending impressions no read from `horizon` on can need, pair by pair as their times pass. */
  forget(horizon: number): void {
    const maxTimeout = this.maxTimeout;
    const q = this.queue;
    const qts = this.queueTs;
    while (this.head < q.length && (qts[this.head] as number) + maxTimeout < horizon) {
      const pair = q[this.head++] as string;
      // A pair is queued once per event, so most visits find it already pruned: count before copying.
      const plays = this.plays.get(pair);
      if (plays !== undefined) {
        let kept = 0;
        for (let i = 0; i < plays.length; i++) if ((plays[i] as number) >= horizon - maxTimeout) kept++;
        if (kept === 0) this.plays.delete(pair);
        else if (kept < plays.length) this.plays.set(pair, plays.filter((p) => p >= horizon - maxTimeout));
      }
      const list = this.pending.get(pair);
      if (list !== undefined) {
        let kept = 0;
        for (let i = 0; i < list.length; i++) if ((list[i] as PendingNegative).ts + maxTimeout >= horizon) kept++;
        if (kept === 0) this.pending.delete(pair);
        else if (kept < list.length) this.pending.set(pair, list.filter((p) => p.ts + maxTimeout >= horizon));
      }
    }
    if (this.head > 65_536 && this.head * 2 > q.length) {
      this.queue = q.slice(this.head);
      this.queueTs = qts.slice(this.head);
      this.head = 0;
    }
  }

  /** Adopts a snapshot's plays and pending impressions; each pair is queued at its oldest time, so the first forget past it prunes it. */
  restore(plays: readonly [string, number[]][], pending: readonly [string, PendingNegative[]][]): void {
    for (const [k, v] of plays) {
      this.plays.set(k, v);
      this.touch(k, v.length === 0 ? -Infinity : v.reduce((m, x) => Math.min(m, x), Infinity));
    }
    for (const [k, v] of pending) {
      this.pending.set(k, v);
      this.touch(k, v.length === 0 ? -Infinity : v.reduce((m, p) => Math.min(m, p.ts), Infinity));
    }
  }
}

const NONE: readonly PendingNegative[] = [];

/** The ledger's key of a pair's plays of the play types numbered `types`: one more key column. */
export function playsKey(pair: string, types: number): string {
  return types === 0 ? pair : `${pair}${PLAYS_COLUMN}${types}`;
}

const PLAYS_COLUMN = `${KEY_SEPARATOR}plays:`;

/** The pair of a ledger key (`playsKey`'s inverse). */
export function pairOfKey(key: string): string {
  const i = key.indexOf(PLAYS_COLUMN);
  return i < 0 ? key : key.slice(0, i);
}

/** A view's set of play types as one text: views with the same text share their plays (the engine numbers the sets in view order). */
export function playSetOf(playTypes: readonly string[]): string {
  return [...new Set(playTypes)].sort().join(KEY_SEPARATOR);
}

/** How many distinct sets of play types a feature set's impression_not_played views wait for (the ledger keeps plays by set). */
export function playSetCount(views: readonly FeatureViewIR[]): number {
  const sets = new Set<string>();
  for (const v of views) if (v.kind === 'aggregation' && v.stream.kind === 'impression_not_played') sets.add(playSetOf(v.stream.playTypes));
  return sets.size;
}
