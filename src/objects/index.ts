// The APISIX object operations the Admin API, the CLI and import share. Here the write side (PUT / POST /
// PATCH / DELETE, APISIX v3 semantics, spec 2.2-2.5): validate, check references and write in ONE store
// transaction, then call onChange() after the commit. Nothing invalid reaches the database. Reads: read.ts.

import { logger } from '../log/logger';
import {
  normalizeId, validatePluginMetadata, validateService, validateSsl, validateStreamListener, validateStreamRoute, validateUpstream, type SchemaResult,
} from '../schema/index';
import { jsonType } from '../schema/common';
import { KIND, ObjectError, badRequest, keyNotFound, keyOf, notSupported, storeFailure } from './errors';
import { hideSecrets, type ObjectResult } from './read';
import { type JsonObject, isPlainObject } from '../lib/json';
import { mergePatch, patchAtPath } from './patch';
import { checkReferences, checkServiceUnused, checkSslUnused, checkUpstreamUnused } from './references';
import type { PluginSet } from '../plugins/registry';
import type { Resource, Store } from '../store/types';
import { type DryRun, rehearse } from './dry-run';

export { getExtraObject, getObject, listObjects, hideSecrets, type ListQuery, type ObjectResult } from './read';

export interface ObjectContext {
  store: Store;
  /** Called after every committed write (the proxy rebuilds its snapshot there). Must not throw. */
  onChange?: () => void;
  /** Unix seconds; tests pin it. */
  now?: () => number;
  /** Rehearse the write: run it in its transaction, then roll back (src/objects/dry-run.ts); onChange is not called. */
  dryRun?: DryRun;
  /** The enabled stream plugins (config.yaml stream_plugins) routes and services may name; default: the default list. */
  plugins?: PluginSet;
}

/**
 * The schema check of a resource. `id` is the object's id: plugin_metadata's names the plugin whose metadata
 * schema applies. Shared with `weir import`.
 */
export function validatorOf(res: Resource, plugins: PluginSet | undefined, id?: string): (body: unknown) => SchemaResult {
  switch (res) {
    case 'stream_routes': return (body) => validateStreamRoute(body, { plugins });
    case 'services': return (body) => validateService(body, { plugins });
    case 'upstreams': return validateUpstream;
    case 'ssls': return validateSsl;
    case 'plugin_metadata': return (body) => validatePluginMetadata(id, body);
    case 'stream_listeners': return validateStreamListener;
  }
}

const FORBIDDEN = ['create_time', 'update_time'] as const;
const BAD_ID = 'invalid configuration: property "id" validation failed: object matches none of the required';

function nowSeconds(ctx: ObjectContext): number {
  return ctx.now ? ctx.now() : Math.floor(Date.now() / 1000);
}

/** The body must be a JSON object before any rule can look at it. */
function requireObject(body: unknown): JsonObject {
  if (body === undefined) throw badRequest('missing configurations');
  if (!isPlainObject(body)) throw badRequest(`invalid configuration: wrong type: expected object, got ${jsonType(body)}`);
  return body;
}

/** Clients may not set timestamps on PUT/POST: top level, in `upstream`, or as a `plugins` key. */
function checkForbidden(conf: JsonObject): void {
  for (const [where, obj] of [['', conf], ['upstream.', conf.upstream], ['plugins.', conf.plugins]] as const) {
    if (!isPlainObject(obj)) continue;
    for (const field of FORBIDDEN) {
      if (obj[field] !== undefined) throw badRequest(`the property is forbidden:  ${where}${field}`);
    }
  }
}

/** Resolve the id for PUT/PATCH (URL id wins, else the body's) and check the body agrees. */
function resolveId(res: Resource, urlId: string | undefined, conf: JsonObject): string {
  const raw = urlId ?? conf.id;
  if (raw === undefined || raw === null || raw === '') throw badRequest(`missing ${KIND[res]} id`);
  if (conf.id !== undefined && conf.id !== null && String(conf.id) !== String(raw)) {
    throw badRequest(`wrong ${KIND[res]} id`);
  }
  const id = normalizeId(raw);
  if (id === null) throw badRequest(BAD_ID);
  return id;
}

/** The stored shape: id first, then the user's fields. */
function withId(id: string, conf: JsonObject): JsonObject {
  const { id: _ignored, ...rest } = conf;
  void _ignored;
  return { id, ...rest };
}

