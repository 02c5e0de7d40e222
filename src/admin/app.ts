// The Admin API as a fetch handler: allow list -> CORS preflight -> key check -> itty-router -> object ops.
// Wire-compatible with APISIX v3 for stream_routes, upstreams, ssls, services, plugin_metadata and plugins (spec 2).

import { Router, type IRequest } from 'itty-router';
import type { AdminKey, Config } from '../config/types';
import { unmapIpv4 } from '../lib/ip';
import type { FetchHandler, RequestInfo } from '../runtime/types';
import { RESOURCES, type Resource, type Store } from '../store/types';
import { compileAllowList, compileKeyChecker, pickToken } from './auth';
import { readJsonBody } from './body';
import { handleSchemaValidate, type ResourceCall } from './resources';
import { mountInspectOnDemand } from './inspect-on-demand';
import { type AdminIdentity, OPEN_IDENTITY } from './scope';
import { RuleCache } from '../inspect/rules';
import type { InspectSources } from '../inspect/sources';
import { type HealthStatusSource, mountControl } from './control';
import { mountPlugins, type ReloadPlugins } from './plugins';
import { pluginSetOf, type PluginSet } from '../plugins/registry';
import { AdminError, MAX_BODY_BYTES, errorResponse, preflight, respond } from './respond';
import type { FleetView } from '../fleet/view';
import { mountFleet, readyResponse, refuseWrite, withOrigins } from './fleet';
import { type ListenerAdmin, createListenerHandler, refuseConfigWrite, routeWarnings } from './listeners';

export interface AdminAppOptions {
  store: Store;
  config: Config;
  /** The effective keys: config keys, or the one generated at start. Empty = no key check. */
  adminKeys: AdminKey[];
  /** Called after every committed write. */
  onChange: () => void;
  /** Default MAX_BODY_BYTES (1 MiB); serveNodeHttp must get the same value. */
  maxBodyBytes?: number;
  /** Unix seconds; tests pin it. */
  now?: () => number;
  /** Health checker status for GET /v1/healthcheck (src/admin/control.ts). */
  health?: HealthStatusSource;
  /** The running proxy's snapshot, listeners and open connections: explain and the connection views (src/admin/inspect.ts). */
  inspect?: InspectSources;
  /** The enabled stream plugins (config.yaml stream_plugins); default: the config's. */
  plugins?: PluginSet;
  /** PUT /apisix/admin/plugins/reload: re-read the plugin keys of the config file; absent: answered 503. */
  reloadPlugins?: ReloadPlugins;
  /**
   * Fleet mode: origins on reads, GET /v1/fleet; a data plane answers writes 403, a control plane writes through
   * etcd. Absent: traditional.
   */
  fleet?: FleetView | null;
  /** [weir] The running listeners: stream_listeners writes bind through it; route writes get port warnings. */
  listeners?: ListenerAdmin;
}

const PREFIX = '/apisix/admin';
const WRITES = new Set(['PUT', 'POST', 'PATCH', 'DELETE']);

/**
 * The object operations (src/admin/resource-call.ts, with the effects and warnings views it answers with),
 * imported at the first object request: a proxy whose Admin API is never called does not hold that code.
 */
let resourceCall: Promise<typeof import('./resource-call')> | null = null;
const loadResourceCall = (): Promise<typeof import('./resource-call')> => (resourceCall ??= import('./resource-call'));

function decodeSegment(seg: string | undefined): string | undefined {
  if (seg === undefined) return undefined;
  try {
    return decodeURIComponent(seg);
  } catch {
    return seg;
  }
}

function isResource(seg: string): seg is Resource {
  return (RESOURCES as readonly string[]).includes(seg);
}

/**
 * Build the Admin API handler. Runs once at start; the returned handler never throws (an unexpected
 * error is a logged 500) and does no work beyond the one request's object operation.
 */
