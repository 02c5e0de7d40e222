// conf/config.yaml text -> validated, normalised Config (pure: no files; the environment is a parameter).
// Keys follow APISIX 3.x's config.yaml so an APISIX stream-proxy config loads as is.

import { parseDocument, type YAMLError } from 'yaml';
import { ConfigError, type Config, type TcpListenSpec, type ListenAddr } from './types';
import { substituteEnv, type Env } from './env';
import { readStreamListeners } from './listen';
import { readMaxConnections } from './limits';
import { readAdmin } from './admin';
import { readUdpSettings } from './udp';
import { readTlsSettings, readTlsTimeouts } from './tls';
import { readWorkerProcesses } from './workers';
import { readRealIpFrom } from './real-ip';
import { readDnsSettings } from './dns';
import { readPluginAttr, readStreamPlugins } from './plugins';
import { readMetricsSettings } from './metrics';
import { readFleetSettings } from './deployment';
import { readStatusListen } from './status';
import {
  checkKeys,
  describeValue,
  isMap,
  readBool,
  readChoice,
  readDurationMs,
  readMap,
  readString,
  type ReadCtx,
  type YamlMap,
} from './read';

const PROXY_MODES = ['http', 'stream', 'http&stream'] as const;
const DEFAULT_SQLITE_PATH = 'data/weir.db';
const DEFAULT_SHUTDOWN_GRACE_MS = 240_000;

/**
 * Parse and validate config text. `source` names the file (or "<embedded default>") in messages and in
 * `config.source`. Called once at start and by offline commands. Throws ConfigError naming the YAML path;
 * problems that do not stop weir (unknown keys, ignored features) come back as `warnings`.
 */
export function parseConfig(
  text: string,
  source: string,
  env: Env = process.env,
): { config: Config; warnings: string[] } {
  const warnings: string[] = [];
  const { tree, converted } = substituteEnv(parseYaml(text, source, warnings), env);
  const ctx: ReadCtx = { warnings, notUsed: [], substituted: converted };
  if (tree !== null && tree !== undefined && !isMap(tree)) {
    throw new ConfigError('', `${source}: expected a mapping of settings at the top level, got ${describeValue(tree)}`);
  }
  const top: YamlMap = isMap(tree) ? tree : {};
  checkKeys(top, '', ctx);

  const apisix = readMap(top.apisix, 'apisix') ?? {};
  checkKeys(apisix, 'apisix', ctx);
  const enableAdmin = readBool(apisix.enable_admin, 'apisix.enable_admin', true);
  // weir's choice: stream is on unless proxy_mode says "http" (APISIX also needs stream_proxy present).
  const streamEnabled = readChoice(apisix.proxy_mode, 'apisix.proxy_mode', PROXY_MODES) !== 'http';
  const streamProxy = readMap(apisix.stream_proxy, 'apisix.stream_proxy') ?? {};
  // `only` is APISIX 2.x's switch, replaced by proxy_mode; APISIX itself ignores it now.
  checkKeys(streamProxy, 'apisix.stream_proxy', ctx);
  let stream = readStreamListeners(streamProxy, ctx);
  const maxConnections = readMaxConnections(streamProxy.max_connections, 'apisix.stream_proxy.max_connections');
  if (!streamEnabled && stream.tcp.length + stream.udp.length > 0) {
    warnings.push('apisix.stream_proxy: not listening, because apisix.proxy_mode is "http"');
    stream = { tcp: [], udp: [] };
  }

  const tls = readTlsSettings(apisix, ctx);
  const statusListen = readStatusListen(apisix, ctx);
  const dns = readDnsSettings(apisix);

  const deployment = readMap(top.deployment, 'deployment') ?? {};
  checkKeys(deployment, 'deployment', ctx);
  const admin = readAdmin(readMap(deployment.admin, 'deployment.admin'), enableAdmin, ctx);
  if (enableAdmin) checkAdminPort(admin.listen, stream.tcp);
  const metrics = readMetricsSettings(top, ctx);
  if (metrics !== null) checkExportPort(metrics.exportAddr, enableAdmin ? admin.listen : null, stream.tcp);
  const sqlite = readMap(deployment.sqlite, 'deployment.sqlite') ?? {};
  checkKeys(sqlite, 'deployment.sqlite', ctx);
  const sqlitePath = readPath(sqlite.path, 'deployment.sqlite.path', ctx) ?? DEFAULT_SQLITE_PATH;
  const fleet = readFleetSettings(deployment, ctx);

  const nginx = readMap(top.nginx_config, 'nginx_config') ?? {};
  checkKeys(nginx, 'nginx_config', ctx);
  const shutdownGraceMs = readDurationMs(
    nginx.worker_shutdown_timeout,
    'nginx_config.worker_shutdown_timeout',
    DEFAULT_SHUTDOWN_GRACE_MS,
  );
  // only present when set, so configs without the key compare equal to what they were before multi-core
  const workers = nginx.worker_processes === undefined ? {} : { workerProcesses: readWorkerProcesses(nginx.worker_processes, 'nginx_config.worker_processes') };
  const nginxStream = readMap(nginx.stream, 'nginx_config.stream') ?? {};
  const access = readAccessLog(nginxStream, ctx);
  const udp = readUdpSettings(nginxStream);
  Object.assign(tls, readTlsTimeouts(nginxStream));
  const realIpFrom = readRealIpFrom(nginxStream.real_ip_from, 'nginx_config.stream.real_ip_from');
  const receiving = [...stream.tcp, ...stream.udp].some((spec) => spec.proxyProtocol === true);
  if (realIpFrom !== undefined && !receiving) {
    warnings.push('nginx_config.stream.real_ip_from: no listener has proxy_protocol: true, so no PROXY header is read');
  }

  const streamPlugins = readStreamPlugins(top.stream_plugins);
  const pluginAttr = readPluginAttr(top.plugin_attr);

  if (ctx.notUsed.length > 0) warnings.push(`not used by weir (ignored): ${ctx.notUsed.join(', ')}`);
  const config: Config = {
    source,
    enableAdmin,
    streamEnabled,
    stream,
    udp,
    admin,
    sqlite: { path: sqlitePath },
    log: { access },
    tls,
    shutdownGraceMs,
    ...workers,
    ...(realIpFrom !== undefined ? { realIpFrom } : {}),
    ...(maxConnections === undefined ? {} : { maxConnections }),
    // only present when set, so configs without the keys compare equal to what they were before
    ...(dns.servers === null && dns.validMs === null ? {} : { dns }),
    // only present when set, like worker_processes
    ...(streamPlugins === null ? {} : { streamPlugins }),
    ...(Object.keys(pluginAttr).length === 0 ? {} : { pluginAttr }),
    // only present when on, so configs without it compare equal to what they were before metrics
    ...(metrics === null ? {} : { metrics }),
    ...(fleet === null ? {} : { fleet }),
    ...(statusListen === null ? {} : { statusListen }),
  };
  return { config, warnings };
}

