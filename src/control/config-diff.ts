// What a config reload changes (pure): the settings that differ between the config in force and the new one,
// which of them apply live, and the config to run with (the new one, with the settings that cannot change in a
// running process kept at their old values).

import { formatHostPort } from '../lib/ip';
import type { Config } from '../config/types';

export interface ConfigDiff {
  /** Settings that differ and apply now, by their config key ("nginx_config.worker_shutdown_timeout"). */
  live: string[];
  /** Settings that differ but keep their old value until a restart or `weir upgrade`, with both values. */
  kept: string[];
  /** `next` with the kept settings at their old values: what the process runs with after the reload. */
  effective: Config;
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/** A setting that a running process cannot change: how to read it, and how it is shown. */
interface Fixed {
  key: string;
  read(c: Config): unknown;
  show(c: Config): string;
  keep(effective: Config, old: Config): void;
}

const FIXED: readonly Fixed[] = [
  {
    key: 'deployment.admin.admin_listen',
    read: (c) => c.admin.listen,
    show: (c) => formatHostPort(c.admin.listen.host, c.admin.listen.port),
    keep: (e, o) => void (e.admin = { ...e.admin, listen: o.admin.listen }),
  },
  { key: 'apisix.enable_admin', read: (c) => c.enableAdmin, show: (c) => String(c.enableAdmin), keep: (e, o) => void (e.enableAdmin = o.enableAdmin) },
  {
    key: 'apisix.proxy_mode',
    read: (c) => c.streamEnabled,
    show: (c) => (c.streamEnabled ? 'stream on' : 'http only'),
    keep: (e, o) => void (e.streamEnabled = o.streamEnabled),
  },
  { key: 'deployment.sqlite.path', read: (c) => c.sqlite.path, show: (c) => c.sqlite.path, keep: (e, o) => void (e.sqlite = o.sqlite) },
  {
    key: 'nginx_config.worker_processes',
    read: (c) => c.workerProcesses ?? 1,
    show: (c) => String(c.workerProcesses ?? 1),
    keep: (e, o) => {
      if (o.workerProcesses === undefined) delete e.workerProcesses;
      else e.workerProcesses = o.workerProcesses;
    },
  },
  {
    key: 'apisix.ssl.ssl_trusted_certificate',
    read: (c) => c.tls?.trustedCertificate ?? 'system',
    show: (c) => c.tls?.trustedCertificate ?? 'system',
    keep: (e, o) => {
      if (e.tls === undefined) return;
      e.tls = { ...e.tls };
      if (o.tls?.trustedCertificate === undefined) delete e.tls.trustedCertificate;
      else e.tls.trustedCertificate = o.tls.trustedCertificate;
    },
  },
  // read once at start by the TCP/UDP proxies and the name resolver: a reload names them instead of ignoring them
  {
    key: 'apisix.stream_proxy.max_connections',
    read: (c) => c.maxConnections ?? null,
    show: (c) => String(c.maxConnections ?? 'default'),
    keep: (e, o) => {
      if (o.maxConnections === undefined) delete e.maxConnections;
      else e.maxConnections = o.maxConnections;
    },
  },
  // the receive buffer is asked for when a UDP listener is bound, with the data plane's setting made at start
  {
    key: 'nginx_config.stream.udp_rcvbuf',
    read: (c) => c.udp.rcvbuf,
    show: (c) => String(c.udp.rcvbuf),
    keep: (e, o) => void (e.udp = { ...e.udp, rcvbuf: o.udp.rcvbuf }),
  },
  {
    key: 'nginx_config.stream.real_ip_from',
    read: (c) => c.realIpFrom ?? null,
    show: (c) => (c.realIpFrom === undefined ? 'any peer' : c.realIpFrom.join(',')),
    keep: (e, o) => {
      if (o.realIpFrom === undefined) delete e.realIpFrom;
      else e.realIpFrom = o.realIpFrom;
    },
  },
  {
    key: 'apisix.dns_resolver / dns_resolver_valid',
    read: (c) => c.dns ?? null,
    show: (c) => JSON.stringify(c.dns ?? 'system'),
    keep: (e, o) => {
      if (o.dns === undefined) delete e.dns;
      else e.dns = o.dns;
    },
  },
];

/** Settings a reload applies to the running process, each with how to compare it. */
const LIVE: ReadonlyArray<[string, (c: Config) => unknown]> = [
  ['apisix.stream_proxy (listeners)', (c) => c.stream],
  ['nginx_config.worker_shutdown_timeout', (c) => c.shutdownGraceMs],
  ['nginx_config.stream.enable_access_log / access_log', (c) => c.log.access],
  ['nginx_config.stream.udp_max_sessions / proxy_responses', (c) => [c.udp.maxSessions, c.udp.responses]],
  ['nginx_config.stream.udp_max_sessions_per_source / udp_session_rate / udp_session_burst', (c) => c.udp.admission],
  ['nginx_config.stream.preread_timeout / ssl_handshake_timeout', (c) => [c.tls?.prereadTimeoutMs, c.tls?.handshakeTimeoutMs]],
  ['apisix.ssl.fallback_sni', (c) => c.tls?.fallbackSni ?? null],
  ['apisix.data_encryption (keyring)', (c) => [c.tls?.keyring ?? null, c.tls?.encryptionEnabled ?? true]],
  ['deployment.admin.admin_key', (c) => [c.admin.keys, c.admin.keyRequired]],
  ['deployment.admin.allow_admin', (c) => c.admin.allow],
  ['deployment.admin.enable_admin_cors', (c) => c.admin.cors],
  // the plugin set, the chains naming a changed plugin and the prometheus export (src/control/live-plugins.ts)
  ['stream_plugins', (c) => c.streamPlugins ?? null],
  ['plugin_attr', (c) => c.pluginAttr ?? null],
];

/** Compare the config in force with a newly read one. Runs on every reload (SIGHUP, `weir reload`). */
export function diffConfig(old: Config, next: Config): ConfigDiff {
  const effective: Config = { ...next };
  const kept: string[] = [];
  for (const f of FIXED) {
    if (same(f.read(old), f.read(next))) continue;
    kept.push(`${f.key}: ${f.show(next)} needs a restart or \`weir upgrade\`; still ${f.show(old)}`);
    f.keep(effective, old);
  }
  const live = LIVE.filter(([, read]) => !same(read(old), read(effective))).map(([key]) => key);
  return { live, kept, effective };
}
