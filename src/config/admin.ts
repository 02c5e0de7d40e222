// deployment.admin: Admin API keys, listen address, allowed client CIDRs, CORS, and the one fatal combination
// (no key required while listening beyond loopback). Runs once at start.

import { parseCidr } from '../lib/ip';
import { ConfigError, type AdminKey, type AdminKeyGrant, type AdminRole, type Config, type ListenAddr, type ScopeResource } from './types';
import { canonicalIp } from './listen';
import { checkAdminExposure } from './admin-exposure';
import {
  checkKeys,
  describeValue,
  isMap,
  readBool,
  readChoice,
  readList,
  readMap,
  readPort,
  readString,
  type ReadCtx,
  type YamlMap,
} from './read';

const DEFAULT_LISTEN: ListenAddr = { host: '127.0.0.1', port: 9180 };
const DEFAULT_ALLOW = ['127.0.0.0/24'];
const ROLES: readonly AdminRole[] = ['admin', 'viewer'];

/** Read `deployment.admin` (absent = all defaults). `enableAdmin` is apisix.enable_admin. */
export function readAdmin(admin: YamlMap | undefined, enableAdmin: boolean, ctx: ReadCtx): Config['admin'] {
  const path = 'deployment.admin';
  const section = admin ?? {};
  checkKeys(section, path, ctx);
  const keys = readAdminKeys(section.admin_key, ctx);
  const keyRequired = readBool(section.admin_key_required, `${path}.admin_key_required`, true);
  const listen = readListen(section.admin_listen, ctx);
  const allow = readAllow(section.allow_admin);
  const cors = readBool(section.enable_admin_cors, `${path}.enable_admin_cors`, true);
  if (enableAdmin && !keyRequired && !isLoopback(listen.host)) {
    throw new ConfigError(
      `${path}.admin_key_required`,
      `false is only allowed while ${path}.admin_listen.ip is a loopback address ` +
        `(it is ${JSON.stringify(listen.host)}): ` +
        'anyone who reaches that address could change the proxy without a key',
    );
  }
  checkAdminExposure(section.admin_key, listen.host, enableAdmin); // exit 2: empty or published key beyond loopback
  return { keyRequired, keys, listen, allow, cors };
}

function readAdminKeys(value: unknown, ctx: ReadCtx): AdminKey[] {
  const path = 'deployment.admin.admin_key';
  const items = readList(value, path, '{name, key, role}') ?? [];
  const keys: AdminKey[] = [];
  const seen = new Map<string, string>();
  items.forEach((item, i) => {
    const itemPath = `${path}[${i}]`;
    if (!isMap(item)) {
      throw new ConfigError(itemPath, `expected a mapping {name, key, role}, got ${describeValue(item)}`);
    }
    checkKeys(item, itemPath, ctx, `${path}[]`);
    const name = readString(item.name, `${itemPath}.name`, ctx);
    if (name === undefined) throw new ConfigError(`${itemPath}.name`, 'missing (expected a string)');
    const role = readChoice(item.role, `${itemPath}.role`, ROLES);
    if (role === undefined) throw new ConfigError(`${itemPath}.role`, 'missing (expected "admin" or "viewer")');
    const key = readString(item.key, `${itemPath}.key`, ctx) ?? '';
    const keySha256 = readKeyHash(item.key_sha256, `${itemPath}.key_sha256`, ctx);
    if (key !== '' && keySha256 !== undefined) throw new ConfigError(`${itemPath}.key_sha256`, 'give key or key_sha256, not both');
    if (key === '' && keySha256 === undefined) {
      // APISIX fills an empty key with a random one; weir does that at start when no key is left at all.
      ctx.warnings.push(`${itemPath}.key: empty, so this key is skipped`);
      return;
    }
    const identity = keySha256 ?? key;
    const first = seen.get(identity);
    if (first !== undefined) throw new ConfigError(`${itemPath}.${keySha256 === undefined ? 'key' : 'key_sha256'}`, `same key as ${first}`);
    seen.set(identity, itemPath);
    const scope = readScope(item.scope, `${itemPath}.scope`, ctx);
    keys.push({ name, key, role, ...(keySha256 === undefined ? {} : { keySha256 }), ...(scope === undefined ? {} : { scope }) });
  });
  return keys;
}

