// The set of running health checkers, one per upstream resource key (shared by every route that uses
// the upstream), kept in step with the snapshot: created eagerly, reconfigured, stopped on delete.
// It is the data plane's HealthView: health lives beside the snapshot, never written into it.

import { logger } from '../log/logger';
import type { CachedUpstream, CompiledUpstream, Snapshot } from '../snapshot/types';
import { type CheckerPorts, type ProbePlane, UpstreamChecker } from './checker';
import type { CheckerInfo, HealthView, UpstreamHealth } from './types';

export class HealthRegistry implements HealthView {
  private readonly checkers = new Map<string, UpstreamChecker>();
  private stopped = false;
  private readonly ports: CheckerPorts;

  /**
   * `ports`: the TCP plane alone, or with the UDP plane (type udp probes), the trusted CA (https probes with
   * https_verify_certificate).
   */
  constructor(ports: ProbePlane | CheckerPorts) {
    this.ports = 'tcp' in ports ? ports : { tcp: ports };
  }

  /**
   * The running checker of `upstream` (by its resource key), or null when it has no checks. Called per
   * connection attempt: one property read, and a map lookup only for upstreams with checks.
   */
  checkerOf(upstream: CompiledUpstream): UpstreamHealth | null {
    if (upstream.checks == null) return null;
    return this.checkers.get(upstream.key) ?? null;
  }

  /**
   * Bring the checkers in line with a snapshot built from everything (start, or a full rebuild). Call it
   * before the snapshot serves connections (src/snapshot/holder.ts does). O(upstreams).
   *
   * APISIX creates a checker lazily on the first connection (spec 5.5); weir starts it at once, so a
   * dead node is known before any client pays for it. A changed `checks` replaces the checker (fresh
   * counters); a changed node list keeps the status of nodes that stay.
   */
  sync(snapshot: Snapshot): void {
    if (this.stopped) return;
    for (const [key, entry] of snapshot.upstreams) this.syncOne(key, entry);
    for (const key of [...this.checkers.keys()]) if (!snapshot.upstreams.has(key)) this.syncOne(key, undefined);
  }

  /**
   * The same for a snapshot that changed only the upstreams under `keys` (an incremental build): the
   * other checkers are not looked at. O(keys).
   */
  update(snapshot: Snapshot, keys: Iterable<string>): void {
    if (this.stopped) return;
    for (const key of keys) this.syncOne(key, snapshot.upstreams.get(key));
  }

  private syncOne(key: string, entry: CachedUpstream | undefined): void {
    const up = entry?.upstream ?? null;
    const config = up?.checks ?? null;
    let checker = this.checkers.get(key);
    if (up === null || config === null) {
      if (checker === undefined) return;
      checker.stop();
      this.checkers.delete(key);
      logger.info('health checker released', { upstream: key });
      return;
    }
    if (checker !== undefined && checker.config.text !== config.text) {
      checker.stop();
      checker = undefined;
    }
    if (checker === undefined) {
      checker = new UpstreamChecker(key, config, up.nodes, this.ports);
      this.checkers.set(key, checker);
      checker.start();
    } else if (checker.nodes !== up.nodes) {
      checker.setNodes(up.nodes);
    }
  }

  /** Every checker's status, by resource key order (GET /v1/healthcheck). */
  list(): CheckerInfo[] {
    return [...this.checkers.keys()].sort().map((key) => this.checkers.get(key)!.info());
  }

  /** One checker's status by resource key ("/apisix/upstreams/1"), or undefined. */
  get(key: string): CheckerInfo | undefined {
    return this.checkers.get(key)?.info();
  }

  /** Checkers running now (tests check that none leak). */
  get size(): number {
    return this.checkers.size;
  }

  /** Stop every checker; later syncs do nothing. Called by weir's stop(). */
  stop(): void {
    this.stopped = true;
    for (const checker of this.checkers.values()) checker.stop();
    this.checkers.clear();
  }
}
