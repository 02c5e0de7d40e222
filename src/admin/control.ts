// Read-only health status in the shape of APISIX's control API (`/v1/healthcheck`), served on the
// admin listener behind the same allow list and key check as the Admin API (any role may read it).
//
// APISIX serves this without a key, but only on 127.0.0.1:9090. weir has no separate control
// listener, and the admin listener may face a network, so node addresses and their health stay
// behind the admin key like everything else there.

import type { IRequest, RouterType } from 'itty-router';
import type { CheckerInfo } from '../health/types';
import { respond } from './respond';

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

/**
 * Add `GET /v1/healthcheck` (every checker, an array ordered by resource key) and
 * `GET /v1/healthcheck/{upstreams|stream_routes}/{id}` (one checker) to the admin router.
 * With no health source (checks never wired) the list is empty and every lookup is a 404.
 */
export function mountControl(router: RouterType<IRequest, any[]>, health: HealthStatusSource | null, cors: boolean): void {
  router.get('/v1/healthcheck', () => respond(200, JSON.stringify(health?.list() ?? []), cors));
  router.get('/v1/healthcheck/:kind/:id', (req: IRequest) => {
    const kind = decode(req.params.kind);
    const id = decode(req.params.id);
    if (!KINDS.has(kind)) return respond(400, { error_msg: `invalid src type ${kind}` }, cors);
    const info = health?.get(`/apisix/${kind}/${id}`);
    if (info === undefined) return respond(404, { error_msg: `no checker for ${kind}[${id}]` }, cors);
    return respond(200, JSON.stringify(info), cors);
  });
}
