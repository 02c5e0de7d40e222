// `stream_plugins` (the enabled stream plugins, APISIX's top-level key) and `plugin_attr` (per-plugin process
// settings, e.g. prometheus.export_addr). Pure: which names weir implements is checked at start (src/plugins/).

import { ConfigError } from './types';
import { describeValue, isMap, readList, readMap, type YamlMap } from './read';

/** The list as written (order kept, repeats dropped); null when the key is absent or empty (weir's default list then). */
export function readStreamPlugins(value: unknown): string[] | null {
  const list = readList(value, 'stream_plugins', 'plugin names');
  if (list === undefined) return null;
  const names: string[] = [];
  list.forEach((item, i) => {
    if (typeof item !== 'string' || item.trim() === '') {
      throw new ConfigError(`stream_plugins[${i}]`, `expected a plugin name, got ${describeValue(item)}`);
    }
    if (!names.includes(item.trim())) names.push(item.trim());
  });
  return names;
}

/** plugin_attr: a mapping of plugin name to a mapping of settings, kept as written for the plugins to read. */
export function readPluginAttr(value: unknown): Record<string, YamlMap> {
  const map = readMap(value, 'plugin_attr') ?? {};
  const out: Record<string, YamlMap> = {};
  for (const [name, attrs] of Object.entries(map)) {
    if (attrs === null || attrs === undefined) continue;
    if (!isMap(attrs)) throw new ConfigError(`plugin_attr.${name}`, `expected a mapping, got ${describeValue(attrs)}`);
    out[name] = attrs;
  }
  return out;
}
