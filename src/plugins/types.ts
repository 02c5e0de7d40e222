// What a stream plugin is: an APISIX name and priority, a schema for its conf, and a compile step that turns one
// route's conf into a StreamFilter (src/proxy/filter/types.ts). Plugins are compiled once per snapshot build
// (cached while the route's plugin text is unchanged); the filters they return run per connection.

import type { JsonObject } from '../lib/json';
import type { PluginMetrics } from '../metrics/types';
import type { StreamFilter } from '../proxy/filter/types';
import type { AnySchema } from '../schema/common';
import type { CompiledUpstream } from '../snapshot/types';
import type { ConnCounters } from './conn-counters';

/** What compile() may use besides the conf. Valid during the call only (do not keep it in the filter). */
export interface PluginCompileContext {
  /** The route's resource key ("/apisix/stream_routes/1") and id. */
  readonly routeKey: string;
  readonly routeId: string;
  /** The route's stored value, after its service was merged in (service_id kept). */
  readonly route: JsonObject;
  /** An upstream object of the snapshot being built, by id; null when it is missing or cannot forward. */
  upstreamById(id: string): CompiledUpstream | null;
  /**
   * Compile an upstream written inside a plugin conf (traffic-split). `key` names it in logs and health
   * status. The result is reused by later builds while the text is the same. Null (with problem() called)
   * when it cannot forward.
   */
  compileUpstream(key: string, value: JsonObject): CompiledUpstream | null;
  /** plugin_metadata/<name> as stored (settings shared by every instance of the plugin), or null. */
  metadata(name: string): JsonObject | null;
  /** config.yaml plugin_attr.<name>, or null. */
  attr(name: string): JsonObject | null;
  /** Connection counters shared by every route of this process (limit-conn); host-wide with several workers. */
  readonly counters: ConnCounters;
  /** The process's metrics when the prometheus export server runs (stream_plugins lists prometheus), else null. */
  readonly metrics: PluginMetrics | null;
  /** A problem found while compiling, logged once by the snapshot build (e.g. a missing upstream_id). */
  problem(message: string): void;
}

/**
 * One stream plugin. The schema is APISIX's (field names, types, defaults, required fields); its messages
 * are lua-resty-jsonschema's, nested the same way (src/plugins/schema.ts). Confs are stored as sent:
 * compile() applies the defaults.
 */
export interface PluginModule {
  /** APISIX's name, e.g. "ip-restriction". */
  readonly name: string;
  /** APISIX's priority: higher runs first. */
  readonly priority: number;
  /** The conf schema (valibot), `_meta` excluded: the framework checks that one for every plugin. */
  readonly schema: AnySchema;
  /** The same schema as JSON Schema, for GET /apisix/admin/plugins/{name} (the framework adds `_meta`). */
  readonly jsonSchema: JsonObject;
  /** Checks beyond the schema (APISIX's check_schema code), on a conf that passed it: null or the message. */
  check?(conf: JsonObject): string | null;
  /** plugin_metadata/<name> schema; absent: any object (APISIX's injected empty metadata schema). */
  readonly metadataSchema?: AnySchema;
  /** weir's own plugin, not one of APISIX's (documented as an extension). */
  readonly extension?: boolean;
  /**
   * Turn a valid conf into the route's filter. Runs once per route version per snapshot build, never per
   * connection. May throw: the route then refuses every connection (500) and the build names the problem,
   * rather than serving without, say, its ip-restriction.
   */
  compile(conf: JsonObject, ctx: PluginCompileContext): StreamFilter;
}
