// Shadowed stream routes: routes that can never win because routes taking precedence (an earlier id, or for a
// TLS connection a more specific sni) together match every connection they match. Exact for the conditions
// the matcher reads (server_port, remote_addr, server_addr, sni/snis): the connection space is cut into atoms
// (space.ts) and each route's box is checked against the boxes of the routes that beat it. Pure; runs on
// writes, `weir check` and the warnings view, never per connection.

import { type CompiledCidr, maskV4 } from './cidr';
import { formatRule } from './describe';
import { type Box, type ConnSample, ConnSpace, type NamedRule, boxContains, boxMinus, boxesIntersect, buildSniAtoms, patternsOf } from './space';

/** A route that cannot win, and the routes that take its traffic. */
export interface ShadowWarning {
  route: string;
  /** The first route (in precedence order) that takes part of its traffic; alone it takes all of it unless `together_with` is set. */
  shadowed_by: string;
  /** When no single route covers it: the other routes that, with shadowed_by, match everything it matches. */
  together_with?: string[];
  message: string;
}

export interface ShadowReport {
  warnings: ShadowWarning[];
  /** For every route that can win: one connection it wins (what explain, or a client, can try). */
  wins: Map<string, ConnSample>;
  /** Routes whose check ran out of its step budget (not reported as shadowed); empty in practice. */
  undecided: string[];
}

/** Splits one box may take before the check gives up on a route; far above any real route set's needs. */
const STEP_BUDGET = 200_000;

interface Search {
  steps: number;
  /** Competitors that covered a piece, by index. */
  used: Set<number>;
}

/**
 * The first piece of `box` no competitor (from `from` on) covers, or null when they cover it all. Competitors are
 * boxes of routes that beat the one being checked; a piece covered by one of them is lost to it.
 */
function uncovered(box: Box, comps: readonly Box[], ids: readonly number[], from: number, s: Search): Box | null {
  if (++s.steps > STEP_BUDGET) throw BUDGET;
  let split = -1;
  for (let i = from; i < comps.length; i++) {
    const c = comps[i]!;
    if (!boxesIntersect(c, box)) continue;
    if (boxContains(c, box)) {
      s.used.add(ids[i]!);
      return null;
    }
    if (split < 0) split = i;
  }
  if (split < 0) return box;
  s.used.add(ids[split]!);
  for (const piece of boxMinus(box, comps[split]!)) {
    const left = uncovered(piece, comps, ids, split + 1, s);
    if (left !== null) return left;
  }
  return null;
}

const BUDGET = new Error('ERR_SHADOW_BUDGET');

/** The competitors' boxes that intersect `box`, keeping their order. */
function relevant(boxes: readonly Box[], indexes: Iterable<number>, box: Box): { comps: Box[]; ids: number[] } {
  const comps: Box[] = [];
  const ids: number[] = [];
  for (const i of indexes) {
    const b = boxes[i]!;
    if (boxesIntersect(b, box)) comps.push(b), ids.push(i);
  }
  return { comps, ids };
}

