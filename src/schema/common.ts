// Shared schema pieces (id, name, labels, numbers, host pattern) and THE formatter that turns a valibot
// issue into APISIX's message. APISIX validates with lua-resty-jsonschema (api7/jsonschema), whose errors
// nest one clause per level: `property "timeout" validation failed: property "connect" validation failed:
// expected 0 to be greater than 0`, `failed to validate item 2: ...`, `failed to validate env (matching
// ".*"): ...`. formatIssue() builds exactly that from the issue's path, whatever schema produced it.

import * as v from 'valibot';
import { isSecretRef } from '../lib/secret-ref';

export type AnySchema = v.GenericSchema<unknown, unknown>;

/** A JSON object (not an array, not null, not a class instance). */
export function isPlainObject(x: unknown): x is Record<string, unknown> {
  if (x === null || typeof x !== 'object' || Array.isArray(x)) return false;
  const proto = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

/**
 * Type name of a JSON value as jsonschema reports it: the Lua type of what cjson decoded. Objects and
 * arrays are both "table" and null is "userdata" (cjson.null), so APISIX says `expected string, got table`.
 */
export function jsonType(x: unknown): string {
  if (x === null) return 'userdata';
  if (typeof x === 'object') return 'table';
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

/**
 * PEM text of min..max characters, or a secret reference, which jsonschema does not check at all in
 * APISIX (core/schema.lua skip_validation): `$secret://...`, `$env://...` and `$ENV://...`.
 */
export function pemOrRef(min: number, max: number): AnySchema {
  const why = (s: string): string | null => {
    if (isSecretRef(s)) return null;
    const n = charLength(s);
    if (n < min) return `string too short, expected at least ${min}, got ${n}`;
    if (n > max) return `string too long, expected at most ${max}, got ${n}`;
    return null;
  };
  return v.pipe(str(), v.check((s) => why(s) === null, (i) => why(i.input as string) ?? ''));
}

/** String matching a regex; the message quotes the pattern (APISIX's source text) and the value like jsonschema. */
export function patternMessage(source: string, value: string): string {
  return `failed to match pattern ${luaQuote(source)} with ${luaQuote(value)}`;
}

export function strPattern(re: RegExp, source: string): AnySchema {
  return v.pipe(str(), v.check((s) => re.test(s), (i) => patternMessage(source, String(i.input))));
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

/** jsonschema `enum` alone: any JSON type may come, only these values pass. */
export function oneOf(values: readonly (string | number)[]): AnySchema {
  return v.custom((x) => (typeof x === 'string' || typeof x === 'number') && values.includes(x), ENUM_MSG);
}

/** `type: "string"` plus `enum`: a number is a type error first, as in APISIX. */
export function strEnum(values: readonly string[]): AnySchema {
  return v.pipe(str(), v.check((s) => values.includes(s), ENUM_MSG));
}

/** `type: "integer"` plus `enum`. */
export function intEnum(values: readonly number[]): AnySchema {
  return v.pipe(int(), v.check((n) => values.includes(n), ENUM_MSG));
}

/** Any JSON object, contents unchecked. */
export function anyObject(): AnySchema {
  return v.custom(isPlainObject, typeMsg('object'));
}

/** Array limits, checked in jsonschema's order: minItems, maxItems, then the items, then uniqueItems. */
export interface ArrayRules {
  min?: number;
  max?: number;
  unique?: boolean;
}

/** The 1-based positions of the first two equal items, as jsonschema reports them; null when all differ. */
export function firstDuplicate(items: readonly unknown[]): [number, number] | null {
  const seen = new Map<string, number>(); // one pass: a 1 MiB body must not cost n² comparisons
  for (let j = 0; j < items.length; j++) {
    const text = JSON.stringify(items[j]) ?? 'undefined';
    const i = seen.get(text);
    if (i !== undefined) return [i + 1, j + 1];
    seen.set(text, j);
  }
  return null;
}

/**
 * An array of items (`minItems` may be given as a number). Arrays are never accepted where objects are
 * expected, and vice versa. The first bad item is reported with its own path already worded, under one
 * item step (`failed to validate item 2: ...`).
 */
export function arrayOf(item: AnySchema, rules: ArrayRules | number = {}): AnySchema {
  const { min = 0, max, unique = false } = typeof rules === 'number' ? { min: rules } : rules;
  const items = v.rawCheck<unknown[]>(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    const list = dataset.value;
    for (let i = 0; i < list.length; i++) {
      const result = v.safeParse(item, list[i], { abortEarly: true });
      if (result.success) continue;
      const step = { type: 'array', origin: 'value', input: list, key: i, value: list[i] } as const;
      addIssue({ message: formatIssue(result.issues[0]), path: [step] });
      return;
    }
  });
  const actions: v.PipeItem<unknown[], unknown[], v.BaseIssue<unknown>>[] = [];
  if (min > 0) actions.push(v.check((a) => a.length >= min, `expect array to have at least ${min} items`));
  if (max !== undefined) actions.push(v.check((a) => a.length <= max, `expect array to have at most ${max} items`));
  actions.push(items);
  if (unique) {
    actions.push(v.check((a) => firstDuplicate(a) === null, (i) => {
      const [a, b] = firstDuplicate(i.input as unknown[]) ?? [0, 0];
      return `expected unique items but items ${a} and ${b} are equal`;
    }));
  }
  return v.pipe(v.array(v.unknown(), typeMsg('array')), ...(actions as [v.PipeItem<unknown[], unknown[], v.BaseIssue<unknown>>]));
}

/** Object with known fields; unknown fields are an error (`additionalProperties: false`). */
export function strictObj(entries: v.ObjectEntries): AnySchema {
  return v.pipe(anyObject(), v.strictObject(entries));
}

/** Object with known fields; unknown fields are kept (APISIX leaves these open). */
export function looseObj(entries: v.ObjectEntries): AnySchema {
  return v.pipe(anyObject(), v.looseObject(entries));
}

/**
 * A path step into an object whose keys match a pattern (jsonschema `patternProperties`). The formatter
 * words it `failed to validate <key> (matching "<pattern>"): ...` instead of `property "<key>" ...`.
 */
interface PatternStep {
  type: 'object';
  origin: 'value';
  input: Record<string, unknown>;
  key: string;
  value: unknown;
  pattern: string;
}

/**
 * {key: value} map with every value checked (jsonschema `patternProperties` with one pattern), whatever
 * the key is called (v.record would skip `__proto__` and friends). The first bad value is reported with
 * its own path already worded, under one pattern step.
 */
export function recordOf(value: AnySchema, pattern = '.*'): AnySchema {
  const values = v.rawCheck<Record<string, unknown>>(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    const input = dataset.value;
    for (const key of Object.keys(input)) {
      const result = v.safeParse(value, input[key], { abortEarly: true });
      if (result.success) continue;
      const step: PatternStep = { type: 'object', origin: 'value', input, key, value: input[key], pattern };
      addIssue({ message: formatIssue(result.issues[0]), path: [step as unknown as v.IssuePathItem] });
      return;
    }
  });
  return v.pipe(anyObject() as v.GenericSchema<unknown, Record<string, unknown>>, values);
}

/** jsonschema's `anyOf` without `required` lists: its message says nothing about why each branch failed. */
export const NONE_OF = 'object matches none of the required';

/** Valid when one of the schemas accepts the value (jsonschema `anyOf`). */
export function anyOf(schemas: readonly AnySchema[]): AnySchema {
  return v.custom((x) => schemas.some((s) => v.is(s, x)), NONE_OF);
}

/**
 * jsonschema `anyOf: [{required: [...]}, ...]` on an object, checked after its properties (as jsonschema
 * does): `object matches none of the required: ["active"] or ["active","passive"]`.
 */
export function requireAnyOf(lists: readonly (readonly string[])[]) {
  const message = `${NONE_OF}: ${lists.map((l) => JSON.stringify(l)).join(' or ')}`;
  const has = (o: unknown, k: string) => (o as Record<string, unknown>)[k] !== undefined;
  return v.check<unknown, string>((o) => lists.some((l) => l.every((k) => has(o, k))), message);
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

export const idSchema = (): AnySchema => v.custom(isValidId, NONE_OF);
export const nameSchema = (): AnySchema => strLen(1, 256);
export const descSchema = (): AnySchema => strLen(0, 256);
export const labelsSchema = (): AnySchema => recordOf(v.pipe(strLen(1, 256), strPattern(/^\S+$/, String.raw`^\S+$`)));
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

// ---- issue -> message: the one formatter ----

/**
 * Lua's `%q`, which jsonschema uses for property names, patterns and values: backslashes and quotes
 * escaped, so the pattern `^\S+$` reads `"^\\S+$"` in a message, as in APISIX.
 */
export function luaQuote(text: string): string {
  const body = clip(text).replace(/[\\"\n\r\0]/g, (c) => (c === '\n' ? '\\\n' : c === '\r' ? '\\r' : c === '\0' ? '\\000' : `\\${c}`));
  return `"${body}"`;
}

/** A step of an issue path: a property (string key), an array item (number key), or a pattern step. */
type Step = { type: string; key: unknown; origin?: string; pattern?: string };

/** Wrap `why` in one clause per path step, innermost last: jsonschema's nesting. */
function wrap(path: readonly Step[], why: string): string {
  let out = why;
  for (let i = path.length - 1; i >= 0; i--) {
    const step = path[i]!;
    if (step.type === 'array') out = `failed to validate item ${Number(step.key) + 1}: ${out}`;
    else if (typeof step.pattern === 'string') out = `failed to validate ${clip(String(step.key))} (matching ${luaQuote(step.pattern)}): ${out}`;
    else out = `property ${luaQuote(String(step.key))} validation failed: ${out}`;
  }
  return out;
}

const OBJECT_ISSUES = new Set(['object', 'strict_object', 'loose_object']);

/**
 * An issue as jsonschema words it, without the `invalid configuration: ` prefix. A missing key or an
 * unknown key (an object issue on a key) becomes `property "x" is required` / `additional properties
 * forbidden, found x` at the object's level; every other message is wrapped by its path.
 */
export function formatIssue(issue: v.BaseIssue<unknown>): string {
  const path = (issue.path ?? []) as unknown as Step[];
  const last = path[path.length - 1];
  if (last !== undefined && last.origin === 'key' && OBJECT_ISSUES.has(issue.type)) {
    const why = issue.expected === 'never'
      ? `additional properties forbidden, found ${clip(String(last.key))}`
      : `property ${luaQuote(String(last.key))} is required`;
    return wrap(path.slice(0, -1), why);
  }
  return wrap(path, issue.message);
}

/**
 * A rule checked in code after the schema, worded as if the schema had found it: `path` lists property
 * names (strings) and array positions (numbers, 0-based) from the body down to the field.
 */
export function fieldError(path: readonly (string | number)[], why: string): string {
  const steps = path.map((key): Step => (typeof key === 'number' ? { type: 'array', key } : { type: 'object', key }));
  return `invalid configuration: ${wrap(steps, why)}`;
}

/** Run a schema; null when valid, else APISIX's message for the first problem found. */
export function runSchema(schema: AnySchema, body: unknown): string | null {
  const result = v.safeParse(schema, body, { abortEarly: true });
  return result.success ? null : `invalid configuration: ${formatIssue(result.issues[0])}`;
}
