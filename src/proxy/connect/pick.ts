// The balance phase as both flows call it: ask the upstream's balancer for a node (health-aware when the
// upstream has checks), passing over nodes that recently refused while another is available.
// TCP calls it per connect attempt (with the nodes that already failed), UDP once per new session.

import type { HealthView } from '../../health/types';
import type { CompiledUpstream, ConnInfo, UpstreamNode } from '../../snapshot/types';

/** What pick() skips before any attempt failed: shared, never written. */
export const NONE_TRIED: readonly UpstreamNode[] = Object.freeze([]);

/**
 * Nodes that refused recently, by address, with when to stop avoiding them. UDP learns refusals from ICMP
 * port unreachable after the session started, so the next session must remember them; TCP retries the
 * next node at once instead and passes null.
 */
export class RecentRefusals {
  private readonly until = new Map<string, number>();

  constructor(private readonly avoidMs: number) {}

  get size(): number {
    return this.until.size;
  }

  /** Remember a refusal; false when the node was already being avoided (callers log only the first). */
  note(address: string, now: number): boolean {
    const known = (this.until.get(address) ?? 0) > now;
    this.until.set(address, now + this.avoidMs);
    return !known;
  }

  avoided(address: string, now: number): boolean {
    const until = this.until.get(address);
    return until !== undefined && until > now;
  }

  /** Forget refusals whose time is up. Runs on a clock tick, not per datagram. */
  expire(now: number): void {
    for (const [address, until] of this.until) if (until <= now) this.until.delete(address);
  }
}

/**
 * Pick a node for `info`, skipping `tried`. With `recent`, a node that refused lately is passed over when the
 * balancer has another one; if it has none, the refused node is still returned (better than nothing).
 * The caller owns the pick's balancer slot: releaseNode() once the session is over or the connect failed.
 */
export function pickNode(
  upstream: CompiledUpstream,
  info: ConnInfo,
  tried: readonly UpstreamNode[],
  healthOf: HealthView,
  recent: RecentRefusals | null,
  now: number,
): UpstreamNode | undefined {
  const health = healthOf.checkerOf(upstream);
  const node = upstream.balancer.pick(info, tried, health);
  if (node === undefined || recent === null || recent.size === 0 || !recent.avoided(node.address, now)) return node;
  const other = upstream.balancer.pick(info, tried.length === 0 ? [node] : [...tried, node], health);
  if (other === undefined) return node;
  upstream.balancer.release?.(node);
  return other;
}

/** A picked node is no longer in use: least_conn and ewma stop counting it. Once per successful pick. */
export function releaseNode(upstream: CompiledUpstream, node: UpstreamNode): void {
  upstream.balancer.release?.(node);
}

/**
 * The node a new connection like `info` would get now (health-aware, nothing tried yet), without taking a
 * balancer slot or moving the balancer: explain's "next node". UDP's recent refusals are not consulted.
 */
export function peekNode(upstream: CompiledUpstream, info: ConnInfo, healthOf: HealthView): UpstreamNode | undefined {
  return upstream.balancer.peek(info, NONE_TRIED, healthOf.checkerOf(upstream));
}
