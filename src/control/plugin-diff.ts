// What a reload changes in the stream plugins (pure): `stream_plugins` and `plugin_attr` of the config in force
// against a newly read one, as the steps src/control/live-plugins.ts takes: which routes' plugin chains are
// compiled again, what becomes of the metrics and of the prometheus export server. Also the config that
// PUT /apisix/admin/plugins/reload applies: the one in force with only those two keys taken from the file.

import type { Config, MetricsSettings } from '../config/types';
import { DEFAULT_STREAM_PLUGINS } from '../plugins/registry';

export interface PluginChange {
  /** stream_plugins or plugin_attr differ (the enabled set, the compiler and the snapshot are then renewed). */
  changed: boolean;
  /**
   * Plugins whose route chains are compiled again: those enabled or disabled, and those whose plugin_attr entry
   * changed. 'all' when the metrics object changes (prometheus and the logger plugins hold parts of it).
   */
  recompile: 'all' | string[];
  /** start: prometheus listed now; stop: no longer; renew: metric_prefix changed (a new set of counters). */
  metrics: 'keep' | 'start' | 'stop' | 'renew';
  /** move: a new export_addr; path: only export_uri changed (the server keeps its socket). */
  exportServer: 'keep' | 'start' | 'stop' | 'move' | 'path';
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/** The enabled names as configured (unknown names included: they change nothing, but compare like the rest). */
function listed(c: Config): readonly string[] {
  return c.streamPlugins ?? DEFAULT_STREAM_PLUGINS;
}

function metricsStep(prev: MetricsSettings | null, next: MetricsSettings | null): PluginChange['metrics'] {
  if (prev === null) return next === null ? 'keep' : 'start';
  if (next === null) return 'stop';
  return prev.prefix === next.prefix ? 'keep' : 'renew';
}

function exportStep(prev: MetricsSettings | null, next: MetricsSettings | null): PluginChange['exportServer'] {
  if (prev === null) return next === null ? 'keep' : 'start';
  if (next === null) return 'stop';
  if (!same(prev.exportAddr, next.exportAddr)) return 'move';
  return prev.exportUri === next.exportUri ? 'keep' : 'path';
}

/** Compare the plugin keys of two configs. Runs on every reload, before anything changes. */
export function diffPlugins(prev: Config, next: Config): PluginChange {
  const before = listed(prev);
  const after = listed(next);
  const prevAttr = prev.pluginAttr ?? {};
  const nextAttr = next.pluginAttr ?? {};
  const metrics = metricsStep(prev.metrics ?? null, next.metrics ?? null);
  const changed = !same(prev.streamPlugins ?? null, next.streamPlugins ?? null) || !same(prevAttr, nextAttr) || !same(prev.metrics ?? null, next.metrics ?? null);
  const names = new Set<string>();
  for (const n of before) if (!after.includes(n)) names.add(n);
  for (const n of after) if (!before.includes(n)) names.add(n);
  for (const n of new Set([...Object.keys(prevAttr), ...Object.keys(nextAttr)])) if (!same(prevAttr[n], nextAttr[n])) names.add(n);
  return {
    changed,
    recompile: metrics === 'keep' ? [...names].sort() : 'all',
    metrics,
    exportServer: exportStep(prev.metrics ?? null, next.metrics ?? null),
  };
}

/**
 * The config in force with the plugin keys of `file` (stream_plugins, plugin_attr and the export settings read
 * from them): what PUT /apisix/admin/plugins/reload applies, leaving every other key of the file for a reload.
 */
export function withPluginKeys(current: Config, file: Config): Config {
  const out: Config = { ...current };
  delete out.streamPlugins;
  delete out.pluginAttr;
  delete out.metrics;
  if (file.streamPlugins !== undefined) out.streamPlugins = file.streamPlugins;
  if (file.pluginAttr !== undefined) out.pluginAttr = file.pluginAttr;
  if (file.metrics !== undefined) out.metrics = file.metrics;
  return out;
}
