// Shared schema pieces (id, name, labels, numbers, host pattern) and the valibot-issue -> APISIX message mapping.
// Messages imitate lua-resty-jsonschema's wording ("wrong type: expected string, got number") so clients
// that grep APISIX errors see familiar text; weir adds a dotted path naming the exact field.

import * as v from 'valibot';

export type AnySchema = v.GenericSchema<unknown, unknown>;

/** A JSON object (not an array, not null, not a class instance). */
export function isPlainObject(x: unknown): x is Record<string, unknown> {
  if (x === null || typeof x !== 'object' || Array.isArray(x)) return false;
  const proto = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

/** JSON type name of a value, as jsonschema reports it (every number is "number"). */
export function jsonType(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'array';
  return typeof x;
}

/** Echo user text into a message without letting a 1 MiB string become a 1 MiB error. */
export function clip(text: string, max = 200): string {
  return text.length > max ? `${text.slice(0, max)}...` : text;
}

/** Unicode code points, counted without allocating (APISIX counts characters, not UTF-16 units). */
export function charLength(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) i++;
    n++;
  }
  return n;
}

const typeMsg = (want: string) => (issue: v.BaseIssue<unknown>) => `wrong type: expected ${want}, got ${jsonType(issue.input)}`;

export const ENUM_MSG = 'matches none of the enum values';

export function str(): v.GenericSchema<unknown, string> {
  return v.string(typeMsg('string'));
}

/** String with a character-count range. */
export function strLen(min: number, max: number): AnySchema {
  return v.pipe(
    str(),
    v.check((s) => s.length >= min && charLength(s) >= min, (i) => `string too short, expected at least ${min}, got ${charLength(i.input as string)}`),
    v.check((s) => s.length <= max || charLength(s) <= max, (i) => `string too long, expected at most ${max}, got ${charLength(i.input as string)}`),
  );
}

/** String matching a regex; the message quotes the pattern like jsonschema does. */
export function strPattern(re: RegExp, source: string): AnySchema {
  return v.pipe(str(), v.check((s) => re.test(s), (i) => `failed to match pattern "${source}" with "${clip(String(i.input))}"`));
}

export function num(): v.GenericSchema<unknown, number> {
  return v.pipe(v.number(typeMsg('number')), v.finite(typeMsg('number')));
}

export function int(): v.GenericSchema<unknown, number> {
  return v.pipe(v.number(typeMsg('integer')), v.check((n) => Number.isInteger(n), typeMsg('integer')));
}

const atLeast = (min: number) => v.check((n: number) => n >= min, (i) => `expected ${i.input} to be at least ${min}`);
const atMost = (max: number) => v.check((n: number) => n <= max, (i) => `expected ${i.input} to be at most ${max}`);

export function intRange(min: number, max?: number): AnySchema {
  return max === undefined ? v.pipe(int(), atLeast(min)) : v.pipe(int(), atLeast(min), atMost(max));
}

export function numMin(min: number): AnySchema {
  return v.pipe(num(), atLeast(min));
}

export function numAbove(min: number): AnySchema {
  return v.pipe(num(), v.check((n) => n > min, (i) => `expected ${i.input} to be greater than ${min}`));
}

export function bool(): AnySchema {
  return v.boolean(typeMsg('boolean'));
}

export function oneOf(values: readonly (string | number)[]): AnySchema {
  return v.custom((x) => (typeof x === 'string' || typeof x === 'number') && values.includes(x), ENUM_MSG);
}

/** Any JSON object, contents unchecked. */
export function anyObject(): AnySchema {
  return v.custom(isPlainObject, typeMsg('object'));
}

/** An array (of items). Arrays are never accepted where objects are expected, and vice versa. */
export function arrayOf(item: AnySchema, minItems = 0): AnySchema {
  return v.pipe(
    v.array(item, typeMsg('array')),
    v.check((a) => a.length >= minItems, `expect array to have at least ${minItems} items`),
  );
}

/** Object with known fields; unknown fields are an error (`additionalProperties: false`). */
export function strictObj(entries: v.ObjectEntries): AnySchema {
  return v.pipe(anyObject(), v.strictObject(entries));
}

/** Object with known fields; unknown fields are kept (APISIX leaves these open). */
export function looseObj(entries: v.ObjectEntries): AnySchema {
  return v.pipe(anyObject(), v.looseObject(entries));
}

