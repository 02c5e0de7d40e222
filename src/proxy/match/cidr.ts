// Compiled IP/CIDR rules and the allocation-free address parsing the matcher does per connection.
// Compile time uses the strict parser in src/lib/ip.ts; per-connection code only reads plain numbers.

import { parseCidr, parseIp } from '../../lib/ip';

/** One remote_addr / server_addr rule, ready for comparisons. */
export interface CompiledCidr {
  family: 4 | 6;
  prefix: number;
  /** IPv4: the masked address as an unsigned 32-bit number (0 for IPv6). */
  v4: number;
  /** IPv6: the masked 16 bytes (null for IPv4). */
  v6: Uint8Array | null;
  /** IPv6: map key of the masked address at this prefix length (see v6Key); "" for IPv4. */
  v6key: string;
}

/** Mask an unsigned IPv4 number to `prefix` bits. `<< 32` is a no-op in JS, hence the special case. */
export function maskV4(addr: number, prefix: number): number {
  if (prefix <= 0) return 0;
  if (prefix >= 32) return addr >>> 0;
  return (addr & (-1 << (32 - prefix))) >>> 0;
}

/**
 * Parse a dotted-quad IPv4 literal into an unsigned number, or -1. Called per connection on the
 * socket's own address text, so it walks characters instead of splitting (no allocation).
 */
export function parseIpv4(text: string): number {
  const len = text.length;
  if (len < 7 || len > 15) return -1;
  let result = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < len; i++) {
    const c = text.charCodeAt(i);
    if (c === 46 /* . */) {
      if (digits === 0 || dots === 3) return -1;
      result = result * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57) {
      // no leading zeros ("01"), like the strict compile-time parser
      if (digits > 0 && part === 0) return -1;
      part = part * 10 + (c - 48);
      if (++digits > 3 || part > 255) return -1;
    } else {
      return -1;
    }
  }
  if (dots !== 3 || digits === 0) return -1;
  return result * 256 + part;
}

/** Parse an IPv6 literal (IPv4-mapped ones come back as null: callers try parseIpv4 first). */
export function parseIpv6(text: string): Uint8Array | null {
  const ip = parseIp(text);
  if (ip === null || ip.family !== 6) return null;
  return Uint8Array.from(ip.bytes);
}

/** Map key for an IPv6 address masked to `prefix` bits: hex of the significant bytes. */
export function v6Key(bytes: Uint8Array, prefix: number): string {
  let key = '';
  const full = prefix >> 3;
  for (let i = 0; i < full; i++) key += HEX[bytes[i]!];
  const rest = prefix & 7;
  if (rest > 0) key += HEX[bytes[full]! & ((0xff << (8 - rest)) & 0xff)];
  return key;
}

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Compile "ip" or "ip/len"; null when the text is not a strict IP/CIDR. */
export function compileCidr(text: string): CompiledCidr | null {
  const p = parseCidr(text);
  if (p === null) return null;
  if (p.family === 4) {
    const [a, b, c, d] = p.bytes as [number, number, number, number];
    const addr = ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
    return { family: 4, prefix: p.prefix, v4: maskV4(addr, p.prefix), v6: null, v6key: '' };
  }
  const bytes = Uint8Array.from(p.bytes);
  for (let i = 0; i < 16; i++) {
    const bitsLeft = p.prefix - i * 8;
    if (bitsLeft <= 0) bytes[i] = 0;
    else if (bitsLeft < 8) bytes[i]! &= (0xff << (8 - bitsLeft)) & 0xff;
  }
  return { family: 6, prefix: p.prefix, v4: 0, v6: bytes, v6key: v6Key(bytes, p.prefix) };
}

/** Does the rule contain the address? Pass v4 >= 0 for an IPv4 address, else the IPv6 bytes. */
export function cidrContains(rule: CompiledCidr, v4: number, v6: Uint8Array | null): boolean {
  if (rule.family === 4) return v4 >= 0 && maskV4(v4, rule.prefix) === rule.v4;
  if (v6 === null) return false;
  const want = rule.v6!;
  const full = rule.prefix >> 3;
  for (let i = 0; i < full; i++) if (v6[i] !== want[i]) return false;
  const rest = rule.prefix & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (v6[full]! & mask) === want[full];
}
