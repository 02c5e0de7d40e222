// Stream plugin map checks: known names and object-shaped confs (APISIX plugin.stream_check_schema).
// Each plugin's own config schema arrives with that plugin; until then only the shape is enforced.

import { clip, isPlainObject } from './common';

/** Stream plugins weir knows, by APISIX name. */
export const STREAM_PLUGINS: readonly string[] = [
  'ip-restriction',
  'limit-conn',
  'mqtt-proxy',
  'syslog',
  'prometheus',
  'traffic-split',
];

/** JSON text of a conf for the error message; never throws, never huge. */
function encodeConf(conf: unknown): string {
  try {
    return clip(JSON.stringify(conf) ?? String(conf));
  } catch {
    return String(typeof conf);
  }
}

/**
 * Check a `plugins` object whose shape (a JSON object) already passed. Returns null or APISIX's message:
 * `unknown plugin [name]` or `invalid plugin conf <json> for plugin [name]`.
 */
export function checkPlugins(plugins: Record<string, unknown>): string | null {
  for (const name of Object.keys(plugins)) {
    if (!STREAM_PLUGINS.includes(name)) return `unknown plugin [${clip(name)}]`;
    const conf = plugins[name];
    // APISIX only rejects non-tables here (a Lua array is a table); weir also rejects JSON arrays,
    // which no stream plugin accepts as its conf.
    if (!isPlainObject(conf)) return `invalid plugin conf ${encodeConf(conf)} for plugin [${name}]`;
  }
  return null;
}
