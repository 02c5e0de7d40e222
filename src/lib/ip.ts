// Strict IP and CIDR parsing shared by the schemas (validation) and the matcher (compilation).
// Runs at write and compile time, not per connection: the matcher keeps its own compiled form.

import ipaddr from 'ipaddr.js';

export interface IpAddress {
  family: 4 | 6;
  /** 4 bytes for IPv4, 16 for IPv6. IPv4-mapped IPv6 (::ffff:a.b.c.d) is returned as IPv4. */
  bytes: number[];
}

export interface IpPrefix extends IpAddress {
  /** Prefix length: 0..32 for IPv4, 0..128 for IPv6; a bare address has the full length. */
  prefix: number;
}

/**
 * Parse an IP literal strictly: dotted-quad IPv4 ("127.0.0.1", not "127.1") or IPv6 without brackets
 * or zone. Returns null for anything else.
 */
export function parseIp(text: string): IpAddress | null {
  if (typeof text !== 'string' || text.length === 0 || text.length > 64) return null;
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) {
    return { family: 4, bytes: ipaddr.IPv4.parse(text).toByteArray() };
  }
  if (text.includes(':') && !text.includes('%') && ipaddr.IPv6.isValid(text)) {
    const v6 = ipaddr.IPv6.parse(text);
    if (v6.isIPv4MappedAddress()) return { family: 4, bytes: v6.toIPv4Address().toByteArray() };
    return { family: 6, bytes: v6.toByteArray() };
  }
  return null;
}

/** Parse "ip" or "ip/len". An IPv4-mapped IPv6 prefix of length >= 96 becomes the IPv4 prefix. */
export function parseCidr(text: string): IpPrefix | null {
  if (typeof text !== 'string') return null;
  const slash = text.indexOf('/');
  const addrText = slash < 0 ? text : text.slice(0, slash);
  const parsed = parseIp(addrText);
  if (!parsed) return null;
  const wasV6Text = addrText.includes(':');
  let max = parsed.family === 4 ? 32 : 128;
  if (slash < 0) return { ...parsed, prefix: max };
  const lenText = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(lenText)) return null;
  let prefix = Number(lenText);
  if (parsed.family === 4 && wasV6Text) {
    // ::ffff:10.0.0.0/104 is the IPv4 prefix 10.0.0.0/8
    if (prefix < 96 || prefix > 128) return null;
    prefix -= 96;
    max = 32;
  }
  if (prefix > max) return null;
  return { ...parsed, prefix };
}

/** "host:port", bracketing IPv6 literals: the node's name in logs and status. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Unwrap "::ffff:1.2.3.4" to "1.2.3.4" (what dual-stack sockets report for IPv4 peers). Cheap: no parse. */
export function unmapIpv4(address: string): string {
  return address.length > 7 && address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
