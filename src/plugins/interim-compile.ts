// INTERIM (issue 13, second half): compiles a route's mqtt-proxy, syslog and prometheus confs into its filter
// chain until the plugin framework of the first half lands (its FilterCompiler compiles every plugin the
// same way, from its registry). At merge this file goes: SECOND_HALF_PLUGINS join the framework's
// PLUGIN_MODULES, and start.ts uses the framework's compiler instead of interimFilterCompiler.
//
// Plugins of the first half (ip-restriction, limit-conn, traffic-split, ...) are left to that framework: this
// compiler skips them. A conf that fails its plugin's schema makes the route refuse its connections (500),
// as the framework does for a plugin that cannot compile, rather than run without it.

import * as v from 'valibot';
import { isPlainObject, type JsonObject } from '../lib/json';
import type { PluginMetrics } from '../metrics/types';
import { buildChain } from '../proxy/filter/chain';
import { type FilterChain, NO_FILTERS, type StreamFilter } from '../proxy/filter/types';
import { formatIssue } from '../schema/common';
import { mqttProxy } from './mqtt-proxy';
import { prometheus } from './prometheus';
import { syslog } from './syslog';
import type { PluginCompileContext, PluginModule } from './types';

/** The plugin modules of issue 13's second half, for the framework's PLUGIN_MODULES. */
export const SECOND_HALF_PLUGINS: readonly PluginModule[] = [mqttProxy, syslog, prometheus];

const BY_NAME = new Map(SECOND_HALF_PLUGINS.map((p) => [p.name, p]));

export interface InterimCompilerOptions {
  metrics: PluginMetrics | null;
  /** plugin_metadata/<name> (none before the framework brings its storage). */
  metadata?: (name: string) => JsonObject | null;
  attr?: (name: string) => JsonObject | null;
  /** Where compile problems go (a warning each). */
  warn?: (message: string) => void;
}

/** A plugin conf checked the way the framework checks it: its schema, then its own checks. Null when valid. */
export function checkConf(plugin: PluginModule, conf: unknown): string | null {
  const result = v.safeParse(plugin.schema, conf, { abortEarly: true });
  if (!result.success) return formatIssue(result.issues[0]);
  return plugin.check?.(conf as JsonObject) ?? null;
}

function refuseAll(name: string, why: string): StreamFilter {
  return { name, priority: Number.MAX_SAFE_INTEGER, access: () => ({ code: 500, reason: `${name}: ${why}` }) };
}

/** BuildDeps.compileFilters: runs once per route version per snapshot build. */
export function interimFilterCompiler(opts: InterimCompilerOptions): (route: JsonObject) => FilterChain {
  return (route) => {
    const plugins = route.plugins;
    if (!isPlainObject(plugins)) return NO_FILTERS;
    const filters: StreamFilter[] = [];
    const routeId = String(route.id ?? '');
    for (const [name, conf] of Object.entries(plugins)) {
      const plugin = BY_NAME.get(name);
      if (plugin === undefined || !isPlainObject(conf)) continue;
      if (isPlainObject(conf._meta) && conf._meta.disable === true) continue;
      const problem = checkConf(plugin, conf);
      if (problem !== null) {
        const why = `failed to check the configuration of stream plugin [${name}]: ${problem}`;
        opts.warn?.(`stream_routes/${routeId}: ${why}; the route refuses connections`);
        filters.push(refuseAll(name, why));
        continue;
      }
      const ctx: PluginCompileContext = {
        routeId,
        route,
        metadata: opts.metadata ?? (() => null),
        attr: opts.attr ?? (() => null),
        metrics: opts.metrics,
        problem: (message) => opts.warn?.(`stream_routes/${routeId}: ${name}: ${message}`),
      };
      try {
        filters.push(plugin.compile(conf, ctx));
      } catch (err) {
        filters.push(refuseAll(name, `failed to compile: ${(err as Error).message}`));
      }
    }
    return buildChain(filters);
  };
}
