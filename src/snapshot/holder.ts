// The one reference to the snapshot new connections use, and how it moves forward: read what changed in
// the store, build the next snapshot from the current one, bring health in line, then swap the reference.
// With a FilterCompiler (weir start) the snapshot is the served one: services merged into their routes and
// the routes' plugins compiled (src/plugins/snapshot.ts). Incremental updates apply only to stores that use
// neither services nor plugin_metadata (nor traffic-split naming upstreams): a change touching those, or any
// change while the last full read saw them, is applied by a full served rebuild. [weir] The snapshot also carries
// the stream_listeners rows, which the listener side binds (src/control/listener-sync.ts). After every swap the
// compiler disposes the filters no longer served and lets the metrics forget what is gone (FilterCompiler.afterSwap).

import { logger } from '../log/logger';
import { isKeyringProblem } from './ssl';
import type { StoreChanges, StoreContents } from '../store/types';
import { type BuildDeps, type BuildResult, buildSnapshot, emptySnapshot, schemaDeps, updateResolved, updateSnapshot } from './build';
import type { AddressesOf } from '../dns/expand';
import type { Snapshot } from './types';
import type { FilterCompiler } from '../plugins/compile';
import { buildServedSnapshot, changeNeedsFullBuild, needsFullBuilds } from '../plugins/snapshot';

/** Where the holder reads rows (src/store/store.ts implements it). */
export interface SnapshotSource {
  readAll(): StoreContents;
  readChanges(since: number, maxChanges: number): StoreChanges | null;
}

/** What keeps running state beside the snapshot in step with it (src/health/registry.ts). */
export interface SnapshotFollower {
  /** After a build from every row. */
  sync(snapshot: Snapshot): void;
  /** After an update that changed only the upstreams under `keys`. */
  update(snapshot: Snapshot, keys: Iterable<string>): void;
}

export interface HolderOptions {
  /** Synced before each new snapshot serves (the health registry). */
  follower?: SnapshotFollower | null;
  /** apisix.ssl.ssl_trusted_certificate, for upstream tls.verify; fixed for the process. */
  trustedCa?: string | null;
  /** Test seam: the schema functions the build uses (ignored with a compiler, whose deps the build uses). */
  deps?: BuildDeps;
  /** The current addresses of node names (src/dns/resolver.ts): builds expand names with it. */
  addressesOf?: AddressesOf | null;
  /** Compiles the routes' plugins: the holder builds served snapshots (services merged in). Absent: no plugins. */
  compiler?: FilterCompiler | null;
  /** Where a problem goes the first time it is seen (default: a warning in the error log). */
  warn?: (problem: string) => void;
  /**
   * Changes applied on top of the current snapshot at most; more (a large import) and the holder reads
   * everything, which is then cheaper. Default 1000, the length of the store's change log.
   */
  maxChanges?: number;
}

export const DEFAULT_MAX_CHANGES = 1000;

/** Several followers as one, called in the order given (health first, then the DNS names). */
export function followAll(...list: SnapshotFollower[]): SnapshotFollower {
  return {
    sync: (snapshot) => list.forEach((f) => f.sync(snapshot)),
    update: (snapshot, keys) => {
      const once = [...keys];
      list.forEach((f) => f.update(snapshot, once));
    },
  };
}

/** Builds done so far, by kind (tests and the log). */
export interface HolderStats {
  full: number;
  incremental: number;
}

/**
 * Owns the current Snapshot. `snapshot` is what the data plane calls per new connection: one field read.
 * A refresh builds the next snapshot from the current one and the rows changed since its revision
 * (src/store/store.ts readChanges), or from every row when the change log does not reach back that far.
 * Problems are logged when a row first has them, not again on every rebuild. Not reentrant; synchronous.
 */
