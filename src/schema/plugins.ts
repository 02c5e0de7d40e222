// A `plugins` map on a stream route or service, checked as APISIX's plugin.stream_check_schema does: each conf is
// an object, names an enabled stream plugin (config.yaml stream_plugins), and passes that plugin's own schema
// unless `_meta.disable` is true. The plugins themselves and their schemas live in src/plugins/.

import { DEFAULT_PLUGINS, type PluginSet } from '../plugins/registry';
import { checkPluginConf } from '../plugins/schema';
import { clip, isPlainObject } from './common';

/** Which plugins a check accepts, and what happens to the others. */
export interface PluginCheckOptions {
  /** The enabled stream plugins; default: the set a config without stream_plugins enables. */
  plugins?: PluginSet;
  /**
   * Skip names that are not enabled instead of refusing them: what the data plane does with stored objects
   * (APISIX's skip_disabled_plugin), so a plugin taken out of stream_plugins does not take its routes down.
   */
  skipUnknown?: boolean;
}

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
 * `invalid plugin conf <json> for plugin [name]`, `unknown plugin [name]`, or
 * `failed to check the configuration of stream plugin [name]: <jsonschema message>`.
 */
export function checkPlugins(plugins: Record<string, unknown>, opts: PluginCheckOptions = {}): string | null {
  const set = opts.plugins ?? DEFAULT_PLUGINS;
  for (const name of Object.keys(plugins)) {
    const conf = plugins[name];
    // APISIX only rejects non-tables here (a Lua array is a table); weir also rejects JSON arrays,
    // which no stream plugin accepts as its conf.
    if (!isPlainObject(conf)) return `invalid plugin conf ${encodeConf(conf)} for plugin [${clip(name)}]`;
    const plugin = set.get(name);
    if (plugin === undefined) {
      if (opts.skipUnknown) continue;
      return `unknown plugin [${clip(name)}]`;
    }
    const problem = checkPluginConf(plugin, conf);
    // a disabled plugin never runs: APISIX accepts its conf anyway (with a warning in its log)
    if (problem !== null && !isDisabledConf(conf)) return `failed to check the configuration of stream plugin [${name}]: ${problem}`;
  }
  return null;
}

function isDisabledConf(conf: Record<string, unknown>): boolean {
  return isPlainObject(conf._meta) && conf._meta.disable === true;
}
