// plugin_metadata/<name>: settings shared by every instance of one plugin (syslog's log_format, ...). As in
// APISIX, the id is the plugin's name, any plugin weir has may get one (enabled or not), and a plugin without a
// metadata schema takes any object.

import { findPlugin } from '../plugins/registry';
import { schemaError } from '../plugins/schema';

/** Null when `body` (already known to be a JSON object) is valid metadata for the plugin `name`. */
export function checkPluginMetadata(name: string | undefined, body: Record<string, unknown>): string | null {
  if (name === undefined || name === '') return 'missing plugin name';
  const plugin = findPlugin(name);
  if (plugin === undefined) return 'invalid plugin name';
  if (plugin.metadataSchema === undefined) return null;
  const problem = schemaError(plugin.metadataSchema, body);
  return problem === null ? null : `invalid configuration: ${problem}`;
}
