// The prometheus export server's settings: on when `stream_plugins` lists prometheus (as in APISIX, whose
// default list leaves it out) and plugin_attr.prometheus.enable_export_server is not false; where it listens
// and under which path it serves come from plugin_attr.prometheus, with APISIX's defaults. Read at start and by
// each reload (src/control/live-plugins.ts applies a change).

import { ConfigError, type ListenAddr, type MetricsSettings } from './types';
import { canonicalIp } from './listen';
import { checkKeys, describeValue, readBool, readMap, readPort, readString, type ReadCtx, type YamlMap } from './read';

const PATH = 'plugin_attr.prometheus';
export const DEFAULT_EXPORT_ADDR: ListenAddr = { host: '127.0.0.1', port: 9091 };
export const DEFAULT_EXPORT_URI = '/apisix/prometheus/metrics';
export const DEFAULT_METRIC_PREFIX = 'apisix_';

/**
 * `top` is the whole config. Null when the export server is off. `stream_plugins` itself is validated where
 * the enabled plugins are read; here only whether it names prometheus matters.
 */
export function readMetricsSettings(top: YamlMap, ctx: ReadCtx): MetricsSettings | null {
  const attr = readMap(readMap(top.plugin_attr, 'plugin_attr')?.prometheus, PATH) ?? {};
  checkKeys(attr, PATH, ctx);
  const listed = Array.isArray(top.stream_plugins) && top.stream_plugins.includes('prometheus');
  const enabled = readBool(attr.enable_export_server, `${PATH}.enable_export_server`, true);
  const exportUri = readString(attr.export_uri, `${PATH}.export_uri`, ctx) ?? DEFAULT_EXPORT_URI;
  if (!exportUri.startsWith('/')) throw new ConfigError(`${PATH}.export_uri`, `expected a path starting with "/", got ${describeValue(exportUri)}`);
  const prefix = readString(attr.metric_prefix, `${PATH}.metric_prefix`, ctx) ?? DEFAULT_METRIC_PREFIX;
  if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(prefix)) throw new ConfigError(`${PATH}.metric_prefix`, `expected a Prometheus metric name prefix such as "apisix_", got ${describeValue(prefix)}`);
  const exportAddr = readExportAddr(attr.export_addr, ctx);
  if (!listed) return null;
  if (!enabled) {
    ctx.warnings.push(`${PATH}.enable_export_server: false, so no metrics are served (weir has no other way to reach them)`);
    return null;
  }
  return { exportAddr, exportUri, prefix };
}

function readExportAddr(value: unknown, ctx: ReadCtx): ListenAddr {
  const path = `${PATH}.export_addr`;
  const addr = readMap(value, path);
  if (addr === undefined) return { ...DEFAULT_EXPORT_ADDR };
  checkKeys(addr, path, ctx);
  const ipText = readString(addr.ip, `${path}.ip`, ctx, 'an IP address');
  let host = DEFAULT_EXPORT_ADDR.host;
  if (ipText !== undefined) {
    const ip = canonicalIp(ipText);
    if (ip === null) throw new ConfigError(`${path}.ip`, `expected an IP address such as "127.0.0.1" (no brackets), got ${describeValue(ipText)}`);
    host = ip;
  }
  return { host, port: readPort(addr.port, `${path}.port`, DEFAULT_EXPORT_ADDR.port) };
}