function validate(ctx: Pick<ObjectContext, 'plugins'>, res: Resource, value: JsonObject, id?: string): JsonObject {
  const result = validatorOf(res, ctx.plugins, id)(value);
  if (!result.ok) throw badRequest(result.message);
  return result.value;
}

/**
 * PUT /plugin_metadata/<name> (APISIX's no-id resource): the URL names the plugin, a body id is overwritten,
 * and no timestamps are added.
 */
function putPluginMetadata(ctx: ObjectContext, name: string | undefined, conf: JsonObject): ObjectResult {
  checkForbidden(conf);
  const checked = validate(ctx, 'plugin_metadata', conf, name);
  const id = name!;
  return commit(ctx, `put plugin_metadata/${id}`, () => {
    const value = withId(id, checked);
    const { created } = ctx.store.put('plugin_metadata', id, value);
    return envelope('plugin_metadata', created ? 201 : 200, value);
  });
}

/** Run a write in one transaction; store failures become 503, rule failures pass through. */
function commit<T>(ctx: ObjectContext, what: string, fn: () => T): T {
  let result: T;
  try {
    result = ctx.dryRun ? rehearse(ctx.store, ctx.dryRun, fn) : ctx.store.transaction(fn);
  } catch (err) {
    if (err instanceof ObjectError) throw err;
    logger.error('store write failed', { op: what, error: (err as Error).message });
    throw storeFailure(err);
  }
  if (ctx.dryRun) return result;
  try {
    ctx.onChange?.();
  } catch (err) {
    // The write is committed; a failing listener must not turn it into an error response.
    logger.error('onChange failed after write', { op: what, error: (err as Error).message });
  }
  return result;
}

function envelope(res: Resource, status: number, value: JsonObject): ObjectResult {
  // references are echoed as sent, as APISIX does (ssl.t 21-22); key material never is
  return { status, body: { key: keyOf(res, String(value.id)), value: hideSecrets(res, value, { keepReferences: true }) } };
}

/** PUT /<res>/<id> (or PUT /<res> with the id in the body): 201 created, 200 replaced (create_time kept). */
export function putObject(ctx: ObjectContext, res: Resource, urlId: string | undefined, body: unknown): ObjectResult {
  const conf = requireObject(body);
  if (res === 'plugin_metadata') return putPluginMetadata(ctx, urlId, conf);
  const id = resolveId(res, urlId, conf);
  checkForbidden(conf);
  const checked = validate(ctx, res, withId(id, conf));
  return commit(ctx, `put ${res}/${id}`, () => {
    const { store } = ctx;
    checkReferences(store, res, checked);
    const old = store.get(res, id);
    const now = nowSeconds(ctx);
    const createTime = old && typeof old.value.create_time === 'number' ? old.value.create_time : now;
    const value = { ...checked, create_time: createTime, update_time: now };
    const { created } = store.put(res, id, value);
    return envelope(res, created ? 201 : 200, value);
  });
}

/** POST /<res>: a generated 20-digit id; any id (URL or body) is refused. Always 201. */
export function postObject(ctx: ObjectContext, res: Resource, urlId: string | undefined, body: unknown): ObjectResult {
  if (res === 'plugin_metadata') throw notSupported('POST', res);
  const conf = requireObject(body);
  if (urlId !== undefined || (conf.id !== undefined && conf.id !== null)) {
    throw badRequest(`wrong ${KIND[res]} id, do not need it`);
  }
  checkForbidden(conf);
  const checked = validate(ctx, res, conf);
  return commit(ctx, `post ${res}`, () => {
    const { store } = ctx;
    checkReferences(store, res, checked);
    const id = store.nextId();
    const now = nowSeconds(ctx);
    const value = { ...withId(id, checked), create_time: now, update_time: now };
    store.put(res, id, value);
    return envelope(res, 201, value);
  });
}

/**
 * PATCH /<res>/<id>[/<sub/path>]: deep merge (or replace at the sub-path) into the stored object, then
 * re-validate and write, all in one transaction. Timestamps are allowed; update_time is refreshed unless
 * the merge patch sets it. Supported on stream_routes too ([weir] superset of APISIX's 405).
 */
