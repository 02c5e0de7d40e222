// chash: consistent hashing of a connection variable (hash_on/key) onto a ring of virtual points.
//
// Why a ketama-style ring rather than jump or maglev hashing: weights map directly to point counts,
// any node (not just the last) can be removed with only its own keys moving (~1/N), and an unhealthy
// or already tried node is skipped by walking on to the next point, which sends its keys to the
// same neighbour every time. Jump hash cannot remove arbitrary nodes; maglev remaps slightly more
// than 1/N and needs a table rebuild per health change.

import type { ConnInfo, UpstreamNode } from '../../snapshot/types';
import { adoptStates, groupPeers, isEligible, type Peer, pickByGroups } from './state';
import type { Balancer, BalancerOptions, NodeHealthView, NodeState } from './types';

/** Virtual points per unit of weight (nginx's and resty.chash's 160). */
export const POINTS_PER_WEIGHT = 160;
/** Ring size cap per group: absurd weights are scaled down proportionally (the 1/N remap bound then loosens). */
export const MAX_RING_POINTS = 1 << 18;

/** FNV-1a over UTF-16 code units, then murmur3's finalizer so that similar keys spread over the ring. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return mix32(h);
}

function mix32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A compiled key reader: turns a connection into the string that is hashed ('' = use remote_addr). */
export type KeyReader = (conn: ConnInfo) => string;

/**
 * One stream variable by nginx name. HTTP-only names (uri, arg_*, host ...) have no value in L4; any other
 * name reads what the route's filters set (mqtt_client_id), empty when unset.
 */
function readVar(name: string): KeyReader {
  switch (name) {
    case 'remote_addr': return (c) => c.remoteAddr;
    case 'remote_port': return (c) => String(c.remotePort);
    case 'server_addr': return (c) => c.serverAddr;
    case 'server_port': return (c) => String(c.serverPort);
    // the TLS SNI is the stream's closest thing to a server name
    case 'server_name': case 'ssl_preread_server_name': case 'ssl_server_name': return (c) => c.sni ?? '';
    default: return (c) => c.vars?.get(name) ?? '';
  }
}

/**
 * Compile `hash_on` + `key` once per balancer. `vars`: key names one variable; `vars_combinations`:
 * key is a template like "$remote_addr:$server_port". header/cookie/consumer do not exist in L4 and
 * hash remote_addr, as does any variable that is empty (spec 5.2).
 */
export function compileKeyReader(hashOn: string | undefined, key: string | undefined): KeyReader {
  if (key === undefined || key === '') return readVar('remote_addr');
  if (hashOn === undefined || hashOn === 'vars') return readVar(key);
  if (hashOn !== 'vars_combinations') return () => '';
  const parts: Array<string | KeyReader> = [];
  const re = /\$\{?([A-Za-z0-9_]+)\}?/g;
  let last = 0;
  for (let m = re.exec(key); m !== null; m = re.exec(key)) {
    if (m.index > last) parts.push(key.slice(last, m.index));
    parts.push(readVar(m[1]!));
    last = m.index + m[0].length;
  }
  if (last < key.length) parts.push(key.slice(last));
  return (c) => {
    let out = '';
    for (const p of parts) out += typeof p === 'string' ? p : p(c);
    return out;
  };
}

/** A group's ring: point hashes sorted ascending, and the peer each point belongs to. */
interface Ring {
  hashes: Uint32Array;
  owners: Uint32Array;
}

function buildRing(group: readonly Peer[]): Ring {
  let total = 0;
  for (const p of group) total += Math.max(0, p.node.weight) * POINTS_PER_WEIGHT;
  const scale = total > MAX_RING_POINTS ? MAX_RING_POINTS / total : 1;
  const points: Array<[number, number]> = [];
  group.forEach((peer, index) => {
    if (peer.node.weight <= 0) return; // drained: no points, so it is never on the ring
    const count = Math.max(1, Math.round(peer.node.weight * POINTS_PER_WEIGHT * scale));
    // Points depend only on the node's address, so other nodes' points stay put when one is added or removed.
    const base = hashString(peer.node.address);
    for (let i = 0; i < count; i++) points.push([mix32(base ^ mix32(i + 1)), index]);
  });
  points.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  return { hashes: Uint32Array.from(points, (p) => p[0]), owners: Uint32Array.from(points, (p) => p[1]) };
}

/** First point at or after `h`, wrapping to 0. */
function firstPointAtOrAfter(hashes: Uint32Array, h: number): number {
  let lo = 0;
  let hi = hashes.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (hashes[mid]! < h) lo = mid + 1;
    else hi = mid;
  }
  return lo === hashes.length ? 0 : lo;
}

export class ChashBalancer implements Balancer {
  readonly states: ReadonlyMap<string, NodeState>;
  private readonly groups: Peer[][];
  private readonly rings: Ring[];
  private readonly readKey: KeyReader;
  /** The current pick's key hash, set by pick() for pickInGroup (avoids a closure per pick). */
  private hash = 0;

  constructor(nodes: readonly UpstreamNode[], opts: BalancerOptions = {}) {
    this.states = adoptStates(nodes, opts.prev);
    this.groups = groupPeers(nodes, this.states);
    this.rings = this.groups.map(buildRing);
    this.readKey = compileKeyReader(opts.hashOn, opts.key);
  }

  private readonly pickInGroup = (group: Peer[], g: number, tried: readonly UpstreamNode[], health: NodeHealthView | null): Peer | undefined => {
    // Walking a ring whose nodes are all ineligible would visit every point: check the nodes first.
    let any = false;
    for (let i = 0; i < group.length && !any; i++) any = isEligible(group[i]!.node, tried, health);
    if (!any) return undefined;
    const { hashes, owners } = this.rings[g]!;
    const start = firstPointAtOrAfter(hashes, this.hash);
    for (let k = 0; k < hashes.length; k++) {
      const peer = group[owners[(start + k) % hashes.length]!]!;
      if (isEligible(peer.node, tried, health)) return peer;
    }
    return undefined;
  };

  pick(conn: ConnInfo, tried: readonly UpstreamNode[], health?: NodeHealthView | null): UpstreamNode | undefined {
    const key = this.readKey(conn);
    this.hash = hashString(key === '' ? conn.remoteAddr : key);
    return pickByGroups(this.groups, tried, health, this.pickInGroup)?.node;
  }

  /** pick()'s ring walk with the hash passed in: not even the scratch field is written (a closure per call). */
  peek(conn: ConnInfo, tried: readonly UpstreamNode[], health?: NodeHealthView | null): UpstreamNode | undefined {
    const key = this.readKey(conn);
    const hash = hashString(key === '' ? conn.remoteAddr : key);
    const walk = (group: Peer[], g: number, t: readonly UpstreamNode[], h: NodeHealthView | null): Peer | undefined => {
      if (!group.some((p) => isEligible(p.node, t, h))) return undefined;
      const { hashes, owners } = this.rings[g]!;
      const start = firstPointAtOrAfter(hashes, hash);
      for (let k = 0; k < hashes.length; k++) {
        const peer = group[owners[(start + k) % hashes.length]!]!;
        if (isEligible(peer.node, t, h)) return peer;
      }
      return undefined;
    };
    return pickByGroups(this.groups, tried, health, walk)?.node;
  }
}

export function createChash(nodes: readonly UpstreamNode[], opts?: BalancerOptions): Balancer {
  return new ChashBalancer(nodes, opts);
}
