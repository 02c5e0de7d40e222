// apisix.dns_resolver and apisix.dns_resolver_valid: which DNS servers resolve node names, and how long an
// answer is used. Runs once at start (pure).

import { parseIp } from '../lib/ip';
import { ConfigError, type DnsSettings } from './types';
import { describeValue, readList, type YamlMap } from './read';

/** "1.2.3.4", "1.2.3.4:53", "::1", "[::1]:5353" -> the same text, or null when it is no IP address (with port). */
export function parseResolverAddress(text: string): string | null {
  let host = text;
  let port: string | null = null;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (bracketed) {
    host = bracketed[1]!;
    port = bracketed[2] ?? null;
    if (!host.includes(':')) return null;
  } else if (/^[^:]+:\d+$/.test(text)) {
    [host, port] = text.split(':') as [string, string];
  }
  if (parseIp(host) === null) return null;
  if (port !== null && !(Number(port) >= 1 && Number(port) <= 65535)) return null;
  return text;
}

/**
 * `dns_resolver`: DNS servers (IP, or IP:port) asked for node names, in order; absent: the system resolver
 * (getaddrinfo: /etc/hosts, then the resolv.conf servers). `dns_resolver_valid`: seconds an answer is
 * used, overriding the records' TTLs (APISIX's meaning); with the system resolver, which reports no TTL,
 * the refresh period (default 30 s, src/dns/resolver.ts).
 */
export function readDnsSettings(apisix: YamlMap): DnsSettings {
  const list = readList(apisix.dns_resolver, 'apisix.dns_resolver', 'DNS server addresses');
  const servers = list?.map((entry, i) => {
    const text = typeof entry === 'string' ? parseResolverAddress(entry.trim()) : null;
    if (text === null) throw new ConfigError(`apisix.dns_resolver[${i}]`, `expected an IP address, optionally with a port ("10.0.0.53", "10.0.0.53:53", "[fd00::53]:53"), got ${describeValue(entry)}`);
    return text;
  });
  const valid = apisix.dns_resolver_valid;
  if (valid !== undefined && valid !== null && !(typeof valid === 'number' && Number.isInteger(valid) && valid >= 1 && valid <= 86_400)) {
    throw new ConfigError('apisix.dns_resolver_valid', `expected whole seconds 1..86400, got ${describeValue(valid)}`);
  }
  return {
    servers: servers === undefined || servers.length === 0 ? null : servers,
    validMs: typeof valid === 'number' ? valid * 1000 : null,
  };
}
