// Keeps the DNS names in upstream nodes resolved: follows the snapshot to learn which upstreams name which
// hosts, asks DNS for each name once, again when its TTL (or dns_resolver_valid) runs out, and reports the
// upstreams whose names changed addresses, so that only those are built again (SnapshotHolder.reresolve).
// Everything runs on timers and promise callbacks, never on a connection's path. A failed resolution keeps
// the last good addresses (an upstream is never emptied by DNS) and is logged once until it works again.

import { logger } from '../log/logger';
import type { SnapshotFollower } from '../snapshot/holder';
import type { Snapshot } from '../snapshot/types';
import type { DnsAnswer, DnsClient } from './client';

/** Refresh period of answers without a TTL (the system resolver) when dns_resolver_valid is not set. */
export const SYSTEM_REFRESH_MS = 30_000;
/** Retry period after a failed resolution (or dns_resolver_valid, when shorter). */
export const RETRY_MS = 5000;
/** No name is asked more often than this, whatever its TTL (dnsmasq's local records have TTL 0). */
export const MIN_TTL_MS = 1000;
const MAX_TTL_MS = 86_400_000;

export interface NameResolverOptions {
  client: DnsClient;
  /** apisix.dns_resolver_valid in ms: overrides every answer's TTL; null: the TTL. */
  validMs: number | null;
  /** The upstreams (by key) whose names now have other addresses. Called from a promise callback, never from sync/update. */
  onChange: (keys: string[]) => void;
  /** Test seam: the floor of TTLs (default MIN_TTL_MS). */
  minTtlMs?: number;
}

interface NameEntry {
  readonly name: string;
  /** Last good addresses, sorted; null until the first answer. */
  addresses: readonly string[] | null;
  /** Keys of the upstreams naming it. */
  readonly users: Set<string>;
  timer: ReturnType<typeof setTimeout> | null;
  resolving: boolean;
  /** The last resolution failed (logged once per failure streak). */
  failing: boolean;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

export class NameResolver implements SnapshotFollower {
  private readonly names = new Map<string, NameEntry>();
  /** Upstream key -> the names its nodes use. */
  private readonly namesOf = new Map<string, readonly string[]>();
  private stopped = false;

  constructor(private readonly opts: NameResolverOptions) {}

  /** A name's last good addresses, or null before its first answer. What snapshot builds expand names with. */
  readonly addressesOf = (name: string): readonly string[] | null => this.names.get(name)?.addresses ?? null;

  /** Names being kept resolved (tests). */
  get size(): number {
    return this.names.size;
  }

  /**
   * After a build from every row: learn every upstream's names, the upstreams' and routes' own and those only a
   * route's filters hold (traffic-split's inline upstreams, keyed "<route key>#traffic-split/<rule>/<item>").
   */
  sync(snapshot: Snapshot): void {
    for (const [key, entry] of snapshot.upstreams) this.track(key, entry.upstream?.named?.names ?? []);
    const inFilters = new Set<string>();
    for (const { route } of snapshot.routeIndex.entries) {
      for (const up of route.filters.upstreams ?? []) {
        if (snapshot.upstreams.has(up.key)) continue;
        inFilters.add(up.key);
        this.track(up.key, up.named?.names ?? []);
      }
    }
    for (const key of [...this.namesOf.keys()]) if (!snapshot.upstreams.has(key) && !inFilters.has(key)) this.track(key, []);
  }

  /**
   * After an incremental build: only the upstreams under `keys` changed. (A filter's inline upstream is never
   * among them: routes with traffic-split are built from every row, and re-resolving keeps their names.)
   */
  update(snapshot: Snapshot, keys: Iterable<string>): void {
    for (const key of keys) this.track(key, snapshot.upstreams.get(key)?.upstream?.named?.names ?? []);
  }

  /** Stop every timer; answers still on their way are dropped. */
  stop(): void {
    this.stopped = true;
    for (const e of this.names.values()) if (e.timer !== null) clearTimeout(e.timer);
    this.names.clear();
    this.namesOf.clear();
  }

  private track(key: string, names: readonly string[]): void {
    const before = this.namesOf.get(key) ?? [];
    if (sameList(before, names) || this.stopped) return;
    for (const name of before) if (!names.includes(name)) this.release(name, key);
    for (const name of names) if (!before.includes(name)) this.use(name, key);
    if (names.length === 0) this.namesOf.delete(key);
    else this.namesOf.set(key, names);
  }

  private use(name: string, key: string): void {
    let e = this.names.get(name);
    if (e === undefined) {
      e = { name, addresses: null, users: new Set(), timer: null, resolving: false, failing: false };
      this.names.set(name, e);
      this.resolve(e);
    }
    e.users.add(key);
  }

  private release(name: string, key: string): void {
    const e = this.names.get(name);
    if (e === undefined) return;
    e.users.delete(key);
    if (e.users.size > 0) return;
    if (e.timer !== null) clearTimeout(e.timer);
    this.names.delete(name);
  }

  private resolve(e: NameEntry): void {
    if (this.stopped || e.resolving) return;
    e.resolving = true;
    e.timer = null;
    this.opts.client.resolve(e.name).then(
      (answer) => this.resolved(e, answer),
      (err: unknown) => this.failed(e, err),
    );
  }

  private current(e: NameEntry): boolean {
    e.resolving = false;
    return !this.stopped && this.names.get(e.name) === e;
  }

  private resolved(e: NameEntry, answer: DnsAnswer): void {
    if (!this.current(e)) return;
    const addresses = [...new Set(answer.addresses)].sort();
    const changed = e.addresses === null || !sameList(e.addresses, addresses);
    if (e.failing) logger.info('dns name resolves again', { name: e.name, addresses: addresses.join(',') });
    e.failing = false;
    e.addresses = addresses;
    this.schedule(e, this.opts.validMs ?? answer.ttlMs ?? SYSTEM_REFRESH_MS);
    if (!changed) return;
    logger.info('dns name resolved', { name: e.name, addresses: addresses.join(','), upstreams: e.users.size });
    this.opts.onChange([...e.users]);
  }

  private failed(e: NameEntry, err: unknown): void {
    if (!this.current(e)) return;
    if (!e.failing) {
      e.failing = true;
      const error = (err as { code?: string }).code ?? (err as Error).message;
      const keeping = e.addresses === null ? 'none yet (the name is resolved per connection)' : e.addresses.join(',');
      logger.warn('dns resolution failed; keeping the last addresses', { name: e.name, error, addresses: keeping });
    }
    this.schedule(e, Math.min(this.opts.validMs ?? RETRY_MS, RETRY_MS));
  }

  private schedule(e: NameEntry, ms: number): void {
    const delay = Math.min(MAX_TTL_MS, Math.max(this.opts.minTtlMs ?? MIN_TTL_MS, ms));
    e.timer = setTimeout(() => this.resolve(e), delay);
    (e.timer as { unref?: () => void }).unref?.();
  }
}
