// How deeply a parsed JSON value nests, measured without recursion (so the measure itself cannot overflow the
// stack). The Admin API refuses bodies nested deeper than lua-cjson's default decode_max_depth (1000), which is
// what APISIX answers too; the recursive object operations (merge patch, validation) then stay far from the limit.

/** cjson.decode_max_depth's default: APISIX refuses deeper bodies. */
export const MAX_JSON_DEPTH = 1000;

/** True when `value` has arrays/objects nested more than `max` levels deep. Runs once per admin write body. */
export function nestsDeeperThan(value: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth > max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
    }
  }
  return false;
}
