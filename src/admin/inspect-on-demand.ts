// The inspection routes (src/admin/inspect.ts: explain, the connection views) loaded at their first request:
// a proxy whose Admin API is never asked to explain or list connections does not hold that code.

import { Router, type IRequest, type RouterType } from 'itty-router';
import type { InspectRouteDeps } from './inspect';
import type { AdminIdentity } from './scope';

type AdminRouter = RouterType<IRequest, [URL, AdminIdentity]>;

/** The paths mountInspect serves (test/admin/inspect-on-demand.test.ts keeps this list equal to its routes). */
export const INSPECT_PATHS: readonly string[] = [
  '/apisix/admin/stream_routes/explain',
  '/v1/connections',
  '/v1/connections/:id',
  '/v1/udp_sessions',
  '/v1/udp_sessions/:id',
];

/**
 * Mount the inspection routes on `router`, where mountInspect would have mounted them (before the generic
 * object routes). Runs once, when the Admin API is built; the first request to one of the paths imports
 * src/admin/inspect.ts and mounts it on a router of its own, which then answers that path's requests. A
 * request it has no route for (another method) falls through to the routes after, as it did before.
 */
export function mountInspectOnDemand(router: AdminRouter, deps: InspectRouteDeps): void {
  // boxed: an itty router answers every property read, `then` included, so a promise of one never settles
  let inner: Promise<{ router: AdminRouter }> | null = null;
  const load = (): Promise<{ router: AdminRouter }> =>
    (inner ??= import('./inspect').then((m) => {
      const router: AdminRouter = Router<IRequest, [URL, AdminIdentity]>();
      m.mountInspect(router, deps);
      return { router };
    }));
  const forward = async (req: IRequest, url: URL, who: AdminIdentity): Promise<Response | undefined> =>
    (await (await load()).router.fetch(req, url, who)) as Response | undefined;
  for (const path of INSPECT_PATHS) router.all(path, forward);
}
