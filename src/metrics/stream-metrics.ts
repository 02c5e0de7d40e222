// The metrics of one weir process: route meters made by the prometheus plugin, the flows' host-wide
// counters (no route, TLS failures), logger drops, and at scrape time the open connections, the health
// checkers' view and this process's identity, as metric families (src/metrics/exposition.ts).
// Names follow APISIX where APISIX has the metric (apisix_stream_connection_total, apisix_upstream_status,
// apisix_node_info, with plugin_attr.prometheus.metric_prefix); weir_stream_* for the rest. Every label
// value comes from objects or the config (route ids or names, node addresses, listeners), never from
// what a client sends, so the number of series stays bounded by the configuration; and series of routes and
// nodes a new snapshot no longer serves are dropped when it is swapped in (retain), so it stays bounded by the
// configuration in force, not by every configuration weir has had since it started.

import { formatHostPort } from '../lib/ip';
import type { CheckerInfo } from '../health/types';
import type { Family, Sample } from './exposition';
import { CONNECT_BUCKETS, CONNECT_FAILURE_KINDS, RouteMeter } from './route-meter';
import type { CounterCell, CutReason, FlowMetrics, LiveSource, PluginMetrics, RefusalSource, ServedRoute } from './types';

/** A bound listener, as the proxies report it. */
export interface ListenerAddr {
  readonly host: string;
  readonly port: number;
}

/** Where the upstream health comes from (src/health/registry.ts). */
export interface HealthSource {
  list(): CheckerInfo[];
}

/** Fleet mode's sync state, read at scrape time (src/fleet/sync.ts); absent in traditional mode. */
export interface FleetMetricsSource {
  revision: number;
  /** Seconds since etcd last answered, while it does not (0 when in sync). */
  staleSeconds: number;
  ready: boolean;
  errors: number;
  fullLoads: number;
  batches: number;
}

export interface StreamMetricsOptions {
  /** plugin_attr.prometheus.metric_prefix: the prefix of APISIX's names (default "apisix_"). */
  prefix?: string;
  /** apisix_node_info's hostname label. */
  hostname?: string;
}

/** A host-wide counter, filed under the listener it happened on. */
interface ListenerCell {
  listener: string;
  /** The second label: the protocol (no route) or the reason (TLS). */
  detail: string;
  value: number;
}

const WILDCARDS = ['0.0.0.0', '::'];

/**
 * Per-listener cells, found without building a key per event (a port scan must not allocate per connection):
 * by port, then by the address the connection arrived on, then by the detail label.
 */
class ListenerCells {
  private readonly byPort = new Map<number, Map<string, Map<string, ListenerCell>>>();

  constructor(private readonly label: (addr: string, port: number) => string) {}

  bump(addr: string, port: number, detail: string): void {
    let byAddr = this.byPort.get(port);
    if (byAddr === undefined) this.byPort.set(port, (byAddr = new Map()));
    let byDetail = byAddr.get(addr);
    if (byDetail === undefined) byAddr.set(addr, (byDetail = new Map()));
    let cell = byDetail.get(detail);
    if (cell === undefined) byDetail.set(detail, (cell = { listener: this.label(addr, port), detail, value: 0 }));
    cell.value++;
  }

  samples(): Sample[] {
    const out: Sample[] = [];
    for (const byAddr of this.byPort.values()) for (const byDetail of byAddr.values()) for (const c of byDetail.values()) out.push({ labels: [c.listener, c.detail], value: c.value });
    return out;
  }
}

export class StreamMetrics implements FlowMetrics, PluginMetrics {
  private readonly prefix: string;
  private readonly hostname: string;
  private readonly routes = new Map<string, RouteMeter>();
  private readonly drops = new Map<string, { plugin: string; route: string; cell: CounterCell }>();
  private readonly live: LiveSource[] = [];
  private readonly udpRefusals: RefusalSource[] = [];
  private readonly tcpRefusals: RefusalSource[] = [];
  private readonly noRoutesTcp: ListenerCells;
  private readonly noRoutesUdp: ListenerCells;
  private readonly tlsFailures: ListenerCells;
  /** weir_stream_cut_total by "protocol|reason": a handful of cells at most. */
  private readonly cuts = new Map<string, { protocol: string; reason: string; value: number }>();
  private tcpListeners: () => readonly ListenerAddr[] = () => [];
  private health: HealthSource | null = null;
  private fleet: (() => FleetMetricsSource) | null = null;

