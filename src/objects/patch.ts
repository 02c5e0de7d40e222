// PATCH semantics (pure): APISIX's deep merge and sub-path replacement. Inputs are never mutated.

import { type JsonObject, isPlainObject } from '../lib/json';

/** A deep copy of parsed JSON (structuredClone also copies, but this keeps plain prototypes only). */
function cloneJson<T>(v: T): T {
  return v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T);
}

/**
 * Merge `patch` into `target`: objects merge key by key (recursively), arrays and scalars replace,
 * a JSON null removes the key. Returns a new object.
 */
export function mergePatch(target: JsonObject, patch: JsonObject): JsonObject {
  const out: JsonObject = cloneJson(target);
  for (const key of Object.keys(patch)) {
    const value = patch[key];
    if (value === null) delete out[key];
    else if (isPlainObject(value) && isPlainObject(out[key])) out[key] = mergePatch(out[key] as JsonObject, value);
    else out[key] = cloneJson(value);
  }
  return out;
}

export type SubPathResult = { ok: true; value: JsonObject } | { ok: false; message: string };

/**
 * Replace the value at `subPath` ("nodes", "timeout/connect") with `conf`. Missing intermediate objects
 * are created; walking through a non-object fails with APISIX's `invalid sub-path: /a/b`.
 * An empty last segment ("a/") is not a key: the message names the path.
 */
export function patchAtPath(target: JsonObject, subPath: string, conf: unknown): SubPathResult {
  const segments = subPath.split('/').filter((s, i, all) => s !== '' || i === all.length - 1);
  const root: JsonObject = cloneJson(target);
  let node: JsonObject = root;
  for (let i = 0; i < segments.length - 1; i++) {
    const name = segments[i]!;
    if (node[name] === undefined || node[name] === null) node[name] = {};
    const next = node[name];
    if (!isPlainObject(next)) return { ok: false, message: `invalid sub-path: /${segments.slice(0, i + 1).join('/')}` };
    node = next;
  }
  const last = segments[segments.length - 1];
  if (last === undefined || last === '') {
    // "PATCH /upstreams/1/" with a trailing slash only: the whole object is replaced, as APISIX does.
    if (!isPlainObject(conf)) return { ok: false, message: 'invalid configuration' };
    return { ok: true, value: cloneJson(conf) };
  }
  // null removes the key, as in a merge patch.
  if (conf === null) delete node[last];
  else node[last] = cloneJson(conf);
  return { ok: true, value: root };
}
