// Read-only health status in the shape of APISIX's control API (`/v1/healthcheck`), served on the
// admin listener behind the same allow list and key check as the Admin API (any role may read it).
//
// APISIX serves this without a key, but only on 127.0.0.1:9090. weir has no separate control
// listener, and the admin listener may face a network, so node addresses and their health stay
// behind the admin key like everything else there.

import type { IRequest, RouterType } from 'itty-router';
import type { CheckerInfo } from '../health/types';
import { respond } from './respond';
import type { AdminIdentity } from './scope';

/** What the control API reads: src/health/registry.ts implements it. */
export interface HealthStatusSource {
  list(): CheckerInfo[];
  get(key: string): CheckerInfo | undefined;
}

/** Source kinds a checker can belong to in weir (APISIX also has routes and services, which weir has not). */
const KINDS = new Set(['upstreams', 'stream_routes']);

function decode(seg: string | undefined): string {
  if (seg === undefined) return '';
  try {
    return decodeURIComponent(seg);
  } catch {
    return seg;
  }
}

/** A scoped key sees the checkers of the upstreams and routes in its scope only (a missing one answers 404). */
function sees(who: AdminIdentity | undefined, key: string): boolean {
  const scope = who?.scope ?? null;
  if (scope === null) return true;
  const m = /^\/apisix\/(upstreams|stream_routes)\/(.*)$/.exec(key);
  return m !== null && scope.sees(m[1]!, m[2]!);
}

/**
 * Add `GET /v1/healthcheck` (every checker, an array ordered by resource key) and
 * `GET /v1/healthcheck/{upstreams|stream_routes}/{id}` (one checker) to the admin router.
 * With no health source (checks never wired) the list is empty and every lookup is a 404.
 */
export function mountControl(router: RouterType<IRequest, any[]>, health: HealthStatusSource | null, cors: boolean): void {
  router.get('/v1/healthcheck', (_req: IRequest, _url: URL, who?: AdminIdentity) =>
    respond(200, JSON.stringify((health?.list() ?? []).filter((c) => sees(who, c.name))), cors),
  );
  router.get('/v1/healthcheck/:kind/:id', (req: IRequest, _url: URL, who?: AdminIdentity) => {
    const kind = decode(req.params.kind);
    const id = decode(req.params.id);
    if (!KINDS.has(kind)) return respond(400, { error_msg: `invalid src type ${kind}` }, cors);
    const info = sees(who, `/apisix/${kind}/${id}`) ? health?.get(`/apisix/${kind}/${id}`) : undefined;
    if (info === undefined) return respond(404, { error_msg: `no checker for ${kind}[${id}]` }, cors);
    return respond(200, JSON.stringify(info), cors);
  });
}