  constructor(opts: StreamMetricsOptions = {}) {
    this.prefix = opts.prefix ?? 'apisix_';
    this.hostname = opts.hostname ?? '';
    // TCP reports the address a connection arrived on; UDP its bound listener already
    this.noRoutesTcp = new ListenerCells((addr, port) => this.listenerLabel(addr, port));
    this.noRoutesUdp = new ListenerCells((addr, port) => formatHostPort(addr, port));
    this.tlsFailures = new ListenerCells((addr, port) => this.listenerLabel(addr, port));
  }

  /** Where TCP listener labels come from: the bound listeners (called when a label is first needed). */
  setListeners(tcp: () => readonly ListenerAddr[]): void {
    this.tcpListeners = tcp;
  }

  setHealth(health: HealthSource): void {
    this.health = health;
  }

  /** Fleet mode: the sync loop's figures join each scrape (worker 0's; the others do not sync). */
  setFleet(read: () => FleetMetricsSource): void {
    this.fleet = read;
  }

  /** The weir_fleet_* families, none in traditional mode. */
  private fleetFamilies(): Family[] {
    if (this.fleet === null) return [];
    const f = this.fleet();
    const one = (value: number): Sample[] => [{ labels: [], value }];
    return [
      family('weir_fleet_sync_revision', 'The last etcd revision applied to this data plane\'s SQLite copy', 'gauge', [], one(f.revision), 'primary'),
      family('weir_fleet_stale_seconds', 'Seconds since etcd last answered, while it does not (0: in sync); the sync lag', 'gauge', [], one(f.staleSeconds), 'primary'),
      family('weir_fleet_ready', '1 once objects from etcd are in the SQLite copy (GET /status/ready)', 'gauge', [], one(f.ready ? 1 : 0), 'primary'),
      family('weir_fleet_sync_errors_total', 'Failed etcd calls and watch streams of the sync loop', 'counter', [], one(f.errors), 'primary'),
      family('weir_fleet_full_loads_total', 'Full loads of the etcd prefix (start, compaction, revision back, cluster id change)', 'counter', [], one(f.fullLoads), 'primary'),
      family('weir_fleet_watch_batches_total', 'Watch batches applied, each in one SQLite transaction', 'counter', [], one(f.batches), 'primary'),
    ];
  }

  /** The listener a connection to addr:port came in on, as configured: exact, else a wildcard on the port. */
  private listenerLabel(addr: string, port: number): string {
    const bound = this.tcpListeners();
    const exact = bound.find((l) => l.port === port && l.host === addr);
    const wild = exact ?? bound.find((l) => l.port === port && WILDCARDS.includes(l.host));
    return formatHostPort(wild?.host ?? addr, port);
  }

  // ---- PluginMetrics (compile time)

  routeMeter(label: string): RouteMeter {
    let m = this.routes.get(label);
    if (m === undefined) this.routes.set(label, (m = new RouteMeter(label)));
    return m;
  }

  logDropped(plugin: string, routeLabel: string): CounterCell {
    const key = `${plugin}\u0000${routeLabel}`;
    let d = this.drops.get(key);
    if (d === undefined) this.drops.set(key, (d = { plugin, route: routeLabel, cell: { value: 0 } }));
    return d.cell;
  }

