// Which etcd keys are weir's objects, and what a value read from etcd becomes in the store (pure).
// APISIX's layout: <prefix>/<dir>/<id>, the value is the object as JSON; the key, not the JSON, says the id.

import type { Resource } from '../store/types';
import { type JsonObject, isPlainObject } from '../lib/json';
import { validatorOf } from '../objects/index';
import type { PluginSet } from '../plugins/registry';
import { decryptApisixKey, encryptApisixKey } from './apisix-crypto';

/**
 * The etcd directories weir reads and writes, one line per resource (stream_listeners joins with issue 15).
 * Everything else under the prefix (routes, consumers, gen_id, data_plane/...) is skipped.
 */
export const FLEET_RESOURCES: readonly Resource[] = ['stream_routes', 'upstreams', 'ssls', 'services', 'plugin_metadata'];

export type KeyPlace = { res: Resource; id: string } | { skip: string };

/** The store row an etcd key names, or why it is not one (the reason is what the load counts). */
export function placeKey(prefix: string, key: string): KeyPlace {
  if (!key.startsWith(`${prefix}/`)) return { skip: 'outside the prefix' };
  const rest = key.slice(prefix.length + 1);
  const slash = rest.indexOf('/');
  if (slash < 0) return { skip: rest === 'gen_id' ? 'gen_id' : `other key ${rest}` };
  const dir = rest.slice(0, slash);
  const id = rest.slice(slash + 1);
  const res = FLEET_RESOURCES.find((r) => r === dir);
  if (res === undefined) return { skip: dir === 'data_plane' ? 'data_plane' : `not a stream object (${dir})` };
  if (id === '') return { skip: 'init_dir placeholder' };
  if (id.includes('/')) return { skip: `nested key in ${dir}` };
  return { res, id };
}

/** The etcd key of an object. */
export function keyOfObject(prefix: string, res: Resource, id: string): string {
  return `${prefix}/${res}/${id}`;
}

export type Decoded = { ok: true; value: JsonObject } | { ok: false; skip: string } | { ok: false; invalid: string };

export interface DecodeContext {
  plugins?: PluginSet;
  /** apisix.data_encryption.keyring as written (APISIX's default when weir's config has none). */
  keyring: readonly string[];
}

const NOT_FOR_STREAM_SCHEMES = new Set(['grpc', 'grpcs', 'kafka']);

/** HTTP-only objects in the shared directories: service discovery, gRPC and Kafka upstreams. */
function notForStream(res: Resource, value: JsonObject): string | null {
  if (res !== 'upstreams') return null;
  if (value.service_name !== undefined || value.discovery_type !== undefined) return 'upstream uses service discovery (HTTP only)';
  if (typeof value.scheme === 'string' && NOT_FOR_STREAM_SCHEMES.has(value.scheme)) return `upstream scheme ${value.scheme} (HTTP only)`;
  return null;
}

type KeyFn = (v: string) => string;

/** ssl key/keys and upstream tls.client_key (also a route's or service's inline upstream) through fn. */
function mapKeys(res: Resource, value: JsonObject, fn: KeyFn): JsonObject {
  const upstreamKey = (up: unknown): unknown =>
    isPlainObject(up) && isPlainObject(up.tls) && typeof up.tls.client_key === 'string'
      ? { ...up, tls: { ...up.tls, client_key: fn(up.tls.client_key) } }
      : up;
  if (res === 'ssls') {
    const out = { ...value };
    if (typeof value.key === 'string') out.key = fn(value.key);
    if (Array.isArray(value.keys)) out.keys = value.keys.map((k) => (typeof k === 'string' ? fn(k) : k));
    return out;
  }
  if (res === 'upstreams') return upstreamKey(value) as JsonObject;
  if (isPlainObject(value.upstream)) return { ...value, upstream: upstreamKey(value.upstream) as JsonObject };
  return value;
}

/**
 * An etcd value -> the object weir stores: JSON object, `id` forced to the key's (APISIX does the same),
 * private keys decrypted from APISIX's format, then weir's schema and rules. Runs for each key of a load
 * and each watch event, never on a connection's path.
 */
export function decodeObject(res: Resource, id: string, text: string, ctx: DecodeContext): Decoded {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { ok: false, invalid: 'value is not JSON' };
  }
  if (!isPlainObject(parsed)) return { ok: false, invalid: 'value is not a JSON object' };
  const skip = notForStream(res, parsed);
  if (skip !== null) return { ok: false, skip };
  let value: JsonObject = { ...parsed, id };
  try {
    value = mapKeys(res, value, (k) => decryptApisixKey(k, ctx.keyring));
  } catch (err) {
    return { ok: false, invalid: (err as Error).message };
  }
  if (res === 'plugin_metadata') {
    // checked without its id, as the Admin API checks it; the id is the plugin's name
    const { id: _id, ...body } = value;
    void _id;
    const checked = validatorOf(res, ctx.plugins, id)(body);
    if (!checked.ok) return checked.message === 'invalid plugin name' ? { ok: false, skip: 'plugin_metadata of a plugin weir does not have' } : { ok: false, invalid: checked.message };
    return { ok: true, value: { id, ...checked.value } };
  }
  const checked = validatorOf(res, ctx.plugins, id)(value);
  if (!checked.ok) return { ok: false, invalid: checked.message };
  return { ok: true, value: checked.value };
}

/** The object as etcd keeps it: private keys in APISIX's encrypted form (control plane writes). */
export function encodeObject(res: Resource, value: JsonObject, keyring: readonly string[]): string {
  return JSON.stringify(mapKeys(res, value, (k) => encryptApisixKey(k, keyring)));
}