function parseYaml(text: string, source: string, warnings: string[]): unknown {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  const error = doc.errors[0];
  if (error) {
    const problem = error.code === 'MULTIPLE_DOCS' ? 'expected one YAML document, found more' : headline(error);
    throw new ConfigError('', `${source}: YAML syntax error${where(error)}: ${problem}`);
  }
  for (const warning of doc.warnings) warnings.push(`${source}: YAML${where(warning)}: ${headline(warning)}`);
  try {
    return doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    // An alias bomb ("billion laughs") or similar: yaml refuses to expand it.
    throw new ConfigError('', `${source}: ${(err as Error).message}`);
  }
}

/** yaml's message without its own " at line X, column Y:" suffix and code excerpt. */
function headline(error: YAMLError): string {
  const cut = error.message.indexOf(' at line ');
  return cut < 0 ? error.message.split('\n')[0]! : error.message.slice(0, cut);
}

function where(error: YAMLError): string {
  const pos = error.linePos?.[0];
  return pos ? ` at line ${pos.line}, column ${pos.col}` : '';
}

// weir logs every closed connection by default (APISIX: off), to standard output unless a file is named.
function readAccessLog(stream: YamlMap, ctx: ReadCtx): Config['log']['access'] {
  checkKeys(stream, 'nginx_config.stream', ctx);
  return {
    enabled: readBool(stream.enable_access_log, 'nginx_config.stream.enable_access_log', true),
    path: readPath(stream.access_log, 'nginx_config.stream.access_log', ctx) ?? null,
  };
}

/** A file path kept as written (the caller resolves it against the working directory). */
function readPath(value: unknown, path: string, ctx: ReadCtx): string | undefined {
  const text = readString(value, path, ctx, 'a file path');
  if (text === '') throw new ConfigError(path, 'expected a file path, got ""');
  return text;
}

/** The Admin API and a TCP stream listener cannot share a socket address: fail here, not at bind time. */
function checkAdminPort(listen: ListenAddr, tcp: readonly TcpListenSpec[]): void {
  for (const spec of tcp) {
    if (spec.port === listen.port && addressesOverlap(spec.host, listen.host)) {
      throw new ConfigError(
        'deployment.admin.admin_listen',
        `port ${listen.port} on ${JSON.stringify(listen.host)} is also the stream listener ${spec.origin}`,
      );
    }
  }
}

/** The export server shares no socket address with the Admin API or a TCP stream listener (APISIX: fatal). */
function checkExportPort(exportAddr: ListenAddr, admin: ListenAddr | null, tcp: readonly TcpListenSpec[]): void {
  const path = 'plugin_attr.prometheus.export_addr';
  if (admin !== null && admin.port === exportAddr.port && addressesOverlap(admin.host, exportAddr.host)) {
    throw new ConfigError(path, `port ${exportAddr.port} is also the Admin API's (deployment.admin.admin_listen)`);
  }
  for (const spec of tcp) {
    if (spec.port === exportAddr.port && addressesOverlap(spec.host, exportAddr.host)) {
      throw new ConfigError(path, `port ${exportAddr.port} on ${JSON.stringify(exportAddr.host)} is also the stream listener ${spec.origin}`);
    }
  }
}

/** Same canonical host, or a wildcard of the same family ("::" also takes IPv4 on dual-stack hosts). */
function addressesOverlap(a: string, b: string): boolean {
  if (a === b || a === '::' || b === '::') return true;
  const bothV4 = !a.includes(':') && !b.includes(':');
  return bothV4 && (a === '0.0.0.0' || b === '0.0.0.0');
}