  /**
   * PluginMetrics.retain: a route label keeps its meter while a served route carries it (so a changed route
   * keeps counting), and a meter keeps the nodes of the upstreams it may still use; the rest is forgotten.
   * APISIX leaves such series in place until their `expire` time runs out; weir drops them at the swap.
   */
  retain(routes: readonly ServedRoute[]): void {
    const nodesOf = new Map<RouteMeter, Set<string>>();
    const ids = new Set<string>();
    for (const r of routes) {
      ids.add(r.id);
      if (r.meter === null) continue;
      let nodes = nodesOf.get(r.meter);
      if (nodes === undefined) nodesOf.set(r.meter, (nodes = new Set()));
      for (const up of r.upstreams) if (up !== null) for (const n of up.nodes) nodes.add(n.address);
    }
    for (const [label, meter] of this.routes) {
      const nodes = nodesOf.get(meter);
      if (nodes === undefined) this.routes.delete(label);
      else meter.keepNodes(nodes);
    }
    for (const [key, d] of this.drops) if (!ids.has(d.route)) this.drops.delete(key);
  }

  // ---- FlowMetrics (per event)

  noRoute(protocol: 'tcp' | 'udp', addr: string, port: number): void {
    (protocol === 'tcp' ? this.noRoutesTcp : this.noRoutesUdp).bump(addr, port, protocol);
  }

  tlsFailed(reason: string, addr: string, port: number): void {
    this.tlsFailures.bump(addr, port, reason);
  }

  addLiveSource(source: LiveSource): void {
    this.live.push(source);
  }

  addUdpRefusals(source: RefusalSource): void {
    this.udpRefusals.push(source);
  }

  addTcpRefusals(source: RefusalSource): void {
    this.tcpRefusals.push(source);
  }

  cut(protocol: 'tcp' | 'udp', reason: CutReason): void {
    const key = `${protocol}|${reason}`;
    let cell = this.cuts.get(key);
    if (cell === undefined) this.cuts.set(key, (cell = { protocol, reason, value: 0 }));
    cell.value++;
  }

  // ---- scrape

