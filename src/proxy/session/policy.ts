// [weir] What happens to live sessions when their route, upstream, node or listener changes or goes away.
// Pure: compile the `on_change` / `on_node_removed` fields, find the routes a new snapshot changed, decide per
// session. The flows end what is decided (SessionReaper below holds the drain timers).

import type { CompiledRoute, CompiledUpstream, Snapshot } from '../../snapshot/types';
import { routesChangedSince } from '../../snapshot/changes';
import { findRoute } from '../match/index-update';
import type { EndReason } from './end-reason';

/** A policy that does something; the default `keep` is null everywhere, so it costs nothing. */
export interface SessionPolicy {
  readonly action: 'drain' | 'close';
  /** drain: sessions still open this long after the change are closed. */
  readonly drainMs: number;
}

/** `drain` without a `drain_timeout`: sessions get this long to finish. */
export const DEFAULT_DRAIN_TIMEOUT_S = 60;

/** `{action, drain_timeout}` (already validated) -> a policy, or null for keep / absent. Runs at snapshot build. */
export function compilePolicy(value: unknown): SessionPolicy | null {
  if (value === null || typeof value !== 'object') return null;
  const { action, drain_timeout: timeout } = value as { action?: unknown; drain_timeout?: unknown };
  if (action === 'close') return { action: 'close', drainMs: 0 };
  if (action !== 'drain') return null;
  const seconds = typeof timeout === 'number' && Number.isFinite(timeout) && timeout > 0 ? timeout : DEFAULT_DRAIN_TIMEOUT_S;
  return { action: 'drain', drainMs: Math.round(seconds * 1000) };
}

/** The reasons a policy can end a session with. */
export type PolicyReason = Extract<EndReason, 'route_changed' | 'route_deleted' | 'node_removed' | 'listener_removed'>;

/** One route a snapshot swap changed or removed, with what its sessions are to do. */
export interface RouteChange {
  readonly routeId: string;
  readonly reason: 'route_changed' | 'route_deleted';
  /** The route's `on_change` (after the write; for a delete, as it was); null = keep. */
  readonly policy: SessionPolicy | null;
  /** The route's `on_node_removed`, for sessions whose node left the upstream they went through; null = keep. */
  readonly nodePolicy: SessionPolicy | null;
  /**
   * Per upstream the route could send to before the change (its key, "/apisix/upstreams/u" or an inline one's):
   * the addresses ("host:port") of the nodes it no longer has. Upstreams that lost none are left out.
   */
  readonly removedNodes: ReadonlyMap<string, ReadonlySet<string>>;
}

const NONE: ReadonlyMap<string, ReadonlySet<string>> = new Map();

/**
 * Every upstream a route can send to: its own (a service's is merged into the route before the build) and those
 * its filters may choose instead (traffic-split's weighted_upstreams, by upstream_id or inline), each once.
 */
export function reachableUpstreams(route: CompiledRoute): CompiledUpstream[] {
  const out: CompiledUpstream[] = route.upstream === null ? [] : [route.upstream];
  for (const up of route.filters.upstreams ?? []) if (!out.some((u) => u.key === up.key)) out.push(up);
  return out;
}

/** Both routes send to the same upstream objects (a rebuilt chain may hold the same ones in a new array). */
function sameUpstreams(a: CompiledRoute, b: CompiledRoute): boolean {
  if (a.upstream !== b.upstream) return false;
  const x = a.filters.upstreams ?? [];
  const y = b.filters.upstreams ?? [];
  return x === y || (x.length === y.length && x.every((u, i) => u === y[i]));
}

/**
 * The nodes each upstream of `old` lost in `cur`. An upstream's successor is the one under the same key; for the
 * route's own upstream, when no upstream of `cur` has its key, the route's new upstream (a route moved to another
 * upstream keeps the sessions on nodes both have). An upstream the route can no longer send to lost every node.
 */
function removedNodes(old: CompiledRoute, cur: CompiledRoute): ReadonlyMap<string, ReadonlySet<string>> {
  const now = new Map(reachableUpstreams(cur).map((u) => [u.key, u]));
  let out: Map<string, ReadonlySet<string>> | null = null;
  for (const before of reachableUpstreams(old)) {
    const after = now.get(before.key) ?? (before === old.upstream ? cur.upstream : null);
    if (after === before) continue;
    const kept = new Set(after === null ? [] : after.nodes.map((n) => n.address));
    const gone = new Set<string>();
    for (const n of before.nodes) if (!kept.has(n.address)) gone.add(n.address);
    if (gone.size > 0) (out ??= new Map()).set(before.key, gone);
  }
  return out ?? NONE;
}

/**
 * The routes `next` changed or removed whose sessions must do something, in `prev`'s order. A change is any new
 * text of the route row or a recompiled upstream it can send to (reachableUpstreams: its own, or one traffic-split
 * may choose; recompiled for its own row, or an SSL it uses). Routes whose policies are all
 * `keep` are left out: the common case costs one comparison per route and nothing per session.
 * `nodesOnly`: `next` only re-resolved node names (src/dns/resolver.ts): nothing was written, so on_change does
 * not apply, but on_node_removed does to the addresses a name no longer has.
 */
