// service schema (APISIX schema_def.service) as a stream proxy uses it: `plugins` (stream plugins, merged into
// the routes that name the service, the route winning per plugin), `upstream` / `upstream_id` (used by routes
// without their own). `hosts`, `script` and `enable_websocket` are HTTP settings: accepted, kept, never used.

import {
  type AnySchema, anyObject, arrayOf, bool, clip, commonEntries, hostSchema, idSchema, nameSchema, opt, runSchema,
  strictObj, strLen,
} from './common';
import { checkPlugins, type PluginCheckOptions } from './plugins';
import { checkUpstreamRules, inlineUpstreamSchema } from './upstream';

export const serviceSchema: AnySchema = strictObj({
  ...commonEntries(),
  name: opt(nameSchema()),
  plugins: opt(anyObject()),
  upstream: opt(inlineUpstreamSchema),
  upstream_id: opt(idSchema()),
  script: opt(strLen(10, 102400)),
  enable_websocket: opt(bool()),
  hosts: opt(arrayOf(hostSchema(), 1)),
});

/** Full service validation (APISIX's order: schema, upstream, plugins); null when valid. References are the store's. */
export function checkService(body: unknown, opts: PluginCheckOptions = {}): string | null {
  const shapeError = runSchema(serviceSchema, body);
  if (shapeError) return shapeError;
  const service = body as Record<string, unknown>;
  const hosts = service.hosts as string[] | undefined;
  if (hosts !== undefined && new Set(hosts).size !== hosts.length) {
    return `invalid configuration: property "hosts" validation failed: expected unique items but items are equal (${clip(hosts.join(','))})`;
  }
  if (service.upstream !== undefined) {
    const upstreamError = checkUpstreamRules(service.upstream as Record<string, unknown>, ['upstream']);
    if (upstreamError) return upstreamError;
  }
  if (service.plugins !== undefined) return checkPlugins(service.plugins as Record<string, unknown>, opts);
  return null;
}
