// deployment.admin: Admin API keys, listen address, allowed client CIDRs, CORS, and the one fatal combination
// (no key required while listening beyond loopback). Runs once at start.

import { parseCidr } from '../lib/ip';
import { ConfigError, type AdminKey, type AdminRole, type Config, type ListenAddr } from './types';
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
    if (key === '') {
      // APISIX fills an empty key with a random one; weir does that at start when no key is left at all.
      ctx.warnings.push(`${itemPath}.key: empty, so this key is skipped`);
      return;
    }
    const first = seen.get(key);
    if (first !== undefined) throw new ConfigError(`${itemPath}.key`, `same key as ${first}`);
    seen.set(key, itemPath);
    keys.push({ name, key, role });
  });
  return keys;
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
