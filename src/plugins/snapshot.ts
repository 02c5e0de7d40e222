// The snapshot build as `weir start` and `weir check` run it: services merged into their routes, the routes'
// plugins compiled (FilterCompiler), then buildSnapshot. One function so both see exactly the same result.
// Also when the holder may apply a change incrementally instead (src/snapshot/holder.ts).

import { isPlainObject } from '../lib/json';
import { type BuildDeps, type BuildResult, buildSnapshot } from '../snapshot/build';
import { mergeServices } from '../snapshot/services';
import type { Snapshot } from '../snapshot/types';
import type { RowChange, StoreContents, StoredObject } from '../store/types';
import type { FilterCompiler } from './compile';

/** Runs once per full build; never throws. Problems: skipped rows, routes that cannot forward, plugin issues. */
export function buildServedSnapshot(
  contents: StoreContents,
  prev: Snapshot | null,
  compiler: FilterCompiler,
  tls: { trustedCa?: string | null } = {},
  /** The compiler's deps, or those plus more (the DNS names' addresses): the holder passes its own. */
  deps: BuildDeps = compiler.deps,
): BuildResult & { problems: string[] } {
  const merged = mergeServices(contents);
  compiler.beginBuild(merged.contents);
  // a route skipped for its missing service is that route's problem ("stream_routes/<id>: skipped: ...")
  const skipped = merged.problems.map((p) => [p.slice(0, p.indexOf(':')), p] as const);
  return buildSnapshot(merged.contents, prev, deps, tls, skipped);
}

/**
 * A route row whose served form depends on other rows in a way the incremental update does not follow: it
 * names a service (merged in before the build), or its plugins name upstreams (traffic-split's chain holds
 * the upstream objects it names, and only routes naming an upstream by upstream_id are relinked).
 */
function dependsOnOthers(row: StoredObject): boolean {
  const v = row.value;
  if (v.service_id !== undefined && v.service_id !== null) return true;
  return isPlainObject(v.plugins) && v.plugins['traffic-split'] !== undefined;
}

/** After a full read: whether every later change must be a full build too (services, plugin_metadata in use). */
export function needsFullBuilds(contents: StoreContents): boolean {
  return (contents.services?.length ?? 0) > 0 || (contents.pluginMetadata?.length ?? 0) > 0 || contents.streamRoutes.some(dependsOnOthers);
}

/** Whether one change must be applied by a full build (it touches services or plugin_metadata, or such a route). */
export function changeNeedsFullBuild(change: RowChange): boolean {
  if (change.res === 'services' || change.res === 'plugin_metadata') return true;
  return change.res === 'stream_routes' && change.row !== null && dependsOnOthers(change.row);
}
