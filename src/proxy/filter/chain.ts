// Running a route's filter chain: build it once per snapshot (priority order, APISIX's rule: higher first,
// ties by name), run the access phase per connection, run the log phase when the connection is over.

import { logger } from '../../log/logger';
import { type AccessVerdict, type FilterChain, type FilterConn, type FinishedConn, NO_FILTERS, type StreamFilter } from './types';

/** Order filters for a route. Runs once per snapshot build. */
export function buildChain(filters: readonly StreamFilter[]): FilterChain {
  if (filters.length === 0) return NO_FILTERS;
  const sorted = [...filters].sort((a, b) => b.priority - a.priority || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const upstreams = sorted.flatMap((f) => f.upstreams ?? []);
  const disposable = sorted.filter((f) => f.dispose !== undefined);
  return Object.freeze({
    access: Object.freeze(sorted.filter((f) => f.access !== undefined)),
    log: Object.freeze(sorted.filter((f) => f.log !== undefined)),
    setsUpstream: sorted.some((f) => f.setsUpstream === true),
    meter: sorted.find((f) => f.meter !== undefined)?.meter ?? null,
    ...(upstreams.length > 0 ? { upstreams: Object.freeze(upstreams) } : {}),
    ...(disposable.length > 0 ? { disposable: Object.freeze(disposable) } : {}),
  });
}

/** What a throwing filter turns into: the connection is refused, the proxy keeps serving. */
function filterFailed(filter: StreamFilter, err: unknown): AccessVerdict {
  logger.error('stream filter failed; connection refused', { filter: filter.name, error: (err as Error)?.message ?? String(err) });
  return { code: 500, reason: `${filter.name}: ${(err as Error)?.message ?? String(err)}` };
}

/**
 * The access phase: run the chain's filters in order from `from`. Calls `done` exactly once, with the first
 * rejection or undefined when every filter let the connection through. Synchronous filters are run in one
 * loop; a filter that answers with a promise resumes the chain when it settles (unless the connection was
 * aborted meanwhile: `done` is then called at once, and the caller ignores it).
 * A route with NO_FILTERS never gets here (the flow checks `access.length`).
 */
export function runAccess(chain: FilterChain, conn: FilterConn, done: (verdict: AccessVerdict) => void, from = 0): void {
  const filters = chain.access;
  for (let i = from; i < filters.length; i++) {
    const filter = filters[i]!;
    let verdict: AccessVerdict | Promise<AccessVerdict>;
    try {
      verdict = filter.access!(conn);
    } catch (err) {
      return done(filterFailed(filter, err));
    }
    if (verdict === undefined) continue;
    if (verdict instanceof Promise) {
      verdict.then(
        // an aborted connection's log phase has run already: the filters after this one must not take anything
        (v) => (v === undefined && !conn.aborted ? runAccess(chain, conn, done, i + 1) : done(v)),
        (err: unknown) => done(filterFailed(filter, err)),
      );
      return;
    }
    return done(verdict);
  }
  done(undefined);
}

/** The log phase. A throwing filter is logged and the others still run. */
export function runLog(chain: FilterChain, finished: FinishedConn): void {
  const filters = chain.log;
  for (let i = 0; i < filters.length; i++) {
    try {
      filters[i]!.log!(finished);
    } catch (err) {
      logger.error('stream filter log phase failed', { filter: filters[i]!.name, error: (err as Error)?.message ?? String(err) });
    }
  }
}
