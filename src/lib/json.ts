// Parsed JSON shapes shared by every layer (schema, store, snapshot, proxy, admin): the object type and its guard.

/** A JSON object as parsed: what the user sent for an object, plus `id`, `create_time`, `update_time` once stored. */
export type JsonObject = { [key: string]: unknown };

/** True for a JSON object (not null, not an array). Cheap: no prototype check, unlike the schemas' stricter one. */
export function isPlainObject(v: unknown): v is JsonObject {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
