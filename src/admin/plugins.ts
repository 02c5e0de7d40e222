// GET /apisix/admin/plugins/list and /apisix/admin/plugins/{name} (apisix/admin/plugins.lua): the enabled plugins
// of a subsystem by priority, and one plugin's JSON Schema. weir has stream plugins only: the http subsystem
// (APISIX's default when `subsystem` is absent) lists none and finds none.

import type { IRequest, RouterType } from 'itty-router';
import type { PluginSet } from '../plugins/registry';
import { publishedSchema } from '../plugins/schema';
import { respond } from './respond';

function decode(seg: string | undefined): string {
  if (seg === undefined) return '';
  try {
    return decodeURIComponent(seg);
  } catch {
    return seg;
  }
}

/** Add both routes to the admin router, before the generic resource routes. */
export function mountPlugins(router: RouterType<IRequest, any[]>, plugins: PluginSet, cors: boolean): void {
  router.get('/apisix/admin/plugins/list', (_req: IRequest, url: URL) => {
    const subsystem = url.searchParams.get('subsystem') ?? 'http';
    // APISIX answers a bad subsystem with this bare string, not a JSON object
    if (subsystem !== 'http' && subsystem !== 'stream') return respond(400, 'invalid subsystem passed', cors);
    const names = subsystem === 'stream' ? plugins.list().map((p) => p.name) : [];
    return respond(200, JSON.stringify(names), cors);
  });

  router.get('/apisix/admin/plugins/:name', (req: IRequest, url: URL) => {
    const query = url.searchParams;
    const subsystem = query.get('subsystem') ?? 'http';
    if (subsystem !== 'http' && subsystem !== 'stream') return respond(400, { error_msg: `unsupported subsystem: ${subsystem}` }, cors);
    if (query.get('all') === 'true') {
      // deprecated in APISIX, kept for old dashboards: every plugin of the subsystem with its attributes
      const all: Record<string, unknown> = {};
      if (subsystem === 'stream') {
        for (const p of plugins.list()) all[p.name] = { version: 0.1, priority: p.priority, schema: publishedSchema(p) };
      }
      return respond(200, all, cors);
    }
    const plugin = subsystem === 'stream' ? plugins.get(decode(req.params.name)) : undefined;
    if (plugin === undefined) return respond(404, { error_msg: `plugin not found in subsystem ${subsystem}` }, cors);
    if (query.get('schema_type') === 'consumer') return respond(400, { error_msg: 'not found schema' }, cors);
    return respond(200, publishedSchema(plugin), cors);
  });
}