function readKeyHash(value: unknown, path: string, ctx: ReadCtx): string | undefined {
  const text = readString(value, path, ctx, 'a hex SHA-256');
  if (text === undefined || text === '') return undefined;
  if (!/^[0-9a-fA-F]{64}$/.test(text)) throw new ConfigError(path, `expected 64 hex digits (sha256 of the key), got ${describeValue(text)}`);
  return text.toLowerCase();
}

const SCOPE_RESOURCES: readonly ScopeResource[] = ['stream_routes', 'upstreams', 'ssls', 'stream_listeners', '*'];
const SCOPE_METHODS = ['GET', 'PUT', 'POST', 'PATCH', 'DELETE'];

/** `scope: [{resource, ids, methods}]`: absent = unscoped; an empty list would allow nothing, so it is refused. */
function readScope(value: unknown, path: string, ctx: ReadCtx): AdminKeyGrant[] | undefined {
  if (value === undefined || value === null) return undefined;
  const items = readList(value, path, '{resource, ids, methods}') ?? [];
  if (items.length === 0) throw new ConfigError(path, 'an empty scope allows nothing; leave it out for an unscoped key');
  return items.map((item, i) => {
    const at = `${path}[${i}]`;
    if (!isMap(item)) throw new ConfigError(at, `expected a mapping {resource, ids, methods}, got ${describeValue(item)}`);
    checkKeys(item, at, ctx, 'deployment.admin.admin_key[].scope[]');
    const resource = readChoice(item.resource, `${at}.resource`, SCOPE_RESOURCES);
    if (resource === undefined) throw new ConfigError(`${at}.resource`, `missing (one of ${SCOPE_RESOURCES.join(', ')})`);
    const ids = (readList(item.ids, `${at}.ids`, 'id globs') ?? ['*']).map((id, j) => {
      if (typeof id !== 'string' && typeof id !== 'number') throw new ConfigError(`${at}.ids[${j}]`, `expected an id or a glob like "tenant-a-*", got ${describeValue(id)}`);
      if (String(id) === '') throw new ConfigError(`${at}.ids[${j}]`, 'empty');
      return String(id);
    });
    const methods = (readList(item.methods, `${at}.methods`, 'HTTP methods') ?? SCOPE_METHODS).map((m, j) => {
      const upper = typeof m === 'string' ? m.toUpperCase() : '';
      if (!SCOPE_METHODS.includes(upper)) throw new ConfigError(`${at}.methods[${j}]`, `expected one of ${SCOPE_METHODS.join(', ')}, got ${describeValue(m)}`);
      return upper;
    });
    return { resource, ids, methods };
  });
}

function readListen(value: unknown, ctx: ReadCtx): ListenAddr {
  const path = 'deployment.admin.admin_listen';
  const listen = readMap(value, path);
  if (!listen) return { ...DEFAULT_LISTEN };
  checkKeys(listen, path, ctx);
  const ipText = readString(listen.ip, `${path}.ip`, ctx, 'an IP address');
  let host = DEFAULT_LISTEN.host;
  if (ipText !== undefined) {
    const ip = canonicalIp(ipText);
    if (ip === null) {
      const expected = 'an IP address such as "127.0.0.1" or "::1" (no brackets)';
      throw new ConfigError(`${path}.ip`, `expected ${expected}, got ${describeValue(ipText)}`);
    }
    host = ip;
  }
  return { host, port: readPort(listen.port, `${path}.port`, DEFAULT_LISTEN.port) };
}

function readAllow(value: unknown): string[] {
  const path = 'deployment.admin.allow_admin';
  const items = readList(value, path, 'IP addresses or CIDRs');
  if (!items) return [...DEFAULT_ALLOW];
  return items.map((item, i) => {
    if (typeof item !== 'string' || !parseCidr(item)) {
      const problem = `expected an IP address or CIDR like "10.0.0.0/8", got ${describeValue(item)}`;
      throw new ConfigError(`${path}[${i}]`, problem);
    }
    return item;
  });
}

/** 127.0.0.0/8 or ::1 (host is already canonical). */
function isLoopback(host: string): boolean {
  return host === '::1' || /^127\./.test(host);
}
