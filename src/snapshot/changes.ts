// [weir] Which routes an incremental build touched, by the snapshot it made: what lets the session policies
// (src/proxy/session/policy.ts) look at the routes a write changed instead of walking every route.

import type { Snapshot } from './types';

/** The base is held weakly: a chain of snapshots must not keep every older one alive. */
const updates = new WeakMap<Snapshot, { base: WeakRef<Snapshot>; routes: ReadonlySet<string> }>();

/** Called by the build once per update (never for a full build): `routes` were linked again or removed. */
export function recordUpdate(base: Snapshot, next: Snapshot, routes: ReadonlySet<string>): void {
  updates.set(next, { base: new WeakRef(base), routes });
}

/**
 * Ids of the routes that may differ between `prev` and `next` when `next` was updated from `prev` (a store
 * change applied incrementally, or re-resolved names): every other route is the same object in both. Null
 * when `next` is a full build or was not made from `prev`: then any route may differ.
 */
export function routesChangedSince(prev: Snapshot, next: Snapshot): ReadonlySet<string> | null {
  const update = updates.get(next);
  return update !== undefined && update.base.deref() === prev ? update.routes : null;
}
