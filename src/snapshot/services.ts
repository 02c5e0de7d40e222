// Services merged into the stream routes that name them (APISIX's merge_service_stream_route), before the
// snapshot build: the route's plugins win per plugin name over the service's, and the route's own upstream
// (upstream_id or inline) wins over the service's, which is used only when the route has none. Pure.

import type { JsonObject } from '../lib/json';
import { isPlainObject } from '../lib/json';
import type { StoreContents, StoredObject } from '../store/types';

function present(v: unknown): boolean {
  return v !== undefined && v !== null;
}

/** The route as served: its own fields, plus what it takes from the service. `service_id` stays (a variable). */
export function mergeService(route: JsonObject, service: JsonObject): JsonObject {
  const merged: JsonObject = { ...route };
  if (isPlainObject(service.plugins)) {
    const plugins: JsonObject = isPlainObject(route.plugins) ? { ...route.plugins } : {};
    for (const [name, conf] of Object.entries(service.plugins)) if (!(name in plugins)) plugins[name] = conf;
    merged.plugins = plugins;
  }
  if (!present(route.upstream_id) && !present(route.upstream)) {
    if (present(service.upstream)) merged.upstream = service.upstream;
    else if (present(service.upstream_id)) merged.upstream_id = service.upstream_id;
  }
  return merged;
}

/**
 * Contents whose stream routes have their services merged in. A merged row's `raw` is the route's text and
 * the service's, so the build's caches see a service change as a change of every route using it. A route
 * whose service is missing is not served (APISIX skips it too) and named in `problems`.
 */
export function mergeServices(contents: StoreContents): { contents: StoreContents; problems: string[] } {
  const problems: string[] = [];
  if (!contents.streamRoutes.some((r) => present(r.value.service_id))) return { contents, problems };
  const services = new Map((contents.services ?? []).map((s) => [s.id, s]));
  const streamRoutes: StoredObject[] = [];
  for (const row of contents.streamRoutes) {
    const serviceId = row.value.service_id;
    if (!present(serviceId)) {
      streamRoutes.push(row);
      continue;
    }
    const service = services.get(String(serviceId));
    if (service === undefined) {
      problems.push(`stream_routes/${row.id}: skipped: failed to fetch service configuration by id: ${String(serviceId)}`);
      continue;
    }
    streamRoutes.push({ ...row, value: mergeService(row.value, service.value), raw: `${row.raw}\n${service.raw}` });
  }
  return { contents: { ...contents, streamRoutes }, problems };
}
