// The snapshot build as `weir start` and `weir check` run it: services merged into their routes, the routes'
// plugins compiled (FilterCompiler), then buildSnapshot. One function so both see exactly the same result.

import { buildSnapshot } from '../snapshot/build';
import { mergeServices } from '../snapshot/services';
import type { Snapshot } from '../snapshot/types';
import type { StoreContents } from '../store/types';
import type { FilterCompiler } from './compile';

/** Runs once per store change; never throws. Problems: skipped rows, routes that cannot forward, plugin issues. */
export function buildServedSnapshot(
  contents: StoreContents,
  prev: Snapshot | null,
  compiler: FilterCompiler,
  tls: { trustedCa?: string | null } = {},
): { snapshot: Snapshot; problems: string[] } {
  const merged = mergeServices(contents);
  compiler.beginBuild(merged.contents);
  const built = buildSnapshot(merged.contents, prev, compiler.deps, tls);
  return { snapshot: built.snapshot, problems: [...merged.problems, ...built.problems] };
}
