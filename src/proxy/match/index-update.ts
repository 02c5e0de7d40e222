// Route index updates: a copy of a RouteIndex with a few routes replaced, added or removed, that shares every
// bucket the change does not touch. A store write pays for the routes it changed, not for compileRouteIndex
// over all of them (about 2-5 ms at 10,000 routes). Matching reads the result exactly like a compiled index.

import type { CompiledRoute } from '../../snapshot/types';
import { type Entry, type PortBucket, type RouteIndex, type RouteRule, compileRouteIndex, newBucket } from './route';

/** Route precedence: id byte order (ids are ASCII, so code-unit order is byte order). */
function idBefore(a: string, b: string): boolean {
  return a < b;
}

/** Two new entries at one position: by id. */
function idOrder(a: Entry | null, b: Entry | null): number {
  if (a === null || b === null) return 0;
  return idBefore(a.route.id, b.route.id) ? -1 : idBefore(b.route.id, a.route.id) ? 1 : 0;
}

/** Position of the first entry whose route id is not before `id` (entries are in precedence order). */
function lowerBound(entries: readonly Entry[], id: string): number {
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (idBefore(entries[mid]!.route.id, id)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The route with this id in an index (binary search over its entries, which are in id order), or undefined. */
export function findRoute(index: RouteIndex, id: string): CompiledRoute | undefined {
  const entries = index.entries;
  const i = lowerBound(entries, id);
  return i < entries.length && entries[i]!.route.id === id ? entries[i]!.route : undefined;
}

/** Position in `list` (ascending order) where an entry of order `order` goes. */
function insertAt(list: readonly Entry[], order: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]!.order < order) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Copy-on-write edits of one index: each container (bucket, map, list) is copied the first time this edit
 * changes it, and written in place after that. Containers of the previous index are never written.
 */
class IndexEdit {
  private readonly owned = new Set<object>();
  readonly index: RouteIndex;

  constructor(prev: RouteIndex, entries: readonly Entry[]) {
    this.index = { ...prev, entries };
  }

  private own<T extends object>(x: T, copy: (x: T) => T): T {
    if (this.owned.has(x)) return x;
    const y = copy(x);
    this.owned.add(y);
    return y;
  }
  private ownList<T>(list: T[]): T[] {
    return this.own(list, (l) => l.slice());
  }
  private ownMap<K, V>(map: Map<K, V>): Map<K, V> {
    return this.own(map, (m) => new Map(m));
  }
  private fresh<T extends object>(x: T): T {
    this.owned.add(x);
    return x;
  }

  /** Run `change` on the writable list(s) where `e` lives or goes; empty lists, buckets and levels are dropped. */
  private edit(e: Entry, change: (list: Entry[]) => void): void {
    if (e.snis) {
      for (const pattern of new Set(e.snis)) this.editSni(pattern, change);
      return;
    }
    if (e.sni !== null) return this.editSni(e.sni, change);
    if (e.remote === null) {
      const bucket = (this.index.noRemote = this.own(this.index.noRemote, (b) => ({ ...b })));
      this.editBucket(bucket, e.port, change);
      return;
    }
    if (e.remote.family === 4) {
      this.index.v4 = this.ownList(this.index.v4);
      this.editLevel(this.index.v4, e.remote.prefix, e.remote.v4, e.port, change);
    } else {
      this.index.v6 = this.ownList(this.index.v6);
      this.editLevel(this.index.v6, e.remote.prefix, e.remote.v6key, e.port, change);
    }
  }

  private editLevel<K>(levels: { prefix: number; map: Map<K, PortBucket> }[], prefix: number, key: K, port: number, change: (list: Entry[]) => void): void {
    let i = levels.findIndex((l) => l.prefix === prefix);
    if (i < 0) i = levels.push(this.fresh({ prefix, map: this.fresh(new Map<K, PortBucket>()) })) - 1;
    const level = (levels[i] = this.own(levels[i]!, (l) => ({ prefix: l.prefix, map: l.map })));
    const map = (level.map = this.ownMap(level.map));
    const old = map.get(key);
    const bucket = old === undefined ? this.fresh(newBucket()) : this.own(old, (b) => ({ ...b }));
    map.set(key, bucket);
    this.editBucket(bucket, port, change);
    if (bucket.any.length === 0 && bucket.byPort.size === 0) map.delete(key);
    if (map.size === 0) levels.splice(i, 1);
  }

  private editBucket(bucket: PortBucket, port: number, change: (list: Entry[]) => void): void {
    if (port === 0) {
      change((bucket.any = this.ownList(bucket.any)));
      return;
    }
    const byPort = (bucket.byPort = this.ownMap(bucket.byPort));
    const old = byPort.get(port);
    const list = old === undefined ? this.fresh<Entry[]>([]) : this.ownList(old);
    change(list);
    if (list.length === 0) byPort.delete(port);
    else byPort.set(port, list);
  }

  /** `size` counts the values under all patterns (compileRouteIndex adds one per distinct pattern). */
  private editSni(pattern: string, change: (list: Entry[]) => void): void {
    const table = (this.index.sni = this.own(this.index.sni, (t) => ({ ...t })));
    let list: Entry[];
    if (pattern === '*') {
      list = table.star = this.ownList(table.star);
      const before = list.length;
      change(list);
      table.size += list.length - before;
      return;
    }
    const wild = pattern.startsWith('*.');
    const map = wild ? (table.wild = this.ownMap(table.wild)) : (table.exact = this.ownMap(table.exact));
    const key = wild ? pattern.slice(1) : pattern;
    const old = map.get(key);
    list = old === undefined ? this.fresh<Entry[]>([]) : this.ownList(old);
    const before = list.length;
    change(list);
    table.size += list.length - before;
    if (list.length === 0) map.delete(key);
    else map.set(key, list);
  }

  remove(e: Entry): void {
    this.edit(e, (list) => {
      const i = list.indexOf(e);
      if (i >= 0) list.splice(i, 1);
    });
  }

  insert(e: Entry): void {
    this.edit(e, (list) => list.splice(insertAt(list, e.order), 0, e));
  }
}

/** One change to the entry list: drop the old entry at `at`, or put `entry` before the old entry at `at`. */
interface Event {
  at: number;
  entry: Entry | null;
}

/**
 * A copy of `prev` without the routes whose ids are in `remove` and with `add` put in (an id in both is a
 * replaced route). Precedence is route id byte order, the order compileRouteIndex's caller (the snapshot
 * build) gives. Runs once per store change; `prev` is not modified and stays usable.
 * The buckets a few changes touch are copied and edited; when many routes change (more than a sixteenth),
 * or a new route cannot get an order between its neighbours (after about 50 inserts into the same gap),
 * the whole index is compiled again, which renumbers.
 */
export function updateRouteIndex(prev: RouteIndex, remove: ReadonlySet<string>, add: readonly RouteRule[]): RouteIndex {
  const old = prev.entries;
  // Positions in the old list, found by binary search: an entry dropped at i, a new one put before i.
  const droppedAt = new Set<number>();
  const drop = (id: string): void => {
    const i = lowerBound(old, id);
    if (i < old.length && old[i]!.route.id === id) droppedAt.add(i);
  };
  for (const id of remove) drop(id);
  for (const rule of add) drop(rule.route.id);
  const dropped = [...droppedAt].map((i) => old[i]!);
  const added = add.map((rule): Entry => ({ ...rule, order: NaN }));
  const events: Event[] = [
    ...[...droppedAt].map((at) => ({ at, entry: null })),
    ...added.map((entry) => ({ at: lowerBound(old, entry.route.id), entry })),
  ];
  // by position; at one position the new entries first (by id), then the old one dropped there
  events.sort((a, b) => a.at - b.at || (a.entry === null ? 1 : 0) - (b.entry === null ? 1 : 0) || idOrder(a.entry, b.entry));

  if (events.length > Math.max(64, old.length >> 4)) return compileRouteIndex(mergeEntries(old, events));
  // a copy of the old list, spliced from the last event back so positions hold (slice and splice copy
  // natively: a write stays cheap before the JIT has warmed up to this code)
  const entries = old.slice();
  for (let k = events.length - 1; k >= 0; k--) {
    const { at, entry } = events[k]!;
    if (entry === null) entries.splice(at, 1);
    else entries.splice(at, 0, entry);
  }
  const addedAt = added.map((e) => lowerBound(entries, e.route.id)).sort((a, b) => a - b);
  if (!assignOrders(entries, addedAt, dropped)) return compileRouteIndex(entries);

  const edit = new IndexEdit(prev, entries);
  for (const e of dropped) edit.remove(e);
  for (const e of added) edit.insert(e);
  return edit.index;
}

/** The new entry list in one pass: ranges of the old one copied between the (sorted) events. */
function mergeEntries(old: readonly Entry[], events: readonly Event[]): Entry[] {
  const out: Entry[] = [];
  let from = 0;
  for (const { at, entry } of events) {
    for (let i = from; i < at; i++) out.push(old[i]!);
    from = Math.max(from, at);
    if (entry !== null) out.push(entry);
    else from = at + 1; // skip the dropped one
  }
  for (let i = from; i < old.length; i++) out.push(old[i]!);
  return out;
}

/**
 * Give each new entry (order NaN) an order between its neighbours': a replaced route keeps its old order
 * when that still fits, an appended one takes the last order + 1, others the midpoint. False when a
 * midpoint cannot be told apart from its ends any more.
 */
function assignOrders(entries: Entry[], addedAt: readonly number[], dropped: readonly Entry[]): boolean {
  const previous = new Map(dropped.map((e) => [e.route.id, e.order]));
  // positions ascending: the left neighbour always has its order already
  for (const i of addedAt) {
    const e = entries[i]!;
    const lo = i === 0 ? -Infinity : entries[i - 1]!.order;
    let hi = Infinity;
    for (let k = i + 1; k < entries.length; k++) {
      if (!Number.isNaN(entries[k]!.order)) {
        hi = entries[k]!.order;
        break;
      }
    }
    const kept = previous.get(e.route.id);
    let order: number;
    if (kept !== undefined && lo < kept && kept < hi) order = kept;
    else if (hi === Infinity) order = lo === -Infinity ? 0 : Math.floor(lo) + 1;
    else if (lo === -Infinity) order = hi - 1;
    else order = lo + (hi - lo) / 2;
    if (!(lo < order && order < hi)) return false;
    e.order = order;
  }
  return true;
}
