// APISIX's `${{VAR}}` / `${{VAR:=default}}` substitution in config.yaml string values.
// Pure: the environment comes in as a parameter. Runs once, before validation.

import { ConfigError } from './types';
import { joinPath } from './read';

export type Env = Record<string, string | undefined>;

export interface Substituted {
  tree: unknown;
  /** YAML path -> resulting text, for each value that substitution turned into a number or boolean. */
  converted: Map<string, string>;
}

// `${{` ... `}}`; the inside is checked separately so a malformed reference gets its own message
// instead of being left in place as literal text.
const REFERENCE = /\$\{\{(.*?)\}\}/g;
const NAME = /^[A-Za-z0-9_]+$/;
// What Lua's tonumber accepts, near enough: decimal with optional fraction/exponent, or hex.
const NUMBER = /^\s*[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|0[xX][0-9a-fA-F]+)\s*$/;

/**
 * Replace every reference in every string value of `tree` (keys are left alone). Like APISIX, a value
 * that used a variable and now reads as a number, "true" or "false" becomes that number or boolean, so
 * `port: ${{ADMIN_PORT:=9180}}` is an integer. Throws ConfigError naming the key and the variable.
 */
export function substituteEnv(tree: unknown, env: Env): Substituted {
  const converted = new Map<string, string>();
  const walk = (value: unknown, path: string): unknown => {
    if (typeof value === 'string') return substituteString(value, path, env, converted);
    if (Array.isArray(value)) return value.map((item, i) => walk(item, `${path}[${i}]`));
    if (typeof value === 'object' && value !== null) {
      const out: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(value)) {
        // defineProperty: a "__proto__" key stays an ordinary (and later unknown) key.
        const copy = walk(item, joinPath(path, key));
        Object.defineProperty(out, key, { value: copy, enumerable: true, writable: true, configurable: true });
      }
      return out;
    }
    return value;
  };
  return { tree: walk(tree, ''), converted };
}

function substituteString(text: string, path: string, env: Env, converted: Map<string, string>): unknown {
  if (!text.includes('${{')) return text;
  let used = false;
  const result = text.replace(REFERENCE, (whole, inner: string) => {
    const split = inner.indexOf(':=');
    const name = (split < 0 ? inner : inner.slice(0, split)).trim();
    if (!NAME.test(name)) {
      const expected = '(expected ${{NAME}} or ${{NAME:=default}})';
      throw new ConfigError(path, `${JSON.stringify(whole)} is not a valid variable reference ${expected}`);
    }
    const value = env[name] ?? (split < 0 ? undefined : inner.slice(split + 2).trim());
    if (value === undefined) {
      const problem = `environment variable ${name} is not set and ${JSON.stringify(whole)} has no default`;
      throw new ConfigError(path, problem);
    }
    used = true;
    return value;
  });
  if (!used) return result;
  let typed: unknown = result;
  if (NUMBER.test(result)) typed = Number(result.trim());
  else if (result === 'true') typed = true;
  else if (result === 'false') typed = false;
  if (typed !== result) converted.set(path, result);
  return typed;
}
