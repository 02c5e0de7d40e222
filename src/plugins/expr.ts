// APISIX's `vars` expressions (lua-resty-expr v1), as traffic-split's `match[].vars` writes them:
//   [["remote_addr", "==", "127.0.0.1"], ["server_port", ">", 9000]]      every one must hold (AND)
//   ["OR", ["route_id", "==", "1"], ["remote_addr", "ipmatch", ["10.0.0.0/8"]]]   a logic operator first
//   ["server_port", "!", "==", 9100]                                        "!" negates one comparison
// Compiled once per conf into closures over compiled variable readers; evaluation allocates nothing.
// Operators: == ~= > >= < <= ~~ (regex) ~* (regex, any case) in has ipmatch. Messages are lua-resty-expr's.

import { compileCidr, cidrContains, parseIpv4, parseIpv6 } from '../proxy/match/cidr';
import type { VarSource } from '../proxy/filter/types';
import { compileVar, type RouteVars } from './vars';

/** A compiled expression: true when the connection matches. */
export type Matcher = (conn: VarSource) => boolean;

export type CompiledExpr = { ok: true; match: Matcher } | { ok: false; error: string };

const LOGIC_OPS = new Set(['OR', '!OR', 'AND', '!AND']);
const OPERATORS = new Set(['==', '~=', '>', '>=', '<', '<=', '~~', '~*', 'in', 'has', 'ipmatch']);

class ExprError extends Error {}

/** Lua's tonumber on a variable's text: a decimal or hex number, else nil. */
function toNumber(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const t = text.trim();
  if (t === '') return undefined;
  const n = /^[-+]?0[xX][0-9a-fA-F]+$/.test(t) ? Number.parseInt(t, 16) : Number(t);
  return Number.isNaN(n) ? undefined : n;
}

/** A right-hand value as Lua sees it: JSON null is nil. */
function luaValue(v: unknown): unknown {
  return v === null ? undefined : v;
}

function regexOf(source: unknown, flags: string): RegExp {
  try {
    return new RegExp(String(source), flags);
  } catch (err) {
    throw new ExprError(`failed to compile regex "${String(source)}": ${(err as Error).message}`);
  }
}

/** One comparison `[var, op, value]` (or `[var, "!", op, value]`, or the old `[var, value]` meaning ==). */
function compileComparison(rule: unknown[], route: RouteVars): Matcher {
  let left: unknown;
  let op: unknown;
  let right: unknown;
  let reverse = false;
  if (rule.length === 4) {
    if (rule[1] !== '!') throw new ExprError("bad 'not' expression");
    reverse = true;
    [left, , op, right] = rule;
  } else {
    [left, op, right] = rule;
  }
  if (typeof op === 'string') op = op.toLowerCase();
  if (right === undefined && !OPERATORS.has(op as string)) {
    // kept for compatibility by lua-resty-expr: a two-item rule compares with ==
    right = op;
    op = '==';
    if (right === undefined) throw new ExprError('invalid expression');
  }
  if (left === undefined || left === null || op === undefined || op === null) throw new ExprError('invalid expression');
  if (typeof op !== 'string' || !OPERATORS.has(op)) throw new ExprError(`invalid operator '${String(op)}'`);
  const read = compileVar(String(left), route);
  const test = compileOperator(op, luaValue(right));
  return reverse ? (c) => !test(read(c)) : (c) => test(read(c));
}

function compileOperator(op: string, right: unknown): (left: string | undefined) => boolean {
  switch (op) {
    case '==':
      if (typeof right === 'number') return (l) => toNumber(l) === right;
      return (l) => l === right;
    case '~=':
      if (typeof right === 'number') return (l) => {
        const n = toNumber(l);
        return n === undefined || n !== right;
      };
      return (l) => l !== right;
    case '>': case '>=': case '<': case '<=': {
      const r = typeof right === 'number' ? right : typeof right === 'string' ? toNumber(right) : undefined;
      if (r === undefined) return () => false;
      const cmp = op === '>' ? (a: number) => a > r : op === '>=' ? (a: number) => a >= r : op === '<' ? (a: number) => a < r : (a: number) => a <= r;
      return (l) => {
        const n = toNumber(l);
        return n !== undefined && cmp(n);
      };
    }
    case '~~':
    case '~*': {
      const re = regexOf(right, op === '~*' ? 'i' : '');
      return (l) => l !== undefined && re.test(l);
    }
    case 'in': {
      const list = Array.isArray(right) ? right : [];
      return (l) => l !== undefined && list.includes(l);
    }
    case 'has':
      // the left side must be a list; stream variables are text
      return () => false;
    case 'ipmatch': {
      const texts = typeof right === 'string' ? [right] : Array.isArray(right) ? right : [];
      const rules = texts.map((t) => (typeof t === 'string' ? compileCidr(t) : null));
      const bad = rules.indexOf(null);
      if (bad >= 0) throw new ExprError(`invalid ip address: ${String(texts[bad])}`);
      const compiled = rules as NonNullable<(typeof rules)[number]>[];
      return (l) => {
        if (l === undefined) return false;
        const v4 = parseIpv4(l);
        const v6 = v4 >= 0 ? null : parseIpv6(l);
        if (v4 < 0 && v6 === null) return false;
        return compiled.some((r) => cidrContains(r, v4, v6));
      };
    }
    default:
      throw new ExprError(`invalid operator '${op}'`);
  }
}

/** A rule list: comparisons (AND), nested lists, or a logic operator followed by rules. */
function compileRules(rules: unknown[], route: RouteVars): Matcher {
  if (rules.length === 0) throw new ExprError('rule too short');
  if (Array.isArray(rules[0])) {
    const parts = rules.map((r) => {
      if (!Array.isArray(r)) throw new ExprError('rule should be wrapped inside brackets');
      return compileRules(r, route);
    });
    return (c) => parts.every((p) => p(c));
  }
  const head = typeof rules[0] === 'string' ? rules[0].toUpperCase() : '';
  if (LOGIC_OPS.has(head)) {
    if (rules.length <= 2) throw new ExprError('rule too short');
    const parts = rules.slice(1).map((r) => {
      if (!Array.isArray(r)) throw new ExprError('rule should be wrapped inside brackets');
      return compileRules(r, route);
    });
    switch (head) {
      case 'AND': return (c) => parts.every((p) => p(c));
      case '!AND': return (c) => !parts.every((p) => p(c));
      case 'OR': return (c) => parts.some((p) => p(c));
      default: return (c) => !parts.some((p) => p(c));
    }
  }
  return compileComparison(rules, route);
}

/**
 * Compile a `vars` value (expr.new): an empty list matches everything; a list must hold lists unless it
 * starts with a logic operator. Errors are lua-resty-expr's ("rule should be wrapped inside brackets",
 * "invalid operator 'x'", ...) plus weir's "invalid ip address: x" and regex errors.
 */
export function compileExpr(vars: unknown, route: RouteVars = { routeId: '', serviceId: undefined }): CompiledExpr {
  if (vars === undefined || vars === null) return { ok: false, error: 'missing argument rule' };
  if (!Array.isArray(vars)) return { ok: false, error: 'rule should be wrapped inside brackets' };
  if (vars.length === 0) return { ok: true, match: () => true };
  if (!Array.isArray(vars[0]) && !(typeof vars[0] === 'string' && LOGIC_OPS.has(vars[0].toUpperCase()))) {
    return { ok: false, error: 'rule should be wrapped inside brackets' };
  }
  try {
    return { ok: true, match: compileRules(vars, route) };
  } catch (err) {
    if (err instanceof ExprError) return { ok: false, error: err.message };
    throw err;
  }
}

