// Typed readers for values of the parsed YAML tree: each checks one value and names its YAML path on error.
// Runs once at start (and on `weir` offline commands); nothing here is on a connection's path.

import { ConfigError } from './types';
import { MOVED_KEYS, NOT_USED_KEYS, USED_KEYS } from './known-keys';

export type YamlMap = { [key: string]: unknown };

/** State shared by the readers of one parse: warnings so far, and what ${{VAR}} substitution produced. */
export interface ReadCtx {
  warnings: string[];
  /** Known APISIX keys weir ignores, reported once at the end. */
  notUsed: string[];
  /** YAML path -> substituted text, for values substitution turned into a number or boolean (APISIX does). */
  substituted: ReadonlyMap<string, string>;
}

/** "a" + "b" -> "a.b"; the top level has the empty path. */
export function joinPath(base: string, key: string): string {
  return base ? `${base}.${key}` : key;
}

/** How a value is shown in a message: strings quoted (and cut), collections by kind. */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'nothing (an empty value)';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
  return String(value);
}

export function isMap(value: unknown): value is YamlMap {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A mapping, or undefined when the key is absent or empty (`admin:` with nothing under it). */
export function readMap(value: unknown, path: string): YamlMap | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isMap(value)) throw new ConfigError(path, `expected a mapping, got ${describeValue(value)}`);
  return value;
}

/** A list, or undefined when absent or empty. */
export function readList(value: unknown, path: string, what: string): unknown[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw new ConfigError(path, `expected a list of ${what}, got ${describeValue(value)}`);
  return value;
}

export function readBool(value: unknown, path: string, fallback: boolean): boolean {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'boolean') throw new ConfigError(path, `expected true or false, got ${describeValue(value)}`);
  return value;
}

export function readPort(value: unknown, path: string, fallback: number): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65535) {
    throw new ConfigError(path, `expected an integer 1..65535, got ${describeValue(value)}`);
  }
  return value;
}

/**
 * A string. A number or boolean that ${{VAR}} substitution produced reads back as the substituted text,
 * so `key: ${{ADMIN_KEY}}` with ADMIN_KEY=0123 stays "0123".
 */
export function readString(value: unknown, path: string, ctx: ReadCtx, what = 'a string'): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  const text = ctx.substituted.get(path);
  if (text !== undefined) return text;
  throw new ConfigError(path, `expected ${what}, got ${describeValue(value)}`);
}

/** One of a fixed set of strings. */
export function readChoice<T extends string>(value: unknown, path: string, choices: readonly T[]): T | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string' && (choices as readonly string[]).includes(value)) return value as T;
  const list = choices.map((c) => JSON.stringify(c));
  const expected = `${list.slice(0, -1).join(', ')} or ${list[list.length - 1]}`;
  throw new ConfigError(path, `expected ${expected}, got ${describeValue(value)}`);
}

// Longest unit first so "ms" is not read as "m" followed by garbage.
const TIME_PART = /(\d+)(ms|s|m|h|d)?\s*/y;
const TIME_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
// setTimeout fires at once for delays past 2^31-1 ms, so a longer grace period would mean none at all.
const MAX_TIMER_MS = 2 ** 31 - 1;

/** An nginx time ("240s", "1m30s", "500ms"; a bare number means seconds) in milliseconds. */
export function readDurationMs(value: unknown, path: string, fallbackMs: number): number {
  if (value === undefined || value === null) return fallbackMs;
  let ms: number | null = null;
  if (typeof value === 'number') {
    ms = Number.isFinite(value) && value >= 0 ? Math.round(value * 1000) : null;
  } else if (typeof value === 'string' && /^\s*\d/.test(value)) {
    ms = 0;
    TIME_PART.lastIndex = 0;
    const text = value.trim();
    while (TIME_PART.lastIndex < text.length) {
      const start = TIME_PART.lastIndex;
      const part = TIME_PART.exec(text);
      if (!part || TIME_PART.lastIndex === start) {
        ms = null;
        break;
      }
      ms += Number(part[1]) * TIME_UNITS_MS[part[2] ?? 's']!;
    }
  }
  if (ms === null) {
    const expected = 'a time like "240s", "1m" or "500ms" (or seconds)';
    throw new ConfigError(path, `expected ${expected}, got ${describeValue(value)}`);
  }
  if (ms > MAX_TIMER_MS) throw new ConfigError(path, `${describeValue(value)} is too long (at most 24 days)`);
  return ms;
}

/**
 * Warn about keys of `map` that weir does not read. `schemaPath` picks the list in USED_KEYS (list items
 * share one entry, e.g. "deployment.admin.admin_key[]"); `path` is the real YAML path for messages.
 */
export function checkKeys(map: YamlMap, path: string, ctx: ReadCtx, schemaPath = path): void {
  const used = USED_KEYS[schemaPath] ?? [];
  for (const key of Object.keys(map)) {
    if (used.includes(key)) continue;
    const full = joinPath(path, key);
    const moved = MOVED_KEYS.get(full);
    if (moved) ctx.warnings.push(`${full} is where APISIX 2.x kept this setting; weir reads ${moved} (ignored)`);
    else if (NOT_USED_KEYS.has(full)) ctx.notUsed.push(full);
    else ctx.warnings.push(`unknown key ${full} (ignored)`);
  }
}
