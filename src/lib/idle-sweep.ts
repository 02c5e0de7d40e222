// Idle timeouts for many proxied connections with one timer per distinct timeout instead of one per connection:
// a per-connection setInterval would be an allocation and a timer-heap entry each. Used by the Bun TCP plane;
// plain timers only, nothing here differs by runtime.

/** Something that can go idle: the pump bumps `activity` per chunk; the sweeper reads it on its tick. */
export interface IdleTracked {
  activity: number;
  seenActivity: number;
  quietSince: number;
  /** The sweeper's bookkeeping (which timeout group holds the item); null when not tracked. */
  idleGroup: object | null;
  /** Called once from a sweep when nothing moved for the timeout; the item must remove() itself. */
  onIdle(): void;
}

interface Bucket {
  readonly idleMs: number;
  readonly items: Set<IdleTracked>;
  timer: ReturnType<typeof setInterval> | null;
}

/** How often an idle timeout is checked: timeout/16, within 10 ms .. 60 s (both data planes use it). */
export function idleTickMs(idleMs: number): number {
  return Math.max(10, Math.min(idleMs / 16, 60_000));
}

/**
 * Groups items by their timeout. Each group ticks every timeout/16 (10 ms .. 60 s), so an idle item is
 * closed between 1 and 1.0625 timeouts after its last byte: within the 10 % HAProxy and nginx users expect
 * (the reliability campaign's R6 measured /8 at up to 13 % late). A tick visits its group once, so even
 * 10,000 idle connections on the default 600 s timeout cost one pass every 37.5 s. A group's timer stops on a tick that finds it
 * empty, so a busy-then-quiet process does not keep waking up, and short-lived connections do not create timers.
 */
export class IdleSweeper {
  private readonly buckets = new Map<number, Bucket>();

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
    if (bucket.timer === null) {
      const step = idleTickMs(idleMs);
      bucket.timer = setInterval(sweep, step, this, bucket);
      bucket.timer.unref?.();
    }
  }

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

  /** @internal */
  stopBucket(bucket: Bucket): void {
    if (bucket.timer !== null) clearInterval(bucket.timer);
    bucket.timer = null;
    this.buckets.delete(bucket.idleMs);
  }
}

function sweep(sweeper: IdleSweeper, bucket: Bucket): void {
  if (bucket.items.size === 0) return sweeper.stopBucket(bucket);
  const now = Date.now();
  let idle: IdleTracked[] | null = null;
  for (const item of bucket.items) {
    if (item.activity !== item.seenActivity) {
      item.seenActivity = item.activity;
      item.quietSince = now;
    } else if (now - item.quietSince >= bucket.idleMs) {
      (idle ??= []).push(item);
    }
  }
  // called after the walk: onIdle() removes the item from the set being walked
  if (idle !== null) for (const item of idle) item.onIdle();
}
