// Upstream `nodes` in both APISIX forms: validation (shape + host/port rules) and normalisation to UpstreamNode[].
// Map form {"host:port": weight}; array form [{host, port, weight, priority?, metadata?}].
// weir is L4 only, so every node needs a port (APISIX would default it from the HTTP scheme).

import { formatHostPort, parseIp } from '../lib/ip';
import type { UpstreamNode } from '../snapshot/types';
import {
  type AnySchema, anyObject, anyOf, arrayOf, clip, fieldError, hostSchema, int, intRange, isPlainObject, looseObj, opt,
  recordOf,
} from './common';

/** APISIX checks this before the schema, for every node of an array: "::1" reads as host "::1" or as "::" port 1. */
export const IPV6_NEEDS_BRACKETS = "invalid configuration: IPv6 address must be enclosed with '[' and ']'";

// APISIX's array item: host and weight required, port optional (weir requires it in checkNodes), open to more keys.
const nodeItemSchema: AnySchema = looseObj({
  host: hostSchema(),
  port: opt(intRange(1, 65535)),
  weight: intRange(0),
  priority: opt(int()),
  metadata: opt(anyObject()),
});

/**
 * Shape of `nodes`: jsonschema `anyOf` of the map and the array form, so any problem inside reads
 * `object matches none of the required`, as in APISIX. Host/port syntax is checked afterwards by checkNodes.
 */
export const nodesSchema: AnySchema = anyOf([recordOf(intRange(0)), arrayOf(nodeItemSchema)]);

/** True for an array-form host that is an IPv6 address without brackets. */
function isBareIpv6(host: unknown): boolean {
  return typeof host === 'string' && !host.startsWith('[') && host.includes(':') && parseIp(host) !== null;
}

/** APISIX's first upstream check (before the schema): an array node whose host is a bare IPv6 address. */
export function checkBareIpv6(nodes: unknown): string | null {
  if (!Array.isArray(nodes)) return null;
  return nodes.some((n) => isPlainObject(n) && isBareIpv6(n.host)) ? IPV6_NEEDS_BRACKETS : null;
}

export type ParsedAddr = { host: string; port: number } | { error: 'ipv6' | 'port' | 'host' | 'noport'; detail: string };

/** A DNS name (labels of letters, digits, '-' and '_'; docker and k8s names use '_' and '-'). */
export function isHostname(host: string): boolean {
  if (host.length === 0 || host.length > 253) return false;
  // digits and dots only: a malformed IPv4 ("127.1", "1.2.3.256"), not a name
  if (/^[\d.]+$/.test(host)) return false;
  const labels = host.endsWith('.') ? host.slice(0, -1).split('.') : host.split('.');
  return labels.every((l) => /^[A-Za-z0-9_-]{1,63}$/.test(l));
}

/** Node host as written in array form: IPv4, IPv6 (bare or bracketed) or a hostname. Returns it unbracketed. */
export function parseNodeHost(host: string): string | null {
  if (host.startsWith('[') && host.endsWith(']')) {
    const inner = host.slice(1, -1);
    return inner.includes(':') && parseIp(inner) ? inner : null;
  }
  if (host.includes(':')) return parseIp(host) ? host : null;
  if (parseIp(host) || isHostname(host)) return host;
  return null;
}

function parsePort(text: string): number | null {
  if (!/^\d{1,5}$/.test(text)) return null;
  const port = Number(text);
  return port >= 1 && port <= 65535 ? port : null;
}

/** Split a map-form key: "host:port" or "[v6]:port". */
export function parseNodeKey(key: string): ParsedAddr {
  let hostText: string;
  let portText: string | undefined;
  if (key.startsWith('[')) {
    const close = key.indexOf(']');
    if (close < 0) return { error: 'host', detail: key };
    hostText = key.slice(0, close + 1);
    const rest = key.slice(close + 1);
    if (rest !== '' && !rest.startsWith(':')) return { error: 'host', detail: key };
    portText = rest === '' ? undefined : rest.slice(1);
  } else {
    const first = key.indexOf(':');
    if (first >= 0 && first !== key.lastIndexOf(':')) return { error: 'ipv6', detail: key };
    hostText = first < 0 ? key : key.slice(0, first);
    portText = first < 0 ? undefined : key.slice(first + 1);
  }
  const host = parseNodeHost(hostText);
  if (host === null) return { error: 'host', detail: hostText };
  if (portText === undefined || portText === '') return { error: 'noport', detail: key };
  const port = parsePort(portText);
  if (port === null) return { error: 'port', detail: portText };
  return { host, port };
}

/**
 * Host/port rules that the shape schema cannot express. Runs after nodesSchema passed. `path` is where
 * `nodes` sits (["nodes"] or ["upstream", "nodes"]). Returns null or the message.
 */
export function checkNodes(nodes: unknown, path: readonly string[]): string | null {
  if (Array.isArray(nodes)) {
    for (let i = 0; i < nodes.length; i++) {
      const node = nodes[i] as { host: string; port?: number };
      if (isBareIpv6(node.host)) return IPV6_NEEDS_BRACKETS;
      if (parseNodeHost(node.host) === null) {
        return fieldError([...path, i, 'host'], `invalid host "${clip(node.host)}": expected an IP address or a hostname`);
      }
      // weir is L4 only: there is no scheme default port to fall back on
      if (node.port === undefined) return fieldError([...path, i], 'property "port" is required (weir stream upstreams need a port)');
    }
    return null;
  }
  if (!isPlainObject(nodes)) return null;
  for (const key of Object.keys(nodes)) {
    const parsed = parseNodeKey(key);
    if (!('error' in parsed)) continue;
    switch (parsed.error) {
      case 'ipv6':
        return IPV6_NEEDS_BRACKETS;
      case 'port':
        return `invalid port ${clip(parsed.detail)}`;
      case 'noport':
        return fieldError(path, `node "${clip(key)}" has no port (weir stream upstreams need host:port)`);
      case 'host':
        return fieldError(path, `invalid host "${clip(parsed.detail)}" in node "${clip(key)}": expected an IP address or a hostname`);
    }
  }
  return null;
}

/**
 * Normalise an already validated upstream's `nodes` into a list, in array order or key insertion order.
 * Called by the snapshot builder per upstream version, never per connection. Never throws: entries that
 * would not validate are skipped. Map-form nodes get priority 0.
 */
export function normalizeNodes(nodes: unknown): UpstreamNode[] {
  const out: UpstreamNode[] = [];
  if (Array.isArray(nodes)) {
    for (const item of nodes) {
      if (!isPlainObject(item) || typeof item.host !== 'string') continue;
      const host = parseNodeHost(item.host);
      const { port, weight, priority } = item;
      if (host === null || !isPort(port) || !isWeight(weight)) continue;
      const prio = typeof priority === 'number' && Number.isInteger(priority) ? priority : 0;
      out.push({ host, port, weight, priority: prio, address: formatHostPort(host, port) });
    }
  } else if (isPlainObject(nodes)) {
    for (const key of Object.keys(nodes)) {
      const parsed = parseNodeKey(key);
      const weight = nodes[key];
      if ('error' in parsed || !isWeight(weight)) continue;
      out.push({ host: parsed.host, port: parsed.port, weight, priority: 0, address: formatHostPort(parsed.host, parsed.port) });
    }
  }
  return out;
}

function isPort(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x >= 1 && x <= 65535;
}

function isWeight(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x >= 0;
}