// v.record silently skips these keys (prototype-pollution guard), so their values are checked here instead.
const RECORD_SKIPPED = ['__proto__', 'prototype', 'constructor'];

/** {key: value} map with every value checked, whatever the key is called. */
export function recordOf(value: AnySchema): AnySchema {
  const skippedKeys = v.rawCheck<Record<string, unknown>>(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    const input = dataset.value;
    for (const key of RECORD_SKIPPED) {
      if (!Object.hasOwn(input, key)) continue;
      const result = v.safeParse(value, input[key], { abortEarly: true });
      if (result.success) continue;
      const inner = result.issues[0];
      const head = { type: 'object', origin: 'value', input, key, value: input[key] } as const;
      addIssue({ message: inner.message, path: [head, ...(inner.path ?? [])] as [v.IssuePathItem, ...v.IssuePathItem[]] });
      return;
    }
  });
  return v.pipe(anyObject() as v.GenericSchema<unknown, Record<string, unknown>>, skippedKeys, v.record(v.string(), value));
}

export function opt(schema: AnySchema): AnySchema {
  return v.optional(schema);
}

// ---- common definitions (spec section 3) ----

/** APISIX id rule: 1..64 chars of [a-zA-Z0-9-_.], or an integer >= 1 (safe integers only, so String(id) is exact). */
export function isValidId(x: unknown): boolean {
  if (typeof x === 'number') return Number.isSafeInteger(x) && x >= 1;
  return typeof x === 'string' && /^[a-zA-Z0-9._-]{1,64}$/.test(x);
}

export const idSchema = (): AnySchema => v.custom(isValidId, 'object matches none of the required');
export const nameSchema = (): AnySchema => strLen(1, 256);
export const descSchema = (): AnySchema => strLen(0, 256);
export const labelsSchema = (): AnySchema => recordOf(v.pipe(strLen(1, 256), v.check((s) => /^\S+$/.test(s as string), (i) => `failed to match pattern "^\\S+$" with "${clip(String(i.input))}"`)));
export const timeSchema = (): AnySchema => int();

export const HOST_PATTERN = String.raw`^\*$|^\*?[0-9a-zA-Z-._\[\]:]+$`;
const HOST_RE = /^\*$|^\*?[0-9a-zA-Z\-._[\]:]+$/;
export const hostSchema = (): AnySchema => strPattern(HOST_RE, HOST_PATTERN);

/** Fields every resource carries. */
export function commonEntries(): v.ObjectEntries {
  return {
    id: opt(idSchema()),
    desc: opt(descSchema()),
    labels: opt(labelsSchema()),
    create_time: opt(timeSchema()),
    update_time: opt(timeSchema()),
  };
}

// ---- issue -> message ----

/** "upstream.nodes[0].port": keys joined by dots, array positions in brackets. */
export function formatPath(path: readonly { key: unknown }[]): string {
  let out = '';
  for (const item of path) {
    if (typeof item.key === 'number') out += `[${item.key}]`;
    else out += out === '' ? String(item.key) : `.${String(item.key)}`;
  }
  return out;
}

/** Prefix a reason with the field it concerns, jsonschema style. An empty path means the whole body. */
export function fieldError(path: string, why: string): string {
  return path === '' ? `invalid configuration: ${why}` : `invalid configuration: property "${path}" validation failed: ${why}`;
}

/** Run a schema; null when valid, else the APISIX-style message for the first problem found. */
export function runSchema(schema: AnySchema, body: unknown): string | null {
  const result = v.safeParse(schema, body, { abortEarly: true });
  if (result.success) return null;
  const issue = result.issues[0];
  const path = (issue.path ?? []) as { key: unknown; origin?: string }[];
  const last = path[path.length - 1];
  if (last && last.origin === 'key' && (issue.type === 'strict_object' || issue.type === 'loose_object')) {
    const parent = formatPath(path.slice(0, -1));
    const key = clip(String(last.key));
    if (issue.expected === 'never') return fieldError(parent, `additional properties forbidden, found ${key}`);
    return parent === '' ? `invalid configuration: property "${key}" is required` : fieldError(parent, `property "${key}" is required`);
  }
  return fieldError(formatPath(path), issue.message);
}