  /** This process's families, open connections included. Runs once per scrape (O(routes + open connections)). */
  collect(): Family[] {
    for (const m of this.routes.values()) {
      m.liveConnections = m.liveSessions = 0;
      for (const n of m.nodes.values()) n.liveIn = n.liveOut = 0;
    }
    for (const source of this.live) source.addLive();
    // a node a route no longer uses shows while connections to it are open, and goes once they are over
    for (const m of this.routes.values()) m.dropUnusedNodes();

    const connections: Sample[] = [];
    const activeConns: Sample[] = [];
    const activeSessions: Sample[] = [];
    const bytes: Sample[] = [];
    const failures: Sample[] = [];
    const latency: Sample[] = [];
    const rejections: Sample[] = [];
    for (const m of this.routes.values()) {
      const route = m.label;
      connections.push({ labels: [route], value: m.connections });
      activeConns.push({ labels: [route], value: m.liveConnections });
      activeSessions.push({ labels: [route], value: m.liveSessions });
      for (const [code, n] of m.rejections) rejections.push({ labels: [route, String(code)], value: n });
      for (const n of m.nodes.values()) {
        if (n.address !== '') {
          bytes.push({ labels: [route, n.address, 'from_client'], value: n.bytesIn + n.liveIn });
          bytes.push({ labels: [route, n.address, 'to_client'], value: n.bytesOut + n.liveOut });
        }
        for (let k = 0; k < CONNECT_FAILURE_KINDS.length; k++) {
          if (n.failures[k]! > 0) failures.push({ labels: [route, n.address, CONNECT_FAILURE_KINDS[k]!], value: n.failures[k]! });
        }
        if (n.latencyCount > 0) latency.push({ labels: [route, n.address], value: n.latencyCount, counts: [...n.latency], sum: n.latencySum });
      }
    }
    const udpRefused = sumByReason(this.udpRefusals);
    const tcpRefused = sumByReason(this.tcpRefusals);
    const drops: Sample[] = [...this.drops.values()].map((d) => ({ labels: [d.plugin, d.route], value: d.cell.value }));
    const health: Sample[] = [];
    for (const checker of this.health?.list() ?? []) {
      for (const node of checker.nodes) {
        const up = node.status === 'healthy' || node.status === 'mostly_healthy' ? 1 : 0;
        health.push({ labels: [checker.name, node.ip, String(node.port)], value: up });
      }
    }
    const p = this.prefix;
    return [
      family(`${p}stream_connection_total`, 'Total number of connections handled per stream route in APISIX', 'counter', ['route'], connections),
      family('weir_stream_active_connections', 'TCP connections open now, per route', 'gauge', ['route'], activeConns),
      family('weir_stream_active_sessions', 'UDP sessions open now, per route', 'gauge', ['route'], activeSessions),
      family('weir_stream_bytes_total', 'Bytes relayed per route and upstream node, from_client (to the node) and to_client; open connections included', 'counter', ['route', 'node', 'direction'], bytes),
      family('weir_stream_connect_failures_total', 'Failed upstream connect attempts per route and node, by reason (no_node: no node left to try)', 'counter', ['route', 'node', 'reason'], failures),
      { ...family('weir_stream_upstream_connect_duration_seconds', 'Time to connect to an upstream node (TCP, and TLS when the upstream uses it), successful attempts', 'histogram', ['route', 'node'], latency), buckets: [...CONNECT_BUCKETS] },
      family('weir_stream_rejections_total', 'Connections and UDP sessions refused by a plugin of the route, by the code it gave', 'counter', ['route', 'code'], rejections),
      family('weir_stream_tls_handshake_failures_total', 'Clients a TLS listener gave up on before any route, by reason', 'counter', ['listener', 'reason'], this.tlsFailures.samples()),
      family('weir_stream_no_route_total', 'Connections (TCP) and new clients (UDP) that matched no route, per listener', 'counter', ['listener', 'protocol'], [...this.noRoutesTcp.samples(), ...this.noRoutesUdp.samples()]),
      family('weir_stream_refused_connections_total', 'TCP connections closed at accept by a cap: max_connections (apisix.stream_proxy.max_connections) or listener_max_connections (a listener\'s max_connections)', 'counter', ['reason'], tcpRefused),
      family(
        'weir_stream_udp_refused_sessions_total',
        'New UDP sessions refused before any route: per_source (udp_max_sessions_per_source), listener_max_sessions (a UDP listener\'s max_connections), rate or overload (udp_session_rate)',
        'counter',
        ['reason'],
        udpRefused,
      ),
      family(
        'weir_stream_cut_total',
        'Connections (TCP) and sessions (UDP) weir ended on purpose: by a session policy (route_changed, route_deleted, node_removed, listener_removed) or through the Admin API (admin_closed)',
        'counter',
        ['protocol', 'reason'],
        [...this.cuts.values()].map((c) => ({ labels: [c.protocol, c.reason], value: c.value })),
      ),
      family('weir_stream_log_dropped_total', 'Log entries a logger plugin dropped (its buffer was full, or retries ran out)', 'counter', ['plugin', 'route'], drops),
      family(`${p}upstream_status`, 'Upstream node health from the health checkers: 1 healthy, 0 unhealthy', 'gauge', ['name', 'ip', 'port'], health, 'primary'),
      family(`${p}node_info`, 'Info of weir node', 'gauge', ['hostname'], [{ labels: [this.hostname], value: 1 }], 'primary'),
      family('weir_stream_workers', 'Worker processes whose counters this scrape includes', 'gauge', [], [{ labels: [], value: 1 }]),
      ...this.fleetFamilies(),
    ];
  }
}

/** Refusals of several sources (one per flow) added up by reason; every reason a source knows shows, 0 included. */
function sumByReason(sources: readonly RefusalSource[]): Sample[] {
  const refused = new Map<string, number>();
  for (const source of sources) for (const [reason, n] of Object.entries(source.refused())) refused.set(reason, (refused.get(reason) ?? 0) + n);
  return [...refused].map(([reason, n]) => ({ labels: [reason], value: n }));
}

function family(name: string, help: string, type: Family['type'], labelNames: string[], samples: Sample[], merge: Family['merge'] = 'sum'): Family {
  return { name, help, type, merge, labelNames, samples };
}
