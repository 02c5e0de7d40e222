// Every stream plugin weir has, and the set a config enables (config.yaml `stream_plugins`, APISIX's list).
// Adding a plugin: write its module (types.ts PluginModule) and list it in PLUGIN_MODULES; nothing else.

import { ipRestriction } from './ip-restriction';
import { limitBandwidth } from './limit-bandwidth';
import { limitConn } from './limit-conn';
import { mqttProxy } from './mqtt-proxy';
import { prometheus } from './prometheus';
import { syslog } from './syslog';
import { trafficSplit } from './traffic-split';
import type { PluginModule } from './types';

/** The plugins weir implements, by name. */
export const PLUGIN_MODULES: readonly PluginModule[] = [ipRestriction, limitConn, limitBandwidth, trafficSplit, mqttProxy, syslog, prometheus];

const BY_NAME: ReadonlyMap<string, PluginModule> = new Map(PLUGIN_MODULES.map((p) => [p.name, p]));

/**
 * `stream_plugins` when config.yaml has none: APISIX's default list (apisix/cli/config.lua), plus weir's own
 * limit-bandwidth. prometheus is not in it (as in APISIX): listing it turns the metrics export on.
 */
export const DEFAULT_STREAM_PLUGINS: readonly string[] = ['ip-restriction', 'limit-conn', 'mqtt-proxy', 'syslog', 'traffic-split', 'limit-bandwidth'];

/** A plugin weir implements, enabled or not (plugin_metadata accepts any of them, as APISIX does). */
export function findPlugin(name: string): PluginModule | undefined {
  return BY_NAME.get(name);
}

/** The enabled stream plugins: what routes and services may name. Immutable; one per config. */
export class PluginSet {
  private readonly enabled: ReadonlyMap<string, PluginModule>;
  /** Names from the list that weir has no module for (the caller warns when the user wrote them). */
  readonly unknown: readonly string[];

  constructor(names: readonly string[]) {
    const enabled = new Map<string, PluginModule>();
    const unknown: string[] = [];
    for (const name of names) {
      const plugin = BY_NAME.get(name);
      if (plugin === undefined) unknown.push(name);
      else enabled.set(name, plugin);
    }
    this.enabled = enabled;
    this.unknown = unknown;
  }

  /** The enabled plugin of that name, or undefined (unknown, or not in stream_plugins). */
  get(name: string): PluginModule | undefined {
    return this.enabled.get(name);
  }

  /** Enabled plugins, highest priority first (GET /apisix/admin/plugins/list). */
  list(): PluginModule[] {
    return [...this.enabled.values()].sort((a, b) => b.priority - a.priority || (a.name < b.name ? -1 : 1));
  }
}

/** The set a config without `stream_plugins` enables; what validation uses when no set is given. */
export const DEFAULT_PLUGINS = new PluginSet(DEFAULT_STREAM_PLUGINS);

/** The set a config enables (config.yaml stream_plugins, or the default list). */
export function pluginSetOf(config: { streamPlugins?: readonly string[] | null }): PluginSet {
  const names = config.streamPlugins ?? null;
  return names === null ? DEFAULT_PLUGINS : new PluginSet(names);
}
