// Admin API gatekeeping (pure): the allow_admin CIDR check and the API key check (spec 2.1).
// Both are compiled once when the app is created; per request they only compare bytes.

import { createHash, timingSafeEqual } from 'node:crypto';
import type { AdminKey } from '../config/types';
import { parseCidr, parseIp, type IpPrefix } from '../lib/ip';
import { type AdminIdentity, KeyScope } from './scope';

/** True when `ip` falls inside `prefix` (same family, first `prefix` bits equal). */
export function prefixContains(prefix: IpPrefix, ip: { family: 4 | 6; bytes: number[] }): boolean {
  if (prefix.family !== ip.family) return false;
  let bits = prefix.prefix;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if (((prefix.bytes[i] ?? 0) & mask) !== ((ip.bytes[i] ?? 0) & mask)) return false;
  }
  return true;
}

/**
 * Compile deployment.admin.allow_admin into a predicate over the socket's peer address. An empty list
 * allows everyone (APISIX: no allow_admin key, no nginx allow rules). IPv4-mapped peers ("::ffff:127.0.0.1")
 * match IPv4 CIDRs. Entries that do not parse are skipped (the config loader reports them).
 */
export function compileAllowList(allow: readonly string[]): (remoteAddress: string) => boolean {
  if (allow.length === 0) return () => true;
  const prefixes = allow.map((c) => parseCidr(c)).filter((p): p is IpPrefix => p !== null);
  return (remoteAddress) => {
    const ip = parseIp(remoteAddress);
    return ip !== null && prefixes.some((p) => prefixContains(p, ip));
  };
}

/** Why a request failed the key check: the `description` of APISIX's 401 body. */
export type AuthFailure = 'missing apikey' | 'wrong apikey' | 'invalid method for role viewer';

export interface TokenSources {
  /** The `api_key` query argument, null when absent ("" when present but empty). */
  query: string | null;
  /** The X-API-KEY header. */
  header: string | null;
  /** The raw Cookie header. */
  cookie: string | null;
}

/** The `x_api_key` cookie value, or null. */
export function cookieToken(cookieHeader: string | null): string | null {
  if (!cookieHeader) return null;
  for (const part of cookieHeader.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === 'x_api_key') return part.slice(eq + 1).trim();
  }
  return null;
}

/** APISIX's order: query `api_key`, then header `X-API-KEY`, then cookie `x_api_key`. An empty query wins too. */
export function pickToken(src: TokenSources): string | null {
  return src.query ?? src.header ?? cookieToken(src.cookie);
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

export interface KeyChecker {
  /** null = allowed; otherwise the 401 description. */
  check(token: string | null, method: string): AuthFailure | null;
  /** The key's identity (name, role, scope), or the 401 description. */
  identify(token: string | null, method: string): AdminIdentity | AuthFailure;
}

/**
 * Compile the effective admin keys. Tokens are compared as SHA-256 digests with timingSafeEqual, so
 * neither the key's length nor its first differing byte shows in the timing. Every key is compared.
 */
export function compileKeyChecker(keys: readonly AdminKey[]): KeyChecker {
  // a key_sha256 entry is compared with the token's digest just like a key given in clear
  const compiled = keys.map((k): { digest: Buffer; who: AdminIdentity } => ({
    digest: k.keySha256 !== undefined ? Buffer.from(k.keySha256, 'hex') : digest(k.key),
    who: Object.freeze({ name: k.name, role: k.role, scope: k.scope === undefined ? null : new KeyScope(k.scope) }),
  }));
  const identify = (token: string | null, method: string): AdminIdentity | AuthFailure => {
    if (token === null) return 'missing apikey';
    const got = digest(token);
    let who: AdminIdentity | null = null;
    for (const k of compiled) {
      if (timingSafeEqual(k.digest, got) && who === null) who = k.who;
    }
    if (who === null) return 'wrong apikey';
    if (who.role === 'viewer' && method !== 'GET') return 'invalid method for role viewer';
    return who;
  };
  return {
    identify,
    check(token, method) {
      const r = identify(token, method);
      return typeof r === 'string' ? r : null;
    },
  };
}
