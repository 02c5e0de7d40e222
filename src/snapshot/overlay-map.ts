// The snapshot's compile caches as read-only maps that share their entries with the snapshots before them:
// a large base map plus this snapshot's own changes on top. A store write then costs its changes, not a
// copy of every entry (copying a 10,000-entry Map takes Node about 1 ms). Builds read these maps (through a
// Pending view while they build); the connection path never does.

const GONE = Symbol('gone');
type Slot<V> = V | typeof GONE;

const EMPTY: ReadonlyMap<never, never> = new Map<never, never>();

/** Changes past this share of the base (and at least MIN_OVERLAY) are folded into a new base. */
const FOLD_SHARE = 8;
const MIN_OVERLAY = 64;

/**
 * A ReadonlyMap made of a base map that is never written and an overlay of changed and deleted keys.
 * Iteration: the base's entries still present, then the overlay's, each in insertion order. Immutable:
 * with() returns a new map and leaves this one as it was.
 */
export class OverlayMap<K, V> implements ReadonlyMap<K, V> {
  private constructor(
    private readonly base: ReadonlyMap<K, V>,
    private readonly over: ReadonlyMap<K, Slot<V>>,
    readonly size: number,
  ) {}

  static empty<K, V>(): OverlayMap<K, V> {
    return new OverlayMap<K, V>(EMPTY, EMPTY, 0);
  }

  /** A map over `entries`, which it takes over: the caller must not write it afterwards (a full build's result). */
  static adopt<K, V>(entries: Map<K, V>): OverlayMap<K, V> {
    return new OverlayMap<K, V>(entries, EMPTY, entries.size);
  }

  get(key: K): V | undefined {
    const o = this.over.get(key);
    if (o !== undefined) return o === GONE ? undefined : o;
    return this.base.get(key);
  }

  has(key: K): boolean {
    const o = this.over.get(key);
    return o !== undefined ? o !== GONE : this.base.has(key);
  }

  /**
   * This map with `changes` applied (a value of undefined deletes the key). Costs the changes plus a copy of
   * the overlay; once the overlay outgrows its share of the base, everything is folded into a new base.
   */
  with(changes: ReadonlyMap<K, V | undefined>): OverlayMap<K, V> {
    if (changes.size === 0) return this;
    const over = new Map(this.over);
    let size = this.size;
    for (const [key, value] of changes) {
      const had = this.has(key);
      if (value === undefined) {
        if (had) size--;
        if (this.base.has(key)) over.set(key, GONE);
        else over.delete(key);
      } else {
        if (!had) size++;
        over.set(key, value);
      }
    }
    if (over.size <= Math.max(MIN_OVERLAY, this.base.size / FOLD_SHARE)) return new OverlayMap(this.base, over, size);
    const folded = new Map<K, V>();
    for (const [key, value] of this.base) {
      if (!over.has(key)) folded.set(key, value);
    }
    for (const [key, value] of over) if (value !== GONE) folded.set(key, value);
    return new OverlayMap(folded, EMPTY, folded.size);
  }

  *entries(): MapIterator<[K, V]> {
    for (const entry of this.base) if (!this.over.has(entry[0])) yield entry;
    for (const [key, value] of this.over) if (value !== GONE) yield [key, value];
  }

  *keys(): MapIterator<K> {
    for (const [key] of this.entries()) yield key;
  }

  *values(): MapIterator<V> {
    for (const [, value] of this.entries()) yield value;
  }

  forEach(fn: (value: V, key: K, map: ReadonlyMap<K, V>) => void, thisArg?: unknown): void {
    for (const [key, value] of this.entries()) fn.call(thisArg, value, key, this);
  }

  [Symbol.iterator](): MapIterator<[K, V]> {
    return this.entries();
  }
}

/**
 * One of a build's maps while it is being built: the previous snapshot's map, read as it is, and this build's
 * changes (undefined = deleted) beside it. result() is the new snapshot's map; the previous one is never written.
 */
export class Pending<K, V> {
  private readonly changes = new Map<K, V | undefined>();
  /** A full build: every entry is in `changes` (one lookup per read: this runs ~10 times per row). */
  private readonly full: boolean;
  constructor(private readonly base: OverlayMap<K, V>) {
    this.full = base.size === 0;
  }
  get(key: K): V | undefined {
    const value = this.changes.get(key);
    if (value !== undefined || this.full) return value;
    return this.changes.has(key) ? undefined : this.base.get(key);
  }
  has(key: K): boolean {
    return this.get(key) !== undefined;
  }
  set(key: K, value: V): void {
    if (this.get(key) !== value) this.changes.set(key, value);
  }
  delete(key: K): void {
    if (this.has(key)) this.changes.set(key, undefined);
  }
  *entries(): Generator<[K, V]> {
    for (const entry of this.base) if (!this.changes.has(entry[0])) yield entry;
    for (const [key, value] of this.changes) if (value !== undefined) yield [key, value];
  }
  keys(): K[] {
    return [...this.entries()].map(([key]) => key);
  }
  result(): OverlayMap<K, V> {
    if (!this.full) return this.base.with(this.changes);
    // a full build: the changes are the whole map, kept as they are (no copy)
    for (const [key, value] of this.changes) if (value === undefined) this.changes.delete(key);
    return OverlayMap.adopt(this.changes as Map<K, V>);
  }
}

/** A snapshot's map as an OverlayMap (every built snapshot has them; anything else is copied once). */
export function overlay<K, V>(map: ReadonlyMap<K, V> | undefined): OverlayMap<K, V> {
  if (map instanceof OverlayMap) return map as OverlayMap<K, V>;
  return OverlayMap.empty<K, V>().with(new Map(map ?? []));
}
