// The data plane's sync loop (a state machine): full load pinned to one revision -> watch from revision+1,
// re-made every watch_timeout at the same revision -> back to a full load on compaction, on a revision that
// went backwards or a changed cluster id (etcd wiped or restored). Any failure: keep serving what SQLite has,
// back off with jitter, try the next endpoint. Every full load and every watch batch is ONE store transaction;
// onApplied() then rebuilds the snapshot. The proxy never learns that etcd exists.

import { logger } from '../log/logger';
import { type EtcdClient, type WatchHandle } from './etcd-client';
import { EtcdError, type WatchMessage } from './gateway';
import { type DecodeContext, decodeObject, placeKey } from './objects';
import { type FleetChange, type FleetItem, type FleetStore, fleetRowKey } from './fleet-store';

export interface FleetSyncOptions {
  client: EtcdClient;
  store: FleetStore;
  prefix: string;
  watchTimeoutMs: number;
  decode: DecodeContext;
  /** After a commit that changed objects: rebuild the snapshot. Must not throw. */
  onApplied: () => void;
  /** Backoff bounds (ms); tests shorten them. */
  backoffBaseMs?: number;
  backoffCapMs?: number;
  random?: () => number;
}

/** What GET /v1/fleet shows (times as ISO text). */
export interface FleetSyncStatus {
  revision: number;
  last_full_sync: string | null;
  last_error: string | null;
  stale_since: string | null;
}

const BACKOFF_BASE_MS = 250;
// low enough that a fleet catches up within seconds of etcd coming back, high enough that a fleet of 1000
// data planes asks a down etcd at most ~600 times a second
const BACKOFF_CAP_MS = 3000;

/** Distinct errors logged per outage at most (messages carry addresses and reasons, a bounded set). */
const MAX_LOGGED_ERRORS = 32;

/** Why a watch ended without an error. */
type WatchEnd = 'rotate' | 'resync';

export class FleetSync {
  private stopped = false;
  private revision: number;
  private clusterId: string;
  private needFull = true;
  private loadedNow = false;
  private lastFullSync: number | null;
  private lastError: string | null = null;
  private staleSince: number | null = Date.now();
  /** Errors logged since etcd last answered: each distinct one once (hosts in turn fail alike, apache/apisix#3444). */
  private logged = new Set<string>();
  private watchHandle: WatchHandle | null = null;
  private wake: (() => void) | null = null;
  private running: Promise<void> | null = null;
  /** Failures since etcd last answered: the backoff's exponent. */
  private failures = 0;
  private waiters: Array<{ revision: number; done: (ok: boolean) => void }> = [];
  /** Counters for metrics: full loads, applied batches, failures. */
  readonly counts = { fullLoads: 0, batches: 0, errors: 0 };

  constructor(private readonly opts: FleetSyncOptions) {
    const state = opts.store.state();
    const same = state.prefix === opts.prefix;
    this.revision = same ? state.revision : 0;
    this.clusterId = same ? state.clusterId : '';
    this.lastFullSync = same ? state.lastFullSync : null;
  }

  /** Start the loop in the background; returns at once (weir serves from SQLite meanwhile). */
  start(): void {
    this.running ??= this.loop();
  }

