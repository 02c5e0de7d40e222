// SNI lookup order shared by stream routes and (later) certificates: exact name, then "*.suffix"
// wildcards longest suffix first, then "*"; the caller's filter decides, and a miss falls through.

/** Lowercase and drop one trailing dot, as APISIX does for both client SNIs and configured patterns. */
export function normalizeSni(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

export interface SniTable<T> {
  exact: Map<string, T[]>;
  /** Keyed by the suffix including its leading dot: "*.test.com" -> ".test.com". */
  wild: Map<string, T[]>;
  star: T[];
  /**
   * Routes: "*.test.com" covers any number of labels (a.b.test.com). Certificates: exactly one label.
   */
  wildcardSpansLabels: boolean;
  size: number;
}

export function createSniTable<T>(wildcardSpansLabels: boolean): SniTable<T> {
  return { exact: new Map(), wild: new Map(), star: [], wildcardSpansLabels, size: 0 };
}

/** Add a value under a normalised pattern ("a.test.com", "*.test.com" or "*"). Insertion order is kept. */
export function addSni<T>(table: SniTable<T>, pattern: string, value: T): void {
  table.size++;
  if (pattern === '*') {
    table.star.push(value);
    return;
  }
  const map = pattern.startsWith('*.') ? table.wild : table.exact;
  const key = pattern.startsWith('*.') ? pattern.slice(1) : pattern;
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

function firstAccepted<T, C>(list: T[] | undefined, accept: (value: T, ctx: C) => boolean, ctx: C): T | undefined {
  if (list === undefined) return undefined;
  for (let i = 0; i < list.length; i++) if (accept(list[i]!, ctx)) return list[i];
  return undefined;
}

/**
 * Find the first value, in specificity order, that `accept` takes. `name` must be normalised.
 * Runs once per TLS connection; builds a suffix string per wildcard level probed (TLS only, not plain TCP).
 */
export function findSni<T, C>(
  table: SniTable<T>,
  name: string,
  accept: (value: T, ctx: C) => boolean,
  ctx: C,
): T | undefined {
  if (table.size === 0) return undefined;
  let hit = firstAccepted(table.exact.get(name), accept, ctx);
  if (hit !== undefined) return hit;
  if (table.wild.size > 0) {
    // Suffixes start at each dot after the first label: ".b.test.com", then ".test.com", then ".com".
    for (let dot = name.indexOf('.', 1); dot > 0; dot = name.indexOf('.', dot + 1)) {
      hit = firstAccepted(table.wild.get(name.slice(dot)), accept, ctx);
      if (hit !== undefined) return hit;
      if (!table.wildcardSpansLabels) break;
    }
  }
  return firstAccepted(table.star, accept, ctx);
}
