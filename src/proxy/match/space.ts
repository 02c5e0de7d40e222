// The connection space of a set of route rules, cut into finitely many classes ("atoms") per condition, so
// that questions over every possible connection (can this route ever win? whose traffic does a write move?)
// become exact set algebra over small integer boxes. Pure; runs on writes and checks, never per connection.
//
// Per dimension the atoms are the classes of values no rule tells apart:
//   server_port  each port some rule names, plus one port none names;
//   remote_addr, server_addr  the CIDRs rules name form a tree (two prefixes are nested or disjoint); each tree
//                node's own addresses (those in none of its children) are one atom, numbered in depth-first order,
//                so every CIDR is an interval of atom numbers; IPv4 and IPv6 each have a root;
//   sni          no SNI; each exact name; per wildcard "*.x" the names whose longest matching wildcard it is;
//                the names no pattern but "*" covers.
// Connections weir can see are the only ones counted: clients and listeners have real IP addresses, and an
// IPv4-mapped IPv6 peer is IPv4 (the runtime unwraps it), so the ::ffff:0:0/96 block holds no atom.

import { formatIpv4, formatIpv6 } from '../../lib/ip-bytes';
import type { CompiledCidr } from './cidr';
import type { RouteRule } from './route';
import { type SniTable, addSni, createSniTable } from './sni';

/** A route's match conditions with its id, in precedence (id byte) order when given as a list. */
export interface NamedRule extends Omit<RouteRule, 'route'> {
  id: string;
}

/** [portLo, portHi, remoteLo, remoteHi, serverLo, serverHi]: inclusive atom intervals, one per address/port dimension. */
export type Box = readonly [number, number, number, number, number, number];

/** One concrete connection inside a class of the space: what explain or a real client could send. */
export interface ConnSample {
  remoteAddr: string;
  serverAddr: string;
  serverPort: number;
  sni: string | null;
}

interface AddrNode {
  family: 4 | 6;
  start: bigint;
  end: bigint;
  /** The ::ffff:0:0/96 block: no connection has such an address, so it is a hole with no atom. */
  phantom: boolean;
  children: AddrNode[];
  lo: number;
  hi: number;
}

/** The atoms of one address dimension and the interval each CIDR covers. */
export class AddressAtoms {
  /** One representative address per atom. */
  readonly reps: string[] = [];
  private readonly byKey = new Map<string, AddrNode>();

  /** `prefer`: the address a root's own atom shows when no rule takes it (rather than 0.0.0.0 or ::). */
  constructor(cidrs: Iterable<CompiledCidr>, private readonly prefer: { v4: bigint; v6: bigint } = { v4: 0n, v6: 0n }) {
    const v4: AddrNode = node(4, 0n, (1n << 32n) - 1n);
    const v6: AddrNode = node(6, 0n, (1n << 128n) - 1n);
    const mapped: AddrNode = { ...node(6, 0xffffn << 32n, (0xffffn << 32n) | 0xffffffffn), phantom: true };
    const nodes = [v4, v6, mapped];
    this.byKey.set('4/0/0', v4);
    this.byKey.set('6/0/', v6);
    for (const c of cidrs) {
      const key = cidrKey(c);
      if (this.byKey.has(key)) continue;
      const [start, end] = cidrRange(c);
      const n = node(c.family, start, end);
      this.byKey.set(key, n);
      nodes.push(n);
    }
    // Parents sort before their children: by family, then start, then larger block first.
    nodes.sort((a, b) => a.family - b.family || cmp(a.start, b.start) || cmp(b.end, a.end));
    const stack: AddrNode[] = [];
    for (const n of nodes) {
      while (stack.length > 0 && !(stack[stack.length - 1]!.family === n.family && stack[stack.length - 1]!.end >= n.end)) stack.pop();
      if (stack.length > 0) stack[stack.length - 1]!.children.push(n);
      stack.push(n);
    }
    this.number(v4, true);
    this.number(v6, true);
  }

  get size(): number {
    return this.reps.length;
  }

  /** Atom interval of a condition; null (no condition) covers every atom. */
  interval(c: CompiledCidr | null): [number, number] {
    if (c === null) return [0, this.reps.length - 1];
    const n = this.byKey.get(cidrKey(c));
    if (n === undefined) throw new Error(`ERR_SPACE: ${cidrKey(c)} was not in the rule set`);
    return [n.lo, n.hi];
  }