  /** Stop watching and wait for the loop to end. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const w of this.waiters.splice(0)) w.done(false);
    this.watchHandle?.close();
    this.wake?.();
    await this.running;
  }

  /**
   * Resolves true once this process loaded from etcd and applied everything up to `revision` (a control plane
   * waits for its own write, and before a write for etcd's latest, so checks read what etcd holds); false after
   * timeoutMs.
   */
  waitForRevision(revision: number, timeoutMs: number): Promise<boolean> {
    if (this.loadedNow && this.revision >= revision) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiter = {
        revision,
        done: (ok: boolean) => {
          clearTimeout(timer);
          resolve(ok);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve(false);
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  private wakeWaiters(): void {
    if (!this.loadedNow || this.waiters.length === 0) return;
    const due = this.waiters.filter((w) => w.revision <= this.revision);
    this.waiters = this.waiters.filter((w) => w.revision > this.revision);
    for (const w of due) w.done(true);
  }

  /** Ready: objects from etcd are in the store, loaded now or by an earlier run on this file and prefix. */
  ready(): boolean {
    return this.loadedNow || this.opts.store.hasSynced(this.opts.prefix);
  }

  status(): FleetSyncStatus {
    const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
    return { revision: this.revision, last_full_sync: iso(this.lastFullSync), last_error: this.lastError, stale_since: iso(this.staleSince) };
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      try {
        if (this.needFull) await this.fullLoad();
        const end = await this.watchOnce();
        if (end === 'resync') this.needFull = true;
      } catch (err) {
        if (this.stopped) break;
        this.failures++;
        this.noteFailure(err as Error);
        this.opts.client.rotate();
        const permission = err instanceof EtcdError && (err.kind === 'permission' || err.kind === 'not_gateway');
        await this.sleep(this.backoff(permission ? 30 : this.failures));
      }
    }
  }

  private backoff(failures: number): number {
    const base = this.opts.backoffBaseMs ?? BACKOFF_BASE_MS;
    const cap = this.opts.backoffCapMs ?? BACKOFF_CAP_MS;
    const ms = Math.min(cap, base * 2 ** Math.min(failures - 1, 20));
    return Math.round(ms * (0.5 + 0.5 * (this.opts.random ?? Math.random)())); // jitter: 50-100 %
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** One log line per distinct error until etcd answers again (a down etcd must not flood the log, apache/apisix#3444). */
  private noteFailure(err: Error): void {
    this.counts.errors++;
    this.lastError = err.message;
    this.staleSince ??= Date.now();
    if (!this.logged.has(err.message) && this.logged.size < MAX_LOGGED_ERRORS) {
      logger.error('fleet: etcd sync failed; serving the last synced objects', { endpoint: this.opts.client.endpoint(), error: err.message });
      this.logged.add(err.message);
    }
  }

  private noteConnected(): void {
    this.failures = 0; // the backoff starts small again only after etcd answered
    if (this.logged.size > 0) logger.info('fleet: etcd reachable again', { endpoint: this.opts.client.endpoint() });
    this.logged.clear();
    this.lastError = null;
    this.staleSince = null;
  }

  /** Every key under the prefix at one revision -> one transaction replacing the etcd-held objects. */
  private async fullLoad(): Promise<void> {
    const { client, prefix, store } = this.opts;
    await client.checkVersion();
    const snap = await client.readPrefix(`${prefix}/`);
    if (this.stopped) return;
    if (this.clusterId !== '' && snap.header.clusterId !== this.clusterId) {
      logger.warn('fleet: etcd cluster id changed (wiped or restored): full resync', { was: this.clusterId, now: snap.header.clusterId });
    }
    const items: FleetItem[] = [];
    const keep = new Set<string>();
    const skipped = new Map<string, number>();
    for (const kv of snap.kvs) {
      const place = placeKey(prefix, kv.key);
      if ('skip' in place) {
        skipped.set(place.skip, (skipped.get(place.skip) ?? 0) + 1);
        continue;
      }
      const decoded = decodeObject(place.res, place.id, kv.value ?? '', this.opts.decode);
      if (decoded.ok) {
        items.push({ res: place.res, id: place.id, value: decoded.value, createRevision: kv.createRevision, modRevision: kv.modRevision });
      } else if ('skip' in decoded) {
        skipped.set(decoded.skip, (skipped.get(decoded.skip) ?? 0) + 1);
      } else {
        keep.add(fleetRowKey(place.res, place.id));
        logger.warn('fleet: invalid object in etcd; keeping its last valid copy', { key: kv.key, reason: decoded.invalid });
      }
    }
    const result = store.replaceAll(items, keep, { revision: snap.header.revision, clusterId: snap.header.clusterId, prefix, now: Date.now() });
    this.revision = snap.header.revision;
    this.clusterId = snap.header.clusterId;
    this.lastFullSync = Date.now();
    this.loadedNow = true;
    this.needFull = false;
    this.counts.fullLoads++;
    this.noteConnected();
    logger.info('fleet: full load from etcd', {
      endpoint: client.endpoint(),
      revision: snap.header.revision,
      objects: items.length,
      written: result.written,
      deleted: result.deleted,
      invalid: keep.size || undefined,
      skipped: skipped.size === 0 ? undefined : [...skipped].map(([why, n]) => `${why}: ${n}`).join(', '),
    });
    if (result.droppedLocal > 0) logger.warn('fleet: local objects replaced by the etcd copy', { count: result.droppedLocal });
    if (result.written + result.deleted > 0) this.opts.onApplied();
    this.wakeWaiters();
  }

  /** One watch request, from revision+1, until watch_timeout (rotate), a resync trigger, or a failure (throws). */
  private watchOnce(): Promise<WatchEnd> {
    const { client, prefix, watchTimeoutMs } = this.opts;
    return new Promise<WatchEnd>((resolve, reject) => {
      let settled = false;
      let handle: WatchHandle | null = null;
      const finish = (end: WatchEnd | Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        handle?.close();
        this.watchHandle = null;
        if (end instanceof Error) reject(end);
        else resolve(end);
      };
      const onMessage = (msg: WatchMessage): void => {
        if (settled) return;
        try {
          const end = this.onWatchMessage(msg);
          if (end !== null) finish(end);
        } catch (err) {
          finish(err as Error);
        }
      };
      // a timeout must not advance the revision: events already in the dead stream would be lost (apache/apisix#13067)
      const timer = setTimeout(() => finish('rotate'), watchTimeoutMs);
      client.watch(`${prefix}/`, this.revision + 1, onMessage).then(
        (h) => {
          handle = h;
          this.watchHandle = h;
          if (settled || this.stopped) {
            h.close();
            finish('rotate');
            return;
          }
          void h.done.then(({ error }) => finish(error ?? new EtcdError('unavailable', `${client.endpoint()}: etcd ended the watch stream`)));
        },
        (err: Error) => finish(err),
      );
    });
  }

  /** Handle one line of the watch; a non-null answer ends this watch. */
  private onWatchMessage(msg: WatchMessage): WatchEnd | Error | null {
    if (msg.kind === 'error') return new EtcdError('other', msg.message);
    if (msg.kind === 'canceled') return new EtcdError(/permission/i.test(msg.reason) ? 'permission' : 'other', `watch canceled: ${msg.reason}`);
    if (msg.kind === 'compacted') {
      logger.warn('fleet: etcd compacted past the revision weir had; full resync', { revision: this.revision, compact_revision: msg.compactRevision });
      return 'resync';
    }
    if (msg.header.clusterId !== '' && this.clusterId !== '' && msg.header.clusterId !== this.clusterId) {
      logger.warn('fleet: etcd cluster id changed (wiped or restored): full resync', { was: this.clusterId, now: msg.header.clusterId });
      this.clusterId = ''; // said once: the full load need not say it again
      return 'resync';
    }
    if (msg.header.revision < this.revision) {
      // etcd restarted from an older copy, or wiped (apache/apisix#11144)
      logger.warn('fleet: etcd revision went backwards: full resync', { had: this.revision, etcd: msg.header.revision });
      return 'resync';
    }
    if (msg.kind === 'created') {
      this.noteConnected();
      return null;
    }
    if (msg.kind === 'progress') return null;
    this.applyEvents(msg.events);
    return null;
  }

  private applyEvents(events: Extract<WatchMessage, { kind: 'events' }>['events']): void {
    const { prefix, store } = this.opts;
    const changes: FleetChange[] = [];
    let last = this.revision;
    for (const ev of events) {
      last = Math.max(last, ev.kv.modRevision);
      const place = placeKey(prefix, ev.kv.key);
      if ('skip' in place) continue;
      if (ev.type === 'delete') {
        changes.push({ res: place.res, id: place.id, item: null });
        continue;
      }
      const decoded = decodeObject(place.res, place.id, ev.kv.value ?? '', this.opts.decode);
      if (decoded.ok) {
        changes.push({ res: place.res, id: place.id, item: { res: place.res, id: place.id, value: decoded.value, createRevision: ev.kv.createRevision, modRevision: ev.kv.modRevision } });
      } else if ('skip' in decoded) {
        changes.push({ res: place.res, id: place.id, item: null }); // became HTTP-only: not weir's any more
      } else {
        logger.warn('fleet: invalid object in etcd; keeping its last valid copy', { key: ev.kv.key, reason: decoded.invalid });
      }
    }
    // the next watch starts after the last event seen, not after header.revision: etcd may send a catch-up
    // batch with the current revision in its header while more events follow
    const changed = store.applyBatch(changes, last);
    this.revision = last;
    this.counts.batches++;
    if (changed > 0) this.opts.onApplied();
    this.wakeWaiters();
  }
}
