// Fleet mode on the admin listener: GET /v1/fleet (sync status), GET /status/ready (readiness), each object's
// origin beside its value, and the data plane's refusal of writes. Absent in traditional mode.

import type { IRequest, RouterType } from 'itty-router';
import type { FetchHandler } from '../runtime/types';
import type { Store, StoredObject } from '../store/types';
import { DATA_PLANE_WRITE_REFUSAL, type FleetView } from '../fleet/view';
import { AdminError, respond } from './respond';

/** Add `GET /v1/fleet`: {role, endpoints, revision, last_full_sync, last_error, stale_since}. */
export function mountFleet(router: RouterType<IRequest, any[]>, fleet: FleetView, cors: boolean): void {
  router.get('/v1/fleet', () => respond(200, { role: fleet.role, endpoints: [...fleet.endpoints], ...fleet.status() }, cors));
}

/**
 * GET /status/ready (no key: load balancers and orchestrators ask it). 200 once objects from etcd are in the
 * store, loaded now or kept from an earlier sync; 503 before. Traditional mode: always ready.
 */
export function readyResponse(fleet: FleetView | null, cors: boolean): Response {
  if (fleet === null || fleet.ready()) return respond(200, { status: 'ok' }, cors);
  return respond(503, { status: 'error', error: 'no configuration synced from etcd yet' }, cors);
}

/** The 403 every write gets on a data plane. */
export function refuseWrite(): AdminError {
  return new AdminError(403, { error_msg: DATA_PLANE_WRITE_REFUSAL });
}

/** The store as the Admin API reads it in fleet mode: every object carries its origin. */
export function withOrigins(store: Store, fleet: FleetView): Store {
  const mark = (res: Parameters<Store['get']>[0], obj: StoredObject): StoredObject => ({ ...obj, origin: fleet.originOf(res, obj.id) });
  return {
    ...store,
    get: (res, id) => {
      const obj = store.get(res, id);
      return obj === undefined ? undefined : mark(res, obj);
    },
    list: (res) => store.list(res).map((obj) => mark(res, obj)),
  };
}

/**
 * The apisix.status listener (no key): GET /status (alive) and GET /status/ready (as on the admin listener);
 * anything else is 404. Serves readiness probes in traditional mode too.
 */
export function createStatusApp(fleet: FleetView | null): FetchHandler {
  return (req) => {
    const path = new URL(req.url).pathname.replace(/\/+$/, '');
    if (req.method === 'GET' && path === '/status') return respond(200, { status: 'ok' }, false);
    if (req.method === 'GET' && path === '/status/ready') return readyResponse(fleet, false);
    return respond(404, { error_msg: 'not found' }, false);
  };
}
