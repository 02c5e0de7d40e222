// Route match rules for the analyses (shadowing, explain, dry-run effects), from the live snapshot or from stored
// rows. Rows are validated and compiled as the snapshot build does (a row the build would skip is skipped here),
// and a cache keyed by the row's text keeps a write from recompiling every route.

import { compileRouteRule } from '../proxy/match/route';
import type { NamedRule } from '../proxy/match/space';
import { validateStreamRoute } from '../schema/index';
import type { Snapshot } from '../snapshot/types';
import type { StoredObject } from '../store/types';

/** The snapshot's compiled rules, in its precedence order. */
export function snapshotRules(snap: Snapshot): NamedRule[] {
  const out: NamedRule[] = [];
  for (const route of snap.routes) {
    const cached = snap.rules.get(route.key);
    if (cached === undefined || typeof cached.rule === 'string') continue;
    out.push({ ...cached.rule, id: route.id });
  }
  return out;
}

function byId(a: StoredObject, b: StoredObject): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Compiles stored route rows into rules, remembering each row's outcome by its text. */
export class RuleCache {
  private entries = new Map<string, { raw: string; rule: NamedRule | null }>();

  /** Rules of `rows` in precedence (id byte) order; invalid rows are left out. */
  rulesOf(rows: readonly StoredObject[]): NamedRule[] {
    const next = new Map<string, { raw: string; rule: NamedRule | null }>();
    const out: NamedRule[] = [];
    for (const row of [...rows].sort(byId)) {
      let entry = this.entries.get(row.id);
      if (entry === undefined || entry.raw !== row.raw) entry = { raw: row.raw, rule: compileRow(row) };
      next.set(row.id, entry);
      if (entry.rule !== null) out.push(entry.rule);
    }
    this.entries = next;
    return out;
  }
}

function compileRow(row: StoredObject): NamedRule | null {
  try {
    if (!validateStreamRoute(row.value).ok) return null;
  } catch {
    return null;
  }
  const rule = compileRouteRule(row.value);
  return typeof rule === 'string' ? null : { ...rule, id: row.id };
}