/** The members of the sorted list `plain` below `i`, without copying it. */
function* earlier(plain: readonly number[], i: number): Generator<number> {
  for (const j of plain) {
    if (j >= i) return;
    yield j;
  }
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/**
 * Check every route of `rules` (precedence order, as the snapshot lists them). A route without sni competes at
 * "no SNI" with the earlier routes without sni only: if it wins nothing there, more competitors (sni routes, for
 * TLS connections) cannot help it. A route with sni competes, per SNI class it matches, with the sni routes
 * findSni tries before it for that class. `only`: check just these route ids (the others still compete).
 */
export function findShadowedRoutes(rules: readonly NamedRule[], only?: ReadonlySet<string>): ShadowReport {
  const space = new ConnSpace(rules);
  const boxes = rules.map((r) => space.boxOf(r));
  const atoms = buildSniAtoms(rules);
  const plain = range(rules.length).filter((i) => patternsOf(rules[i]!).length === 0);
  /** Per sni route: the classes it is a candidate in, with the candidates before it there. */
  const sniPlaces = new Map<number, Array<{ name: string; before: number[] }>>();
  for (const atom of atoms) {
    atom.candidates.forEach((ri, pos) => {
      const list = sniPlaces.get(ri) ?? [];
      list.push({ name: atom.name!, before: atom.candidates.slice(0, pos) });
      sniPlaces.set(ri, list);
    });
  }
  const report: ShadowReport = { warnings: [], wins: new Map(), undecided: [] };
  rules.forEach((rule, i) => {
    if (only !== undefined && !only.has(rule.id)) return;
    const box = boxes[i]!;
    const s: Search = { steps: 0, used: new Set() };
    try {
      let won: ConnSample | null = null;
      if (patternsOf(rule).length === 0) {
        const { comps, ids } = relevant(boxes, earlier(plain, i), box);
        const left = uncovered(box, comps, ids, 0, s);
        if (left !== null) won = space.sample(left, null);
      } else {
        for (const place of sniPlaces.get(i) ?? []) {
          const { comps, ids } = relevant(boxes, place.before, box);
          const left = uncovered(box, comps, ids, 0, s);
          if (left !== null) {
            won = space.sample(left, place.name);
            break;
          }
        }
      }
      if (won !== null) report.wins.set(rule.id, won);
      else report.warnings.push(shadowWarning(rules, i, [...s.used].sort((a, b) => a - b)));
    } catch (err) {
      if (err !== BUDGET) throw err;
      report.undecided.push(rule.id);
    }
  });
  return report;
}

function shadowWarning(rules: readonly NamedRule[], i: number, by: number[]): ShadowWarning {
  const r = rules[i]!;
  const first = rules[by[0]!]!;
  const what = `stream route ${r.id} (${formatRule(r)}) can never match:`;
  if (by.length === 1) {
    return { route: r.id, shadowed_by: first.id, message: `${what} route ${first.id} (${formatRule(first)}) takes precedence and matches every connection it matches` };
  }
  const names = by.map((j) => rules[j]!.id);
  return {
    route: r.id,
    shadowed_by: first.id,
    together_with: names.slice(1),
    message: `${what} routes ${names.join(', ')} take precedence and together match every connection it matches`,
  };
}

/** Could two rules match one connection? (sni aside: a cheap superset of the box test, without building atoms.) */
function mayOverlap(a: NamedRule, b: NamedRule): boolean {
  return (a.port === 0 || b.port === 0 || a.port === b.port) && cidrsOverlap(a.remote, b.remote) && cidrsOverlap(a.server, b.server);
}

function cidrsOverlap(a: CompiledCidr | null, b: CompiledCidr | null): boolean {
  if (a === null || b === null) return true;
  if (a.family !== b.family) return false;
  const prefix = Math.min(a.prefix, b.prefix);
  if (a.family === 4) return maskV4(a.v4, prefix) === maskV4(b.v4, prefix);
  const full = prefix >> 3;
  for (let i = 0; i < full; i++) if (a.v6![i] !== b.v6![i]) return false;
  const rest = prefix & 7;
  const mask = (0xff << (8 - rest)) & 0xff;
  return rest === 0 || (a.v6![full]! & mask) === (b.v6![full]! & mask);
}

/**
 * The warnings a write of route `id` should report: it is shadowed, or it shadows others. Only the routes that may
 * overlap it are checked, against the routes that may overlap those (every competitor of theirs), so a write
 * costs far less than checking every route, with the same verdicts.
 */
export function findShadowingAround(rules: readonly NamedRule[], id: string): ShadowWarning[] {
  const x = rules.find((r) => r.id === id);
  if (x === undefined) return [];
  const near = rules.filter((r) => mayOverlap(r, x));
  const sub = rules.filter((r) => near.some((n) => mayOverlap(r, n)));
  const only = new Set(near.map((r) => r.id));
  return findShadowedRoutes(sub, only).warnings.filter((w) => w.route === id || w.shadowed_by === id || (w.together_with ?? []).includes(id));
}
