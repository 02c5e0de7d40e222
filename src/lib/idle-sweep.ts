// Idle timeouts for many proxied connections with one timer per distinct timeout instead of one per connection:
// a per-connection timer would be an allocation and a timer-heap entry each. Used by both TCP planes; plain
// timers only, nothing here differs by runtime.

/** Something that can go idle: the pump bumps `activity` per chunk; the sweeper reads it on its walks. */
export interface IdleTracked {
  activity: number;
  seenActivity: number;
  quietSince: number;
  /** The sweeper's bookkeeping (which timeout group holds the item); null when not tracked. */
  idleGroup: object | null;
  /** Called once from a walk when nothing moved for the timeout; the item must remove() itself. */
  onIdle(): void;
}

/**
 * How often a group walks its items to notice activity: timeout/32, within 10 ms .. 60 s. An item is closed at
 * most one step (3.1 %) after its timeout, plus event-loop delay.
 */
export function idleTickMs(idleMs: number): number {
  return Math.max(10, Math.min(idleMs / 32, 60_000));
}

/** What one walk decided: the items idle now (null: none), and when the group should walk next. */
export interface SweepResult {
  idle: IdleTracked[] | null;
  nextAt: number;
}

/**
 * One walk over a group at `now`. An item whose counter moved since the last walk was active at some time after
 * that walk; its quiet time restarts now (never earlier: nothing closes before its timeout). An item quiet for
 * `idleMs` is idle. The next walk is due one step from now, or at the earliest deadline of the others when that
 * comes first, so a deadline does not wait for a step boundary (the old fixed interval added up to a step, plus
 * the drift of a re-armed interval). A quarter step is the least gap, so deadlines spread over time cannot make
 * walks continuous. Pure but for the items' own bookkeeping fields; the caller closes the idle ones.
 */
export function sweepItems(items: Iterable<IdleTracked>, idleMs: number, now: number): SweepResult {
  const step = idleTickMs(idleMs);
  let idle: IdleTracked[] | null = null;
  let earliest = Infinity;
  for (const item of items) {
    if (item.activity !== item.seenActivity) {
      item.seenActivity = item.activity;
      item.quietSince = now;
    } else if (now - item.quietSince >= idleMs) {
      (idle ??= []).push(item);
      continue;
    }
    if (item.quietSince < earliest) earliest = item.quietSince;
  }
  const nextAt = Math.min(now + step, Math.max(earliest + idleMs, now + step / 4));
  return { idle, nextAt };
}

interface Bucket {
  readonly idleMs: number;
  readonly items: Set<IdleTracked>;
  timer: ReturnType<typeof setTimeout> | null;
}

/**
 * Groups items by their timeout; each group has one timer, armed by its last walk (sweepItems). A group's timer
 * stops on a walk that finds it empty, so a busy-then-quiet process does not keep waking up, and short-lived
 * connections do not create timers. A walk visits its group once: 10,000 idle connections on the default 600 s
 * timeout cost one pass every 18.75 s.
 */
export class IdleSweeper {
  private readonly buckets = new Map<number, Bucket>();

  /** Track an item from now (its pipe started). Runs once per connection. */
  add(item: IdleTracked, idleMs: number): void {
    let bucket = this.buckets.get(idleMs);
    if (bucket === undefined) {
      bucket = { idleMs, items: new Set(), timer: null };
      this.buckets.set(idleMs, bucket);
    }
    item.seenActivity = item.activity;
    item.quietSince = Date.now();
    bucket.items.add(item);
    item.idleGroup = bucket; // on the item itself: a WeakMap entry per connection costs more
    // the first item of a group: its deadline is a whole timeout away, so the regular step is early enough
    if (bucket.timer === null) this.arm(bucket, idleTickMs(idleMs));
  }

  /** Stop tracking (the connection ended). Safe to call twice. */
  remove(item: IdleTracked): void {
    const bucket = item.idleGroup as Bucket | null;
    if (bucket !== null) bucket.items.delete(item);
    item.idleGroup = null;
  }

  /** Items tracked now (tests, stats). */
  size(): number {
    let n = 0;
    for (const b of this.buckets.values()) n += b.items.size;
    return n;
  }

  /** @internal the group's timer fired */
  walk(bucket: Bucket): void {
    bucket.timer = null;
    if (bucket.items.size === 0) {
      this.buckets.delete(bucket.idleMs);
      return;
    }
    const now = Date.now();
    const { idle, nextAt } = sweepItems(bucket.items, bucket.idleMs, now);
    // called after the walk: onIdle() removes the item from the set being walked
    if (idle !== null) for (const item of idle) item.onIdle();
    if (this.buckets.get(bucket.idleMs) === bucket) this.arm(bucket, nextAt - now);
  }

  private arm(bucket: Bucket, delay: number): void {
    bucket.timer = setTimeout(walkBucket, Math.max(1, delay), this, bucket);
    (bucket.timer as { unref?: () => void }).unref?.();
  }
}

function walkBucket(sweeper: IdleSweeper, bucket: Bucket): void {
  sweeper.walk(bucket);
}