export function diffRoutes(prev: Snapshot, next: Snapshot, opts: { nodesOnly?: boolean } = {}): RouteChange[] {
  const out: RouteChange[] = [];
  if (prev === next) return out; // the refresh found nothing to change
  // an update names the routes it touched: only those are looked at (a write to one route of 10,000 looks at one)
  const touched = routesChangedSince(prev, next);
  if (touched !== null) {
    for (const id of [...touched].sort()) {
      const old = findRoute(prev.routeIndex, id);
      if (old !== undefined) diffRoute(prev, next, old, findRoute(next.routeIndex, id), opts, out);
    }
    return out;
  }
  const now = new Map<string, CompiledRoute>();
  for (const r of next.routes) now.set(r.id, r);
  for (const old of prev.routes) diffRoute(prev, next, old, now.get(old.id), opts, out);
  return out;
}

/** One route of `prev` against its version in `next` (undefined: gone); pushes what its sessions must do. */
function diffRoute(prev: Snapshot, next: Snapshot, old: CompiledRoute, cur: CompiledRoute | undefined, opts: { nodesOnly?: boolean }, out: RouteChange[]): void {
  if (cur === undefined) {
    const policy = old.onChange ?? null;
    // a delete is a write: never a re-resolution's doing
    if (policy !== null && opts.nodesOnly !== true) out.push({ routeId: old.id, reason: 'route_deleted', policy, nodePolicy: null, removedNodes: NONE });
    return;
  }
  if (prev.rules.get(old.key)?.source === next.rules.get(cur.key)?.source && sameUpstreams(old, cur)) return;
  const policy = opts.nodesOnly === true ? null : (cur.onChange ?? null);
  const nodePolicy = cur.onNodeRemoved ?? null;
  if (policy === null && nodePolicy === null) return;
  const gone = nodePolicy === null ? NONE : removedNodes(old, cur);
  if (policy === null && gone.size === 0) return;
  out.push({ routeId: old.id, reason: 'route_changed', policy, nodePolicy, removedNodes: gone });
}

/** What one session does: a policy and the reason it is ended with, or null to keep it. */
export interface SessionVerdict {
  policy: SessionPolicy;
  reason: PolicyReason;
}

/** close beats drain, a shorter drain beats a longer one; null (keep) loses to anything. */
function harsher(a: SessionVerdict | null, b: SessionVerdict | null): SessionVerdict | null {
  if (a === null) return b;
  if (b === null) return a;
  if (a.policy.action !== b.policy.action) return a.policy.action === 'close' ? a : b;
  return b.policy.drainMs < a.policy.drainMs ? b : a;
}

/**
 * The verdict for a session of `change`'s route that went through `upstream` (its key) to `node` (its address);
 * both null while it is not connected.
 */
export function decideSession(change: RouteChange, upstream: string | null, node: string | null): SessionVerdict | null {
  const own = change.policy === null ? null : { policy: change.policy, reason: change.reason };
  if (change.nodePolicy === null || upstream === null || node === null || change.removedNodes.get(upstream)?.has(node) !== true) return own;
  return harsher({ policy: change.nodePolicy, reason: 'node_removed' }, own);
}

/**
 * Ends sessions by verdict: `close` at once, `drain` when its timeout passes if the session is still open then.
 * One timer per distinct (timeout, reason) of a change, never one per session. Owned by a flow.
 */
export class SessionReaper<S> {
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();

  constructor(
    /** Still open (not yet recorded)? */
    private readonly isOpen: (s: S) => boolean,
    /** End it now, recording `reason` (and `note` as the access line's error). */
    private readonly end: (s: S, reason: PolicyReason, note: string) => void,
  ) {}

  /** Carry out `verdicts`. `note` explains the change in the access line ("route 1 changed (on_change: close)"). */
  apply(verdicts: ReadonlyArray<readonly [S, SessionVerdict]>, note: (s: S, v: SessionVerdict) => string): void {
    const drains = new Map<string, { verdict: SessionVerdict; sessions: S[] }>();
    for (const [s, v] of verdicts) {
      if (v.policy.action === 'close') {
        if (this.isOpen(s)) this.end(s, v.reason, note(s, v));
        continue;
      }
      const key = `${v.policy.drainMs}|${v.reason}`;
      let group = drains.get(key);
      if (group === undefined) drains.set(key, (group = { verdict: v, sessions: [] }));
      group.sessions.push(s);
    }
    for (const { verdict, sessions } of drains.values()) {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        for (const s of sessions) if (this.isOpen(s)) this.end(s, verdict.reason, note(s, verdict));
      }, verdict.policy.drainMs);
      timer.unref?.();
      this.timers.add(timer);
    }
  }

  /** Drains waiting now (tests, shutdown). */
  get pending(): number {
    return this.timers.size;
  }

  /** Forget every pending drain (shutdown has its own). */
  stop(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}

/** "route 7 changed (on_change: drain 30 s)": the access line's `error` for a session a policy ended. */
export function describeVerdict(subject: string, v: SessionVerdict): string {
  const what = v.reason === 'node_removed' ? 'on_node_removed' : 'on_change';
  const how = v.policy.action === 'close' ? 'close' : `drain ${v.policy.drainMs / 1000} s`;
  const event = { route_changed: 'changed', route_deleted: 'deleted', node_removed: 'lost its node', listener_removed: 'removed' }[v.reason];
  return `${subject} ${event} (${what}: ${how})`;
}
