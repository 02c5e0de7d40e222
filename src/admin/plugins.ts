// GET /apisix/admin/plugins/list and /apisix/admin/plugins/{name} (apisix/admin/plugins.lua): the enabled plugins
// of a subsystem by priority, and one plugin's JSON Schema. weir has stream plugins only: the http subsystem
// (APISIX's default when `subsystem` is absent) lists none and finds none. PUT /apisix/admin/plugins/reload
// (apisix/admin/init.lua) re-reads stream_plugins and plugin_attr from the config file and applies them.

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

/**
 * What PUT /apisix/admin/plugins/reload runs (weir start: a config reload restricted to the plugin keys, applied
 * by every worker before it resolves); what it resolves to is a reload's outcome.
 */
export type ReloadPlugins = () => Promise<{ ok: boolean; errors: string[] }>;

/** The methods APISIX answers 405 on the reload path (it has no route for the others: 404 then). */
const NOT_RELOAD = new Set(['GET', 'POST', 'DELETE', 'PATCH']);

/** Add the routes to the admin router, before the generic resource routes. */
export function mountPlugins(router: RouterType<IRequest, any[]>, plugins: PluginSet, cors: boolean, reload: ReloadPlugins | null = null): void {
  // APISIX answers "done" once every worker was told; weir answers once every worker applied the new lists, and
  // says why when the config file could not be read or the export server's new address not bound (nothing changed)
  router.put('/apisix/admin/plugins/reload', async () => {
    if (reload === null) return respond(503, { error_msg: 'failed to reload plugins: this Admin API has no config file to read' }, cors);
    const outcome = await reload();
    if (!outcome.ok) return respond(503, { error_msg: `failed to reload plugins: ${outcome.errors.join('; ')}` }, cors);
    return respond(200, 'done', cors);
  });
  router.all('/apisix/admin/plugins/reload', (req: IRequest) => {
    if (!NOT_RELOAD.has(req.method)) return undefined;
    return respond(405, { error_msg: `please use PUT method to reload the plugins, ${req.method} method is not allowed.` }, cors);
  });

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
