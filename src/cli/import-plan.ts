// Pure part of `weir import`: parse an APISIX standalone file, validate every object with the Admin API's
// schemas, and compute the changes against the current store contents (the dry-run diff).

import { parseDocument } from 'yaml';
import { normalizeId } from '../schema/index';
import { validatorOf } from '../objects/index';
import type { PluginSet } from '../plugins/registry';
import { type JsonObject, isPlainObject } from '../lib/json';
import { RESOURCES, type Resource, type StoredObject } from '../store/types';

export type ImportObjects = Record<Resource, JsonObject[]>;

export interface Change {
  op: 'add' | 'change' | 'remove';
  res: Resource;
  id: string;
  /** What is written (add/change); undefined for remove. */
  value?: JsonObject;
  /** Top-level fields that differ (change only), sorted. */
  fields?: string[];
}

export interface ImportPlan {
  changes: Change[];
  unchanged: number;
}

/**
 * Parse the file text into objects per resource. Errors name the place: `stream_routes[2] (id "7"): ...`.
 * `plugins`: the enabled stream plugins routes and services may name (the config's).
 */
export function parseImport(text: string, plugins?: PluginSet): { objects: ImportObjects; errors: string[] } {
  const objects: ImportObjects = { stream_routes: [], upstreams: [], ssls: [], services: [], plugin_metadata: [], stream_listeners: [] };
  const errors: string[] = [];
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) return { objects, errors: [`not valid YAML: ${doc.errors[0]!.message.split('\n')[0]}`] };
  const top = doc.toJS({ maxAliasCount: 100 }) as unknown;
  if (top === null || top === undefined) return { objects, errors };
  if (!isPlainObject(top)) return { objects, errors: [`the file must be a mapping with ${RESOURCES.join(', ')}`] };
  for (const key of Object.keys(top)) {
    if (!(RESOURCES as readonly string[]).includes(key)) {
      errors.push(`"${key}" is not something weir stores (${RESOURCES.join(', ')})`);
    }
  }
  for (const res of RESOURCES) {
    const list = top[res];
    if (list === undefined || list === null) continue;
    if (!Array.isArray(list)) {
      errors.push(`${res}: must be a list`);
      continue;
    }
    const seen = new Set<string>();
    list.forEach((item: unknown, i) => {
      const where = `${res}[${i}]`;
      if (!isPlainObject(item)) return void errors.push(`${where}: must be an object`);
      const id = normalizeId(item.id);
      if (id === null) return void errors.push(`${where}: missing or invalid "id"`);
      if (seen.has(id)) return void errors.push(`${where} (id "${id}"): duplicate id`);
      seen.add(id);
      const checked = validatorOf(res, plugins, id)({ ...item, id });
      if (!checked.ok) return void errors.push(`${where} (id "${id}"): ${checked.message}`);
      objects[res].push({ ...item, id });
    });
  }
  return { objects, errors };
}

/** JSON with object keys sorted: equal text means equal objects, whatever order the keys came in. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    isPlainObject(v) ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]])) : v,
  );
}

function changedFields(a: JsonObject, b: JsonObject): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].filter((k) => canonicalJson(a[k]) !== canonicalJson(b[k])).sort();
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

/**
 * The changes that make the store hold the file's objects. Timestamps in the file are kept (lossless round
 * trip); missing ones are taken from the stored object, or `now` for new objects and for update_time of a
 * changed one. Without `merge`, stored objects absent from the file are removed (the file is the whole config).
 */
export function planImport(
  objects: ImportObjects,
  current: Record<Resource, StoredObject[]>,
  opts: { merge: boolean; now: number },
): ImportPlan {
  const changes: Change[] = [];
  let unchanged = 0;
  for (const res of RESOURCES) {
    const stored = new Map(current[res].map((o) => [o.id, o.value]));
    const wanted = new Set<string>();
    for (const item of objects[res]) {
      const id = String(item.id);
      wanted.add(id);
      const old = stored.get(id);
      const value: JsonObject = { ...item };
      if (res === 'plugin_metadata') {
        // no timestamps, as the Admin API stores it (APISIX's plugin_metadata has none)
        if (!old) changes.push({ op: 'add', res, id, value });
        else if (canonicalJson(value) === canonicalJson(old)) unchanged += 1;
        else changes.push({ op: 'change', res, id, value, fields: changedFields(old, value) });
        continue;
      }
      if (!isInt(value.create_time)) value.create_time = old && isInt(old.create_time) ? old.create_time : opts.now;
      const keepUpdate = !isInt(value.update_time) && old && isInt(old.update_time);
      if (keepUpdate) value.update_time = old.update_time;
      if (!old) {
        if (!isInt(value.update_time)) value.update_time = opts.now;
        changes.push({ op: 'add', res, id, value });
      } else if (canonicalJson(value) === canonicalJson(old)) {
        unchanged += 1;
      } else {
        if (keepUpdate || !isInt(value.update_time)) value.update_time = opts.now;
        changes.push({ op: 'change', res, id, value, fields: changedFields(old, value).filter((f) => f !== 'update_time') });
      }
    }
    if (!opts.merge) {
      for (const id of stored.keys()) if (!wanted.has(id)) changes.push({ op: 'remove', res, id });
    }
  }
  return { changes, unchanged };
}

/** One line per change: `+ upstreams/1`, `~ stream_routes/2 (upstream, server_port)`, `- ssls/x`. */
export function renderDiff(plan: ImportPlan): string {
  const mark = { add: '+', change: '~', remove: '-' } as const;
  return plan.changes
    .map((c) => `${mark[c.op]} ${c.res}/${c.id}${c.fields && c.fields.length > 0 ? ` (${c.fields.join(', ')})` : ''}\n`)
    .join('');
}

/** "2 to add, 1 to change, 0 to remove, 5 unchanged". */
export function summarize(plan: ImportPlan, tense: 'plan' | 'done'): string {
  const count = (op: Change['op']) => plan.changes.filter((c) => c.op === op).length;
  const [a, c, r] = tense === 'plan' ? ['to add', 'to change', 'to remove'] : ['added', 'changed', 'removed'];
  return `${count('add')} ${a}, ${count('change')} ${c}, ${count('remove')} ${r}, ${plan.unchanged} unchanged`;
}