  /** Depth-first numbering: a node's own atom first (when it has addresses no child takes), then its children's. */
  private number(n: AddrNode, root = false): void {
    n.lo = this.reps.length;
    let own = n.phantom ? null : firstUncovered(n);
    if (own !== null && root) {
      const want = n.family === 4 ? this.prefer.v4 : this.prefer.v6;
      if (!n.children.some((c) => c.start <= want && want <= c.end)) own = want;
    }
    if (own !== null) this.reps.push(formatAddr(n.family, own));
    for (const child of n.children) this.number(child);
    n.hi = this.reps.length - 1;
  }
}

function node(family: 4 | 6, start: bigint, end: bigint): AddrNode {
  return { family, start, end, phantom: false, children: [], lo: 0, hi: -1 };
}

function cmp(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function cidrKey(c: CompiledCidr): string {
  return c.family === 4 ? `4/${c.prefix}/${c.v4}` : `6/${c.prefix}/${c.v6key}`;
}

function cidrRange(c: CompiledCidr): [bigint, bigint] {
  const bits = c.family === 4 ? 32 : 128;
  let start = 0n;
  if (c.family === 4) start = BigInt(c.v4);
  else for (const b of c.v6!) start = (start << 8n) | BigInt(b);
  return [start, start + (1n << BigInt(bits - c.prefix)) - 1n];
}

/** The lowest address of the node that none of its children holds, or null when they cover it. */
function firstUncovered(n: AddrNode): bigint | null {
  let at = n.start;
  for (const child of n.children) {
    if (child.start > at) return at;
    if (child.end >= at) at = child.end + 1n;
  }
  return at <= n.end ? at : null;
}

function formatAddr(family: 4 | 6, value: bigint): string {
  const len = family === 4 ? 4 : 16;
  const bytes = new Uint8Array(len);
  for (let i = len - 1; i >= 0; i--) {
    bytes[i] = Number(value & 0xffn);
    value >>= 8n;
  }
  return family === 4 ? formatIpv4(bytes, 0) : formatIpv6(bytes, 0, false);
}

/** The server_port atoms: every port a rule names, then one port none names (when there is one). */
export class PortAtoms {
  readonly reps: number[];
  private readonly index = new Map<number, number>();

  constructor(ports: Iterable<number>) {
    this.reps = [...new Set(ports)].filter((p) => p !== 0).sort((a, b) => a - b);
    this.reps.forEach((p, i) => this.index.set(p, i));
    for (let p = 1; p <= 65535; p++) {
      if (!this.index.has(p)) {
        this.reps.push(p);
        break;
      }
    }
  }

  get size(): number {
    return this.reps.length;
  }

  /** 0 = any port. */
  interval(port: number): [number, number] {
    if (port === 0) return [0, this.reps.length - 1];
    const i = this.index.get(port)!;
    return [i, i];
  }
}

/** One SNI class: its representative name (null = no SNI) and the sni rules that match it, in the order findSni tries them. */
export interface SniAtom {
  name: string | null;
  /** Indexes into the rule list; each rule once, at its first (most specific) level. */
  candidates: number[];
}

/** The sni rules of a list indexed by pattern, as compileRouteIndex indexes them (values: indexes into the list). */
export function buildSniTable(rules: readonly NamedRule[]): SniTable<number> {
  const table: SniTable<number> = createSniTable(true);
  rules.forEach((r, i) => {
    for (const p of patternsOf(r)) addSni(table, p, i);
  });
  return table;
}

/** One representative name per SNI class of the patterns in `tables`, after null (no SNI). */
export function sniAtomNames(...tables: SniTable<number>[]): Array<string | null> {
  const exact = new Set(tables.flatMap((t) => [...t.exact.keys()]));
  const wild = new Set(tables.flatMap((t) => [...t.wild.keys()]));
  const fresh = (suffix: string): string => {
    for (let n = 0; ; n++) {
      const name = `x${n === 0 ? '' : n}${suffix}`;
      if (!exact.has(name)) return name;
    }
  };
  return [null, ...exact, ...[...wild].map((k) => fresh(k)), fresh('')];
}

/** The SNI classes of a rule set. */
export function buildSniAtoms(rules: readonly NamedRule[]): SniAtom[] {
  const table = buildSniTable(rules);
  return sniAtomNames(table).map((name) => ({ name, candidates: name === null ? [] : sniCandidates(table, name) }));
}

/** A rule's normalised sni patterns (deduplicated as the index does), or [] for a rule without sni. */
export function patternsOf(r: NamedRule): string[] {
  if (r.snis) return [...new Set(r.snis)];
  return r.sni === null ? [] : [r.sni];
}

/** Every entry findSni would try for `name`, in its order (exact, wildcards longest first, "*"), first occurrence only. */
export function sniCandidates(table: SniTable<number>, name: string): number[] {
  const out: number[] = [];
  const seen = new Set<number>();
  const take = (list: number[] | undefined): void => {
    if (list === undefined) return;
    for (const i of list) if (!seen.has(i)) out.push(i), seen.add(i);
  };
  take(table.exact.get(name));
  for (let dot = name.indexOf('.', 1); dot > 0; dot = name.indexOf('.', dot + 1)) take(table.wild.get(name.slice(dot)));
  take(table.star);
  return out;
}

/** Everything needed to reason about one or more rule sets over the same atoms. */
export class ConnSpace {
  readonly ports: PortAtoms;
  readonly remote: AddressAtoms;
  readonly server: AddressAtoms;

  /** `rules`: every rule that will be asked about (several rule sets may share one space). */
  constructor(rules: readonly NamedRule[]) {
    this.ports = new PortAtoms(rules.map((r) => r.port));
    // samples read better with a documentation client (192.0.2.1, 2001:db8::1) and a loopback listener
    this.remote = new AddressAtoms(rules.flatMap((r) => (r.remote === null ? [] : [r.remote])), { v4: 0xc0000201n, v6: 0x20010db8n << 96n | 1n });
    this.server = new AddressAtoms(rules.flatMap((r) => (r.server === null ? [] : [r.server])), { v4: 0x7f000001n, v6: 1n });
  }

  /** The box of connections a rule's port and address conditions accept. */
  boxOf(r: NamedRule): Box {
    return [...this.ports.interval(r.port), ...this.remote.interval(r.remote), ...this.server.interval(r.server)];
  }

  /** A concrete connection in the box's lowest corner. */
  sample(box: Box, sni: string | null): ConnSample {
    return { remoteAddr: this.remote.reps[box[2]]!, serverAddr: this.server.reps[box[4]]!, serverPort: this.ports.reps[box[0]]!, sni };
  }
}

export function boxContains(outer: Box, inner: Box): boolean {
  return outer[0] <= inner[0] && inner[1] <= outer[1] && outer[2] <= inner[2] && inner[3] <= outer[3] && outer[4] <= inner[4] && inner[5] <= outer[5];
}

export function boxesIntersect(a: Box, b: Box): boolean {
  return a[0] <= b[1] && b[0] <= a[1] && a[2] <= b[3] && b[2] <= a[3] && a[4] <= b[5] && b[4] <= a[5];
}

export function boxIntersection(a: Box, b: Box): Box {
  return [Math.max(a[0], b[0]), Math.min(a[1], b[1]), Math.max(a[2], b[2]), Math.min(a[3], b[3]), Math.max(a[4], b[4]), Math.min(a[5], b[5])];
}

/** `box` minus `cut` (they intersect) as at most six disjoint boxes: slabs cut off one dimension at a time. */
export function boxMinus(box: Box, cut: Box): Box[] {
  const pieces: Box[] = [];
  const cur = [...box] as [number, number, number, number, number, number];
  for (let d = 0; d < 6; d += 2) {
    const lo = Math.max(cur[d]!, cut[d]!);
    const hi = Math.min(cur[d + 1]!, cut[d + 1]!);
    if (cur[d]! < lo) pieces.push(withDim(cur, d, cur[d]!, lo - 1));
    if (hi < cur[d + 1]!) pieces.push(withDim(cur, d, hi + 1, cur[d + 1]!));
    cur[d] = lo;
    cur[d + 1] = hi;
  }
  return pieces;
}

function withDim(box: Box, d: number, lo: number, hi: number): Box {
  const out = [...box] as [number, number, number, number, number, number];
  out[d] = lo;
  out[d + 1] = hi;
  return out;
}