export class SnapshotHolder {
  private current: Snapshot = emptySnapshot();
  readonly stats: HolderStats = { full: 0, incremental: 0 };
  private readonly warn: (problem: string) => void;
  private readonly deps: BuildDeps | undefined;
  /** The last full read saw services, plugin_metadata or routes depending on them: every change rebuilds fully. */
  private fullOnly = false;

  constructor(
    private readonly source: SnapshotSource,
    private readonly opts: HolderOptions = {},
  ) {
    // a certificate out of service for want of a keyring entry is an error, not a skipped row to glance at
    this.warn = opts.warn ?? ((problem) => (isKeyringProblem(problem) ? logger.error(problem) : logger.warn(problem)));
    // the compiler's deps validate routes with the enabled plugins and compile their filters
    const base = opts.compiler?.deps ?? opts.deps;
    this.deps = opts.addressesOf ? { ...(base ?? schemaDeps), addressesOf: opts.addressesOf } : base;
  }

  /** The snapshot new connections use now. */
  readonly snapshot = (): Snapshot => this.current;

  /** Read every row and swap (start-up; also the fallback of refresh). */
  load(): Snapshot {
    const contents = this.source.readAll();
    const tls = { trustedCa: this.opts.trustedCa };
    const compiler = this.opts.compiler ?? null;
    const result = compiler === null ? buildSnapshot(contents, this.current, this.deps, tls) : buildServedSnapshot(contents, this.current, compiler, tls, this.deps);
    this.fullOnly = compiler !== null && needsFullBuilds(contents);
    this.stats.full++;
    return this.swap(result, null);
  }

  /**
   * Catch up with the store after a commit (this process's Admin API, or another process seen by the
   * watcher). Nothing is built when the revision did not move.
   */
  refresh(): Snapshot {
    const changes = this.source.readChanges(this.current.revision, this.opts.maxChanges ?? DEFAULT_MAX_CHANGES);
    if (changes === null) return this.load();
    if (changes.revision === this.current.revision && changes.changes.length === 0) return this.current;
    const compiler = this.opts.compiler ?? null;
    // [weir] stream_listeners rows are carried, not compiled: a change of only those never needs a full build
    const onlyListeners = changes.changes.every((c) => c.res === 'stream_listeners');
    if (compiler !== null && !onlyListeners && (this.fullOnly || changes.changes.some(changeNeedsFullBuild))) return this.load();
    const result = updateSnapshot(this.current, changes, this.deps, { trustedCa: this.opts.trustedCa });
    this.stats.incremental++;
    return this.swap(result, result.upstreamKeys);
  }

  /**
   * Expand the node names of the upstreams under `keys` again: their addresses changed (src/dns/resolver.ts
   * calls it, off the connection path). Only those upstreams and the routes using them (also through
   * traffic-split) are built again.
   */
  reresolve(keys: Iterable<string>): Snapshot {
    const deps = this.deps;
    if (deps?.addressesOf === undefined) return this.current;
    const result = updateResolved(this.current, keys, { ...deps, addressesOf: deps.addressesOf }, { trustedCa: this.opts.trustedCa });
    // an inline upstream of a filter (traffic-split) is no entry of `upstreams`: only its route was linked again
    if (result.upstreamKeys.length === 0 && (result.routeKeys?.length ?? 0) === 0) return this.current;
    return this.swap(result, result.upstreamKeys);
  }

  /**
   * Log what is new, bring the follower in line, then let the new snapshot serve, and release what only the
   * old one used. `upstreamKeys` null: a full build.
   */
  private swap(result: BuildResult, upstreamKeys: readonly string[] | null): Snapshot {
    for (const problem of result.fresh) this.warn(problem);
    const follower = this.opts.follower;
    if (follower) {
      if (upstreamKeys === null) follower.sync(result.snapshot);
      else if (upstreamKeys.length > 0) follower.update(result.snapshot, upstreamKeys);
    }
    this.current = result.snapshot;
    this.opts.compiler?.afterSwap(this.current, result.routeKeys);
    return this.current;
  }
}
