// A stream plugin as a module: its APISIX name and priority, the schema of its conf, and a compile step that
// turns one route's conf into the route's StreamFilter (src/proxy/filter/types.ts). Compiling happens once per
// route version while the snapshot is built; the filter it returns is what runs per connection.
//
// NOTE (issue 13, second half): a minimal local version of the plugin framework's interface, so that the
// mqtt-proxy, syslog and prometheus modules compile on this branch. The framework's own types.ts replaces it
// at merge; the only field it needs to gain is `metrics` below.

import type { JsonObject } from '../lib/json';
import type { PluginMetrics } from '../metrics/types';
import type { StreamFilter } from '../proxy/filter/types';
import type { AnySchema } from '../schema/common';

/** What compile() may read besides the conf; valid during the call only. */
export interface PluginCompileContext {
  /** The route's id and its stored value (the service merged in, when it has one). */
  readonly routeId: string;
  readonly route: JsonObject;
  /** plugin_metadata/<name> as stored, or null. */
  metadata(name: string): JsonObject | null;
  /** config.yaml plugin_attr.<name>, or null. */
  attr(name: string): JsonObject | null;
  /** The metrics when the prometheus export server runs (stream_plugins lists prometheus), else null. */
  readonly metrics: PluginMetrics | null;
  /** Something worth a warning found while compiling (logged once by the build). */
  problem(message: string): void;
}

export interface PluginModule {
  readonly name: string;
  /** Higher runs first (APISIX's priorities). */
  readonly priority: number;
  /** The conf's schema (valibot), with APISIX's field names, types and required fields. */
  readonly schema: AnySchema;
  /** The same as JSON Schema (GET /apisix/admin/plugins/{name}). */
  readonly jsonSchema: JsonObject;
  /** Checks the schema cannot express, on a conf that passed it: null or the message. */
  check?(conf: JsonObject): string | null;
  /** The schema of plugin_metadata/<name>; absent: any object. */
  readonly metadataSchema?: AnySchema;
  /** The route's filter for a valid conf (defaults applied here, not stored). Never per connection. */
  compile(conf: JsonObject, ctx: PluginCompileContext): StreamFilter;
}