export function createAdminApp(opts: AdminAppOptions): FetchHandler {
  const { store, config } = opts;
  const cors = config.admin.cors;
  const limit = opts.maxBodyBytes ?? MAX_BODY_BYTES;
  const isAllowed = compileAllowList(config.admin.allow);
  const keys = compileKeyChecker(opts.adminKeys);
  const keyRequired = config.admin.keyRequired && opts.adminKeys.length > 0;
  const plugins = opts.plugins ?? pluginSetOf(config);
  const fleet = opts.fleet ?? null;
  const ops = { store: fleet === null ? store : withOrigins(store, fleet), onChange: opts.onChange, now: opts.now, plugins };
  const calls = { ops, rules: new RuleCache(), live: opts.inspect?.live ?? null, peers: opts.inspect?.peers ?? null };
  const listeners = opts.listeners ?? null;
  const listenerCall = createListenerHandler(listeners);

  const withBody = (req: Request, method: string): Promise<unknown> =>
    method === 'PUT' || method === 'POST' || method === 'PATCH' ? readJsonBody(req, limit) : Promise.resolve(undefined);

  const resourceRoute = async (req: IRequest, url: URL, who: AdminIdentity): Promise<Response> => {
    const seg = decodeSegment(req.params.res) ?? '';
    if (!isResource(seg)) throw new AdminError(404, { error_msg: `Unsupported resource type: ${seg}` });
    if (seg === 'stream_routes' && !config.streamEnabled) {
      throw new AdminError(400, { error_msg: 'stream mode is disabled, can not add stream routes' });
    }
    if (fleet?.readOnly === true && req.method !== 'GET') throw refuseWrite();
    const call: ResourceCall = {
      res: seg,
      method: req.method,
      id: decodeSegment(req.params.id),
      subPath: decodeSegment(req.params.sub) ?? '',
      query: url.searchParams,
      body: await withBody(req as unknown as Request, req.method),
    };
    if (seg === 'stream_listeners') {
      // fleet mode does not carry listener objects through etcd yet: a write here would change this host only
      if (fleet?.writeThrough !== undefined && WRITES.has(req.method)) {
        throw new AdminError(403, { error_msg: 'stream_listeners are not synced through etcd yet: in fleet mode, declare listeners in each host\'s config.yaml' });
      }
      refuseConfigWrite(listeners, call);
      const scope = who.scope;
      const sees = scope === null ? undefined : (id: string) => scope.sees('stream_listeners', id);
      const { runCustomCall, countOnOtherWorkers } = await loadResourceCall();
      const done = await countOnOtherWorkers(calls, await runCustomCall(calls, call, who, (scoped) => listenerCall(scoped, call, sees)), who);
      return respond(done.status, done.body, cors);
    }
    if (fleet?.writeThrough !== undefined && WRITES.has(req.method) && call.query.get('dry_run') !== 'true') {
      // control_plane: the same operation, rehearsed on the local copy, then written to etcd
      const { runResourceCall } = await loadResourceCall();
      const result = await fleet.writeThrough(req.method, (rec) => runResourceCall({ ...calls, ops: { ...ops, store: rec, dryRun: {} } }, call, who), ops.store);
      return respond(result.status, result.body, cors);
    }
    const { runResourceCall, countOnOtherWorkers } = await loadResourceCall();
    // a dry run's effects count every worker's connections (with one worker, nothing is asked)
    let result = await countOnOtherWorkers(calls, runResourceCall(calls, call, who), who);
    if (seg === 'stream_routes' && req.method !== 'GET' && req.method !== 'DELETE' && call.query.get('dry_run') !== 'true') {
      const ports = routeWarnings(listeners, (result.body as { value?: unknown }).value);
      if (ports.length > 0) {
        const shadows = Array.isArray(result.body.warnings) ? result.body.warnings : [];
        result = { status: result.status, body: { ...result.body, warnings: [...shadows, ...ports] } };
      }
    }
    return respond(result.status, result.body, cors);
  };

  const router = Router<IRequest, [URL, AdminIdentity]>();
  router.post(`${PREFIX}/schema/validate/:res`, async (req: IRequest) => {
    const seg = decodeSegment(req.params.res) ?? '';
    if (!isResource(seg)) throw new AdminError(404, { error_msg: `Unsupported resource type: ${seg}` });
    handleSchemaValidate(seg, await withBody(req as unknown as Request, 'POST'), plugins);
    return respond(200, null, cors);
  });
  mountControl(router, opts.health ?? null, cors);
  mountInspectOnDemand(router, {
    sources: opts.inspect ?? null,
    cors,
    streamEnabled: config.streamEnabled,
    seesStreamRoute: (id, who) => store.get('stream_routes', id) !== undefined && (who.scope === null || who.scope.sees('stream_routes', id)),
  });
  mountPlugins(router, plugins, cors, opts.reloadPlugins ?? null);
  if (fleet !== null) mountFleet(router, fleet, cors);
  router.all(`${PREFIX}/:res`, resourceRoute);
  router.all(`${PREFIX}/:res/:id`, resourceRoute);
  router.all(`${PREFIX}/:res/:id/:sub+`, resourceRoute);

  return async (req: Request, info: RequestInfo): Promise<Response> => {
    try {
      // nginx's allow/deny runs before anything else in APISIX, HEAD and OPTIONS included.
      if (!isAllowed(info.remoteAddress)) {
        const ip = unmapIpv4(info.remoteAddress);
        return respond(403, { error_msg: `forbidden: ${ip} is not in deployment.admin.allow_admin` }, cors);
      }
      if (req.method === 'OPTIONS' && cors) return preflight();
      const url = new URL(req.url);
      const path = url.pathname.replace(/\/+$/, '');
      if (req.method === 'HEAD' && path === PREFIX) return respond(200, null, cors);
      if (req.method === 'GET' && path === '/status/ready') return readyResponse(fleet, cors);
      let who: AdminIdentity = OPEN_IDENTITY;
      if (keyRequired) {
        const token = pickToken({
          query: url.searchParams.get('api_key'),
          header: req.headers.get('x-api-key'),
          cookie: req.headers.get('cookie'),
        });
        const found = keys.identify(token, req.method);
        if (typeof found === 'string') return respond(401, { error_msg: 'failed to check token', description: found }, cors);
        who = found;
      }
      const res = (await router.fetch(req as unknown as IRequest, url, who)) as Response | undefined;
      return res ?? respond(404, { error_msg: 'not found' }, cors);
    } catch (err) {
      return errorResponse(err, cors, `${req.method} ${req.url}`);
    }
  };
}
