// deployment.role, deployment.role_*.config_provider and deployment.etcd (APISIX's keys): whether weir keeps its
// objects locally (traditional, the default: no etcd code runs) or shares them through etcd (issue 18).

import { ConfigError, type FleetSettings } from './types';
import { checkKeys, readBool, readChoice, readDurationMs, readList, readMap, readString, type ReadCtx, type YamlMap } from './read';

const ROLES = ['traditional', 'control_plane', 'data_plane', 'standalone'] as const;
const DEFAULT_PREFIX = '/apisix';
const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_WATCH_TIMEOUT_MS = 50_000;

function provider(deployment: YamlMap, role: string, ctx: ReadCtx): string | undefined {
  const path = `deployment.role_${role}`;
  const map = readMap(deployment[`role_${role}`], path) ?? {};
  checkKeys(map, path, ctx);
  return readString(map.config_provider, `${path}.config_provider`, ctx);
}

/**
 * The fleet settings, or null for local mode. Runs once at start. `data_plane` needs config_provider etcd
 * (yaml, json and xds are APISIX's other providers; weir has its SQLite file for that); `traditional` with an
 * explicit `role_traditional.config_provider: etcd` writes to etcd like `control_plane`.
 */
export function readFleetSettings(deployment: YamlMap, ctx: ReadCtx): FleetSettings | null {
  const role = readChoice(deployment.role, 'deployment.role', ROLES) ?? 'traditional';
  if (role === 'standalone') throw new ConfigError('deployment.role', 'standalone is not supported by weir (its SQLite file is the local store: use traditional)');
  let fleetRole: FleetSettings['role'] | null = null;
  if (role === 'data_plane') {
    const p = provider(deployment, 'data_plane', ctx) ?? 'etcd';
    if (p !== 'etcd') throw new ConfigError('deployment.role_data_plane.config_provider', `weir reads only etcd, got ${JSON.stringify(p)}`);
    fleetRole = 'data_plane';
  } else if (role === 'control_plane') {
    const p = provider(deployment, 'control_plane', ctx) ?? 'etcd';
    if (p !== 'etcd') throw new ConfigError('deployment.role_control_plane.config_provider', `weir writes only to etcd, got ${JSON.stringify(p)}`);
    fleetRole = 'control_plane';
  } else if (provider(deployment, 'traditional', ctx) === 'etcd') {
    fleetRole = 'control_plane';
  }
  const etcdMap = readMap(deployment.etcd, 'deployment.etcd');
  if (fleetRole === null) {
    if (etcdMap !== undefined) ctx.notUsed.push('deployment.etcd'); // APISIX configs carry it; traditional weir keeps its objects locally
    return null;
  }
  const etcd = etcdMap ?? {};
  checkKeys(etcd, 'deployment.etcd', ctx);
  const hosts = (readList(etcd.host, 'deployment.etcd.host', 'http:// or https:// URLs') ?? []).map((h, i) => {
    const path = `deployment.etcd.host[${i}]`;
    const text = readString(h, path, ctx, 'a URL') ?? '';
    if (!/^https?:\/\/[^/]+\/?$/.test(text)) throw new ConfigError(path, `expected http://host:port or https://host:port, got ${JSON.stringify(text)}`);
    return text.replace(/\/+$/, '');
  });
  if (hosts.length === 0) throw new ConfigError('deployment.etcd.host', `role ${role} needs at least one etcd endpoint`);
  const prefix = (readString(etcd.prefix, 'deployment.etcd.prefix', ctx) ?? DEFAULT_PREFIX).replace(/\/+$/, '');
  if (!prefix.startsWith('/')) throw new ConfigError('deployment.etcd.prefix', `expected a path starting with "/", got ${JSON.stringify(prefix)}`);
  const tlsMap = readMap(etcd.tls, 'deployment.etcd.tls') ?? {};
  checkKeys(tlsMap, 'deployment.etcd.tls', ctx);
  return {
    role: fleetRole,
    endpoints: hosts,
    prefix,
    timeoutMs: Math.max(1, readDurationMs(etcd.timeout, 'deployment.etcd.timeout', DEFAULT_TIMEOUT_MS)),
    watchTimeoutMs: Math.max(1, readDurationMs(etcd.watch_timeout, 'deployment.etcd.watch_timeout', DEFAULT_WATCH_TIMEOUT_MS)),
    user: readString(etcd.user, 'deployment.etcd.user', ctx) ?? null,
    password: readString(etcd.password, 'deployment.etcd.password', ctx) ?? null,
    tls: {
      cert: readString(tlsMap.cert, 'deployment.etcd.tls.cert', ctx) ?? null,
      key: readString(tlsMap.key, 'deployment.etcd.tls.key', ctx) ?? null,
      verify: readBool(tlsMap.verify, 'deployment.etcd.tls.verify', true),
      sni: readString(tlsMap.sni, 'deployment.etcd.tls.sni', ctx) ?? null,
    },
  };
}
