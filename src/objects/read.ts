// Read side of the object operations: GET one, GET list (filters, paging) and the secret hiding that
// every response applies. APISIX v3 envelopes (spec 2.4).

import { logger } from '../log/logger';
import { ObjectError, keyNotFound, keyOf, storeFailure } from './errors';
import { type JsonObject, isPlainObject } from '../lib/json';
import type { Resource, Store, StoredObject } from '../store/types';
import { isSecretRef } from '../lib/secret-ref';

/** What an operation answers: the status and the exact body. */
export interface ObjectResult {
  status: number;
  body: JsonObject;
}

/** List query parameters as they come from the URL (all strings, all optional). */
export interface ListQuery {
  page?: string | null;
  page_size?: string | null;
  /** A regular expression matched against `name`. */
  name?: string | null;
  /** The label key that must be present. */
  label?: string | null;
  /** `upstream_id=1` (already URL-decoded once): exact string comparison of top-level fields. */
  filter?: string | null;
}

const PAGE_SIZE_MIN = 10;
const PAGE_SIZE_MAX = 500;

/** What a response may show of private-key fields. */
export interface HideOptions {
  /**
   * Keep a key field whose value is a `$secret://` / `$env://` reference (write responses: APISIX echoes
   * what was sent, and a reference is no key material). GET never shows key fields, as in APISIX.
   */
  keepReferences?: boolean;
}

function withoutKey(obj: unknown, key: string, opts: HideOptions): unknown {
  if (!isPlainObject(obj) || !(key in obj)) return obj;
  if (opts.keepReferences && isSecretRef(obj[key])) return obj;
  const copy = { ...obj };
  delete copy[key];
  return copy;
}

function hideUpstreamKey(upstream: unknown, opts: HideOptions): unknown {
  if (!isPlainObject(upstream) || !isPlainObject(upstream.tls)) return upstream;
  return { ...upstream, tls: withoutKey(upstream.tls, 'client_key', opts) };
}

/**
 * A copy of `value` without private keys: ssl `key`/`keys`, upstream `tls.client_key` (also inside a stream
 * route's inline upstream). The store hands them out decrypted, so the API must never echo them ([weir]:
 * APISIX returns them encrypted in write responses). With `keepReferences`, references stay; `keys`
 * stays only when every entry is one.
 */
export function hideSecrets(res: Resource, value: JsonObject, opts: HideOptions = {}): JsonObject {
  if (res === 'ssls') {
    const keepKeys = opts.keepReferences === true && Array.isArray(value.keys) && value.keys.every(isSecretRef);
    const out = withoutKey(value, 'key', opts) as JsonObject;
    return 'keys' in out && !keepKeys ? (withoutKey(out, 'keys', {}) as JsonObject) : out;
  }
  if (res === 'upstreams') return hideUpstreamKey(value, opts) as JsonObject;
  if (isPlainObject(value.upstream)) return { ...value, upstream: hideUpstreamKey(value.upstream, opts) };
  return value;
}

/** Store failures while reading (busy, a hand-corrupted row) are 503, like an etcd error in APISIX. */
function guardRead<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    logger.error('store read failed', { op: what, error: (err as Error).message });
    throw storeFailure(err);
  }
}

function listItem(res: Resource, obj: StoredObject): JsonObject {
  return {
    key: keyOf(res, obj.id),
    value: hideSecrets(res, obj.value),
    ...(obj.origin === undefined ? {} : { origin: obj.origin }),
    createdIndex: obj.createdIndex,
    modifiedIndex: obj.modifiedIndex,
  };
}

/** GET /apisix/admin/<res>/<id>: 200 with createdIndex/modifiedIndex, or 404 Key not found. */
export function getObject(store: Store, res: Resource, id: string): ObjectResult {
  const obj = guardRead(`get ${res}/${id}`, () => store.get(res, id));
  if (!obj) throw keyNotFound();
  return { status: 200, body: listItem(res, obj) };
}

function buildFilter(query: ListQuery): (obj: StoredObject) => boolean {
  const tests: ((v: JsonObject) => boolean)[] = [];
  if (query.name) {
    let re: RegExp;
    try {
      re = new RegExp(query.name);
    } catch (err) {
      throw new ObjectError(400, { error_msg: `invalid argument name: ${(err as Error).message}` });
    }
    tests.push((v) => typeof v.name === 'string' && re.test(v.name));
  }
  if (query.label) {
    const label = query.label;
    tests.push((v) => isPlainObject(v.labels) && Object.hasOwn(v.labels, label));
  }
  if (query.filter) {
    for (const [field, want] of new URLSearchParams(query.filter)) {
      tests.push((v) => v[field] !== undefined && v[field] !== null && String(v[field]) === want);
    }
  }
  return (obj) => tests.every((t) => t(obj.value));
}

function parsePaging(query: ListQuery): { page: number; size: number } | null {
  // Paging needs both parameters, as in APISIX.
  if (query.page == null || query.page_size == null) return null;
  const size = Number(query.page_size);
  if (!Number.isInteger(size) || size < PAGE_SIZE_MIN || size > PAGE_SIZE_MAX) {
    throw new ObjectError(400, `page_size must be between ${PAGE_SIZE_MIN} and ${PAGE_SIZE_MAX}`);
  }
  const page = Number(query.page);
  if (!Number.isInteger(page) || page < 1) throw new ObjectError(400, 'page must be an integer >= 1');
  return { page, size };
}

/** GET of an object that is not a row (`extra` of listObjects): the same envelope, indexes 0. */
export function getExtraObject(res: Resource, obj: StoredObject): ObjectResult {
  return { status: 200, body: listItem(res, obj) };
}

/**
 * GET /apisix/admin/<res>: `{"list":[...],"total":N}`. Without paging the order is the byte order of the
 * id; with paging it is createdIndex order (APISIX sorts pages by creation). `total` counts after filtering.
 */
export function listObjects(store: Store, res: Resource, query: ListQuery = {}, extra: readonly StoredObject[] = []): ObjectResult {
  const paging = parsePaging(query);
  const keep = buildFilter(query);
  // `extra`: read-only objects that are not rows (the config's listeners), listed first
  let rows = [...extra, ...guardRead(`list ${res}`, () => store.list(res))].filter(keep);
  const total = rows.length;
  if (paging) {
    rows = rows.sort((a, b) => a.createdIndex - b.createdIndex || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    rows = rows.slice((paging.page - 1) * paging.size, paging.page * paging.size);
  }
  return { status: 200, body: { list: rows.map((r) => listItem(res, r)), total } };
}
