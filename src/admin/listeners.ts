// [weir] /apisix/admin/stream_listeners: the object operations, plus binding before storing. A PUT, POST or
// PATCH is bound on every worker first (a port that is taken is a 400 with the kernel's reason, and nothing is
// stored), then written, then every worker follows the store again before the answer goes out. The config's
// listeners are listed read-only ("config:tcp:0"); writing one is a 400. Also: warnings for routes whose
// server_port no listener serves.

import { badRequest } from '../objects/errors';
import {
  deleteObject,
  getExtraObject,
  getObject,
  listObjects,
  patchObject,
  previewWrite,
  putObject,
  type ObjectContext,
  type ObjectResult,
} from '../objects/index';
import { isPlainObject, type JsonObject } from '../lib/json';
import type { StoredObject } from '../store/types';
import { CONFIG_ID_PREFIX } from '../control/listener-specs';
import type { ResourceCall } from './resources';
import { AdminError } from './respond';

/** What the Admin API needs from the listener side (src/control/listener-sync.ts, wired in start.ts). */
export interface ListenerAdmin {
  /** The config's listeners as read-only objects. */
  configObjects(): StoredObject[];
  /** Bind `value` as object `id` on every worker; rejects with a message naming address, reason and worker. */
  prepare(id: string, value: JsonObject): Promise<void>;
  /** After the write (or its failure): every worker follows the store again. */
  finish(): Promise<void>;
  /** Does some listener serve this port (config or object)? */
  servesPort(port: number): boolean;
}

/** Runs fn after every call queued before it: one listener write at a time binds, stores and settles. */
type Serial = <T>(fn: () => Promise<T>) => Promise<T>;
function serialQueue(): Serial {
  let queue: Promise<unknown> = Promise.resolve();
  return (fn) => {
    const run = queue.then(fn, fn);
    queue = run.catch(() => undefined);
    return run;
  };
}

function refuseConfigId(admin: ListenerAdmin | null, id: unknown): void {
  if (typeof id !== 'string' || !id.startsWith(CONFIG_ID_PREFIX)) return;
  const entry = admin?.configObjects().find((o) => o.id === id);
  const from = entry ? ` comes from ${String(entry.value.source)} in the config file` : ' is a config listener';
  throw badRequest(`stream listener ${id}${from}: read-only here; edit the config file and reload weir to change it`);
}

/** A write naming a config listener ("config:tcp:0", in the URL or the body) is a 400, dry runs included. */
export function refuseConfigWrite(admin: ListenerAdmin | null, call: ResourceCall): void {
  if (call.method === 'GET') return;
  refuseConfigId(admin, call.id);
  if (isPlainObject(call.body)) refuseConfigId(admin, call.body.id);
}

/**
 * The handler of stream_listeners calls for one Admin API. Reads and deletes are the plain object operations (a
 * delete then unbinds on every worker before answering); writes bind first, one at a time. Without `admin` (no
 * proxy in this process) writes only store, as the CLI does.
 */
export function createListenerHandler(
  admin: ListenerAdmin | null,
): (ctx: ObjectContext, call: ResourceCall, sees?: (id: string) => boolean) => Promise<ObjectResult> {
  const serial = serialQueue();
  return (ctx, call, sees) => handleListenerCall(ctx, admin, call, serial, sees);
}

/** `sees`: the config entries a scoped key may read (the scoped store in `ctx` filters the stored ones). */
async function handleListenerCall(ctx: ObjectContext, admin: ListenerAdmin | null, call: ResourceCall, serial: Serial, sees?: (id: string) => boolean): Promise<ObjectResult> {
  const { id, query } = call;
  const res = 'stream_listeners';
  if (call.method === 'GET') {
    const all = admin?.configObjects() ?? [];
    const extra = sees === undefined ? all : all.filter((o) => sees(o.id));
    if (id === undefined) {
      const q = { page: query.get('page'), page_size: query.get('page_size'), name: query.get('name'), label: query.get('label'), filter: query.get('filter') };
      return listObjects(ctx.store, res, q, extra);
    }
    const entry = extra.find((o) => o.id === id);
    return entry ? getExtraObject(res, entry) : getObject(ctx.store, res, id);
  }
  if (!['PUT', 'POST', 'PATCH', 'DELETE'].includes(call.method)) throw new AdminError(404, { error_msg: 'not found' });
  refuseConfigWrite(admin, call);
  if (admin === null) return writeOnly(ctx, call);
  return serial(async () => {
    if (call.method === 'DELETE') {
      try {
        return deleteObject(ctx, res, id);
      } finally {
        await admin.finish();
      }
    }
    const method = call.method as 'PUT' | 'POST' | 'PATCH';
    const preview = previewWrite(ctx.store, res, method, id, call.subPath, call.body);
    // POST: the id is taken now, so the listener is bound (and named in errors) under the id it is stored with
    const target = preview.id ?? ctx.store.nextId();
    try {
      await admin.prepare(target, preview.value);
    } catch (err) {
      throw badRequest((err as Error).message);
    }
    try {
      if (method === 'PATCH') return patchObject(ctx, res, target, call.subPath, call.body);
      const body = method === 'POST' ? { ...(call.body as JsonObject), id: target } : call.body;
      return putObject(ctx, res, target, body);
    } finally {
      await admin.finish();
    }
  });
}

/** The CLI-like path (no running proxy in this process): store only; a running weir binds it when it notices. */
function writeOnly(ctx: ObjectContext, call: ResourceCall): ObjectResult {
  const res = 'stream_listeners';
  switch (call.method) {
    case 'PUT':
      return putObject(ctx, res, call.id, call.body);
    case 'PATCH':
      return patchObject(ctx, res, call.id, call.subPath, call.body);
    case 'DELETE':
      return deleteObject(ctx, res, call.id);
    default: {
      const preview = previewWrite(ctx.store, res, 'POST', call.id, call.subPath, call.body);
      return putObject(ctx, res, ctx.store.nextId(), preview.value);
    }
  }
}

/**
 * `warnings` for a stream route just written: a `server_port` no listener serves (routes still match on it,
 * so this is no error: the listener may be added next). Empty when all is well. Objects with `route` and
 * `message` like the shadow warnings (src/inspect/warnings.ts), which the same answer may carry.
 */
export function routeWarnings(admin: ListenerAdmin | null, value: unknown): JsonObject[] {
  if (admin === null || !isPlainObject(value)) return [];
  const port = value.server_port;
  if (typeof port !== 'number' || admin.servesPort(port)) return [];
  const message = `server_port ${port}: no listener serves this port (apisix.stream_proxy or stream_listeners); the route matches nothing until one does`;
  return [{ route: String(value.id), server_port: port, message }];
}

