// Which traffic changes hands between two rule sets: for the connections the changed routes match (before or
// after), the route that wins them before and the one that wins them after. Computed on the match conditions
// over the atoms of both sets (space.ts), not by sampling; a connection no changed route matches keeps its
// winner, since the routes it meets and their order are the same in both sets. Pure; runs per dry-run write.

import {
  type Box, type ConnSample, ConnSpace, type NamedRule, boxContains, boxIntersection, boxMinus, boxesIntersect, buildSniTable,
  patternsOf, sniAtomNames, sniCandidates,
} from './space';
import { sniPatternCovers } from './explain';

/** Traffic that moves from one route to another (null: no route, the connection is refused). */
export interface WinnerChange {
  from: string | null;
  to: string | null;
  /** One connection that moves. */
  sample: ConnSample;
}

interface Ranked {
  id: string;
  box: Box;
}

/** Split `box` by who wins each part, for routes met in `order`. */
function winnerPieces(box: Box, order: readonly Ranked[], from: number, out: Array<[Box, string | null]>): void {
  for (let i = from; i < order.length; i++) {
    const c = order[i]!;
    if (!boxesIntersect(c.box, box)) continue;
    if (boxContains(c.box, box)) {
      out.push([box, c.id]);
      return;
    }
    out.push([boxIntersection(box, c.box), c.id]);
    for (const piece of boxMinus(box, c.box)) winnerPieces(piece, order, i + 1, out);
    return;
  }
  out.push([box, null]);
}

/** One rule set's view: who the connections of an SNI class meet, in order. */
class RankedSet {
  private readonly table;
  private readonly boxes: Box[];
  private readonly plain: Ranked[];
  private readonly cache = new Map<string | null, Ranked[]>();

  constructor(
    readonly rules: readonly NamedRule[],
    space: ConnSpace,
  ) {
    this.table = buildSniTable(rules);
    this.boxes = rules.map((r) => space.boxOf(r));
    this.plain = rules.flatMap((r, i) => (patternsOf(r).length === 0 ? [{ id: r.id, box: this.boxes[i]! }] : []));
  }

  get sniTable() {
    return this.table;
  }

  /** The routes a connection with this SNI meets: the sni candidates, then the routes without sni. */
  order(sni: string | null): Ranked[] {
    let list = this.cache.get(sni);
    if (list === undefined) {
      const sniRoutes = sni === null ? [] : sniCandidates(this.table, sni).map((i) => ({ id: this.rules[i]!.id, box: this.boxes[i]! }));
      list = [...sniRoutes, ...this.plain];
      this.cache.set(sni, list);
    }
    return list;
  }
}

/**
 * Every change of winner between `before` and `after` (both in precedence order), given the ids of the routes that
 * differ between them (added, removed or changed). One entry per (from, to) pair, with a sample connection.
 */
export function diffWinners(before: readonly NamedRule[], after: readonly NamedRule[], changed: ReadonlySet<string>): WinnerChange[] {
  if (changed.size === 0) return [];
  const space = new ConnSpace([...before, ...after]);
  const b = new RankedSet(before, space);
  const a = new RankedSet(after, space);
  const names = sniAtomNames(b.sniTable, a.sniTable);
  const found = new Map<string, WinnerChange>();
  for (const rule of [...before, ...after].filter((r) => changed.has(r.id))) {
    const box = space.boxOf(rule);
    const patterns = patternsOf(rule);
    for (const sni of names) {
      // the part of the space this version of the route matches: its sni classes only, or every class
      if (patterns.length > 0 && (sni === null || !patterns.some((p) => sniPatternCovers(p, sni)))) continue;
      const beforePieces: Array<[Box, string | null]> = [];
      winnerPieces(box, b.order(sni), 0, beforePieces);
      for (const [piece, from] of beforePieces) {
        const afterPieces: Array<[Box, string | null]> = [];
        winnerPieces(piece, a.order(sni), 0, afterPieces);
        for (const [p2, to] of afterPieces) {
          if (from === to) continue;
          const key = `${from ?? ''}\u0000${to ?? ''}`;
          if (!found.has(key)) found.set(key, { from, to, sample: space.sample(p2, sni) });
        }
      }
    }
  }
  return [...found.values()];
}