export function patchObject(
  ctx: ObjectContext,
  res: Resource,
  id: string | undefined,
  subPath: string,
  body: unknown,
): ObjectResult {
  if (res === 'plugin_metadata') throw notSupported('PATCH', res);
  if (id === undefined || id === '') throw badRequest(`missing ${KIND[res]} id`);
  if (body === undefined) throw badRequest('missing new configuration');
  if (subPath === '' && !isPlainObject(body)) throw badRequest('invalid configuration');
  return commit(ctx, `patch ${res}/${id}`, () => {
    const { store } = ctx;
    const old = store.get(res, id);
    if (!old) throw keyNotFound();
    const now = nowSeconds(ctx);
    let merged: JsonObject;
    if (subPath !== '') {
      const result = patchAtPath(old.value, subPath, body);
      if (!result.ok) throw badRequest(result.message);
      merged = { ...result.value, update_time: now };
    } else {
      merged = mergePatch(old.value, body as JsonObject);
      if ((body as JsonObject).update_time === undefined) merged.update_time = now;
    }
    if (merged.create_time === undefined) merged.create_time = now;
    const checked = validate(ctx, res, withId(resolveId(res, id, merged), merged));
    checkReferences(store, res, checked);
    store.put(res, id, checked);
    return envelope(res, 200, checked);
  });
}

/**
 * DELETE /<res>/<id>: 200 `{"deleted":"1","key":...}`. "1" is the count of deleted keys in APISIX
 * (etcd's answer to a delete), whatever the id, and scripts check it. An upstream, ssl or service in use
 * needs `force` (APISIX checks services and upstreams used by services; stream routes and ssls are [weir]
 * tightenings).
 */
export function deleteObject(
  ctx: ObjectContext,
  res: Resource,
  id: string | undefined,
  opts: { force?: boolean } = {},
): ObjectResult {
  if (id === undefined || id === '') throw badRequest(`missing ${KIND[res]} id`);
  return commit(ctx, `delete ${res}/${id}`, () => {
    const { store } = ctx;
    if (!store.get(res, id)) throw keyNotFound();
    if (res === 'upstreams' && !opts.force) checkUpstreamUnused(store, id);
    if (res === 'ssls' && !opts.force) checkSslUnused(store, id);
    if (res === 'services' && !opts.force) checkServiceUnused(store, id);
    store.delete(res, id);
    return { status: 200, body: { deleted: '1', key: keyOf(res, id) } };
  });
}

/**
 * The object a PUT, POST or PATCH would store, validated, without timestamps and without writing anything:
 * for a caller that must act on it first ([weir] a stream listener is bound before it is stored). Throws the
 * ObjectErrors the write itself would (POST: id undefined; PATCH of a missing object: 404).
 */
export function previewWrite(
  store: Store,
  res: Resource,
  method: 'PUT' | 'POST' | 'PATCH',
  urlId: string | undefined,
  subPath: string,
  body: unknown,
): { id: string | undefined; value: JsonObject } {
  if (method === 'PATCH') {
    if (urlId === undefined || urlId === '') throw badRequest(`missing ${KIND[res]} id`);
    if (body === undefined) throw badRequest('missing new configuration');
    if (subPath === '' && !isPlainObject(body)) throw badRequest('invalid configuration');
    const old = store.get(res, urlId);
    if (!old) throw keyNotFound();
    let merged: JsonObject;
    if (subPath !== '') {
      const result = patchAtPath(old.value, subPath, body);
      if (!result.ok) throw badRequest(result.message);
      merged = result.value;
    } else {
      merged = mergePatch(old.value, body as JsonObject);
    }
    return { id: urlId, value: validate({}, res, withId(resolveId(res, urlId, merged), merged)) };
  }
  const conf = requireObject(body);
  if (method === 'POST') {
    if (urlId !== undefined || (conf.id !== undefined && conf.id !== null)) throw badRequest(`wrong ${KIND[res]} id, do not need it`);
    checkForbidden(conf);
    return { id: undefined, value: validate({}, res, conf) };
  }
  const id = resolveId(res, urlId, conf);
  checkForbidden(conf);
  return { id, value: validate({}, res, withId(id, conf)) };
}

/** POST /apisix/admin/schema/validate/<res>: schema only (no id rules, no references, nothing stored). */
export function validateObject(res: Resource, body: unknown, plugins?: PluginSet): void {
  const conf = requireObject(body);
  validate({ plugins }, res, conf, res === 'plugin_metadata' ? String(conf.id ?? '') : undefined);
}
