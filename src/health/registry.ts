// The set of running health checkers, one per upstream resource key (shared by every route that uses
// the upstream), kept in step with the snapshot: created eagerly, reconfigured, stopped on delete.

import { logger } from '../log/logger';
import type { Snapshot } from '../snapshot/types';
import { type ProbePlane, UpstreamChecker } from './checker';
import type { CheckerInfo } from './types';

export class HealthRegistry {
  private readonly checkers = new Map<string, UpstreamChecker>();
  private stopped = false;

  constructor(private readonly plane: ProbePlane) {}

  /**
   * Bring the checkers in line with a freshly built snapshot and fill each compiled upstream's health
   * slot. Call it right after every build, before the snapshot serves connections. O(upstreams).
   *
   * APISIX creates a checker lazily on the first connection (spec 5.5); weir starts it at once, so a
   * dead node is known before any client pays for it. A changed `checks` replaces the checker (fresh
   * counters); a changed node list keeps the status of nodes that stay.
   */
  sync(snapshot: Snapshot): void {
    if (this.stopped) return;
    const seen = new Set<string>();
    for (const [key, entry] of snapshot.upstreams) {
      const up = entry.upstream;
      const config = up?.checks ?? null;
      if (up === null || config === null) continue;
      seen.add(key);
      let checker = this.checkers.get(key);
      if (checker !== undefined && checker.config.text !== config.text) {
        checker.stop();
        checker = undefined;
      }
      if (checker === undefined) {
        checker = new UpstreamChecker(key, config, up.nodes, this.plane);
        this.checkers.set(key, checker);
        checker.start();
      } else if (checker.nodes !== up.nodes) {
        checker.setNodes(up.nodes);
      }
      if (up.health !== undefined) up.health.checker = checker;
    }
    for (const [key, checker] of this.checkers) {
      if (seen.has(key)) continue;
      checker.stop();
      this.checkers.delete(key);
      logger.info('health checker released', { upstream: key });
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
