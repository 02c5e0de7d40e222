// prometheus (APISIX priority 500): count the route's connections, bytes, connect attempts and refusals for
// the export server. The plugin runs no phase of its own: compiling it hands the route's counters to the
// chain (StreamFilter.meter -> FilterChain.meter), which the flows update in place. `prefer_name` labels
// the route by its name instead of its id, as in APISIX. Without the export server (stream_plugins does not
// list prometheus, or enable_export_server is false) there is nothing to count into.

import type { JsonObject } from '../lib/json';
import type { StreamFilter } from '../proxy/filter/types';
import { bool, looseObj, opt } from '../schema/common';
import type { PluginCompileContext, PluginModule } from './types';

const NAME = 'prometheus';
const PRIORITY = 500;

/** The route label: the route's id, or with prefer_name its name when it has one (APISIX's rule). */
export function routeLabel(conf: JsonObject, routeId: string, route: JsonObject): string {
  const name = route.name;
  return conf.prefer_name === true && typeof name === 'string' && name !== '' ? name : routeId;
}

export const prometheus: PluginModule = {
  name: NAME,
  priority: PRIORITY,
  schema: looseObj({ prefer_name: opt(bool()) }),
  jsonSchema: {
    type: 'object',
    properties: { prefer_name: { type: 'boolean', default: false } },
  },

  compile(conf: JsonObject, ctx: PluginCompileContext): StreamFilter {
    if (ctx.metrics === null) return { name: NAME, priority: PRIORITY };
    return { name: NAME, priority: PRIORITY, meter: ctx.metrics.routeMeter(routeLabel(conf, ctx.routeId, ctx.route)) };
  },
};
