// stream_route schema (spec 3.1) and the checks APISIX runs after it (stream_route_checker):
// plugins, then remote_addr / server_addr parsed by a real IP parser, then the inline upstream's rules.

import * as v from 'valibot';
import { parseCidr, parseIp } from '../lib/ip';
import {
  type AnySchema, anyObject, anyOf, arrayOf, clip, commonEntries, hostSchema, idSchema, intRange, looseObj, nameSchema,
  opt, runSchema, str, strictObj, strLen, bool,
} from './common';
import { checkPlugins, type PluginCheckOptions } from './plugins';
import { checkUpstreamRules, inlineUpstreamSchema } from './upstream';
import { sessionPolicySchema } from './session-policy';

// xRPC protocol (redis, dubbo): stored as sent, ignored by weir's data plane.
const protocolSchema = looseObj({
  name: strLen(1, 256),
  superior_id: opt(idSchema()),
  conf: opt(anyObject()),
  logger: opt(arrayOf(anyObject())),
});

// APISIX's ip_def, a rough first filter (it lets `:/8` through; the real parser below catches it): an IPv4
// or IPv6 address, or something shaped like an IPv4 or IPv6 CIDR. Anything else is
// `object matches none of the required`.
const IPV4_CIDR = /^(([0-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5])\.){3}([0-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5])\/([12]?[0-9]|3[0-2])$/;
const IPV6_CIDR = /^([a-fA-F0-9]{0,4}:){1,8}(:[a-fA-F0-9]{0,4}){0,8}([a-fA-F0-9]{0,4})?\/[0-9]{1,3}$/;
const ipFamily = (family: number) => v.custom((x) => typeof x === 'string' && parseIp(x)?.family === family);
const addressSchema = (): AnySchema => v.pipe(str() as AnySchema, anyOf([
  ipFamily(4),
  v.custom((x) => IPV4_CIDR.test(x as string)),
  ipFamily(6),
  v.custom((x) => IPV6_CIDR.test(x as string)),
]));

export const streamRouteSchema: AnySchema = strictObj({
  ...commonEntries(),
  name: opt(nameSchema()),
  remote_addr: opt(addressSchema()),
  server_addr: opt(addressSchema()),
  server_port: opt(intRange(1, 65535)),
  sni: opt(hostSchema()),
  // apache/apisix#13911 and #13912: a list of SNIs, and routing by SNI without terminating TLS
  snis: opt(arrayOf(hostSchema(), 1)),
  tls_passthrough: opt(bool()),
  upstream: opt(inlineUpstreamSchema),
  upstream_id: opt(idSchema()),
  service_id: opt(idSchema()),
  plugins: opt(anyObject()),
  protocol: opt(protocolSchema),
  // [weir] live sessions when the route (or its upstream) changes or is deleted, and when their node is removed
  on_change: opt(sessionPolicySchema),
  on_node_removed: opt(sessionPolicySchema),
});

/** Full stream route validation; null when valid. Reference existence (upstream_id, service_id) is the store's job. */
export function checkStreamRoute(body: unknown, opts: PluginCheckOptions = {}): string | null {
  const shapeError = runSchema(streamRouteSchema, body);
  if (shapeError) return shapeError;
  const route = body as Record<string, unknown>;
  if (route.sni !== undefined && route.snis !== undefined) return 'invalid configuration: sni and snis cannot be used together';
  if (route.plugins !== undefined) {
    const pluginError = checkPlugins(route.plugins as Record<string, unknown>, opts);
    if (pluginError) return pluginError;
  }
  for (const field of ['remote_addr', 'server_addr'] as const) {
    const value = route[field];
    if (typeof value === 'string' && parseCidr(value) === null) return `invalid ${field}: ${clip(value)}`;
  }
  if (route.upstream !== undefined) {
    return checkUpstreamRules(route.upstream as Record<string, unknown>, ['upstream']);
  }
  return null;
}
