// A process's metrics without sockets: route meters (connections, bytes, connect latency buckets, failures,
// refusals), open connections added per scrape and never kept, listener labels as configured (a wildcard
// listener gathers the addresses it serves), node health, metric_prefix.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mergeFamilies, renderExposition } from '../../src/metrics/exposition';
import { StreamMetrics } from '../../src/metrics/stream-metrics';
import type { UpstreamNode } from '../../src/snapshot/types';
import type { CheckerInfo } from '../../src/health/types';
import { linesOf, sample } from '../helpers/metrics';

const node = (port: number): UpstreamNode => ({ host: '10.0.0.1', port, weight: 1, priority: 0, address: `10.0.0.1:${port}` });
const text = (m: StreamMetrics): string => renderExposition(mergeFamilies([m.collect()]));

describe('route meters', () => {
  it('connections, bytes per node and direction, refusals by code', () => {
    const m = new StreamMetrics();
    const r = m.routeMeter('r1');
    assert.equal(m.routeMeter('r1'), r, 'one meter per label, kept across snapshots');
    r.finished(node(1), 10, 20);
    r.finished(node(1), 1, 2);
    r.finished(node(2), 5, 0);
    r.rejected(503);
    r.finished(null, 0, 0);
    const t = text(m);
    assert.equal(sample(t, 'apisix_stream_connection_total', { route: 'r1' }), 4);
    assert.equal(sample(t, 'weir_stream_bytes_total', { route: 'r1', node: '10.0.0.1:1', direction: 'from_client' }), 11);
    assert.equal(sample(t, 'weir_stream_bytes_total', { route: 'r1', node: '10.0.0.1:1', direction: 'to_client' }), 22);
    assert.equal(sample(t, 'weir_stream_bytes_total', { route: 'r1', node: '10.0.0.1:2', direction: 'from_client' }), 5);
    assert.equal(sample(t, 'weir_stream_rejections_total', { route: 'r1', code: '503' }), 1);
  });

  it('connect latency lands in its bucket (le is inclusive); failures by reason, no_node under node ""', () => {
    const m = new StreamMetrics();
    const r = m.routeMeter('r1');
    r.connected(node(1), 0.3); // 0.0003 s
    r.connected(node(1), 0.5); // exactly 0.0005 s: that bucket
    r.connected(node(1), 3);
    r.connected(node(1), 20_000);
    r.connectFailed(node(1), 'refused');
    r.connectFailed(node(1), 'refused');
    r.connectFailed(node(2), 'timeout');
    r.connectFailed(null, 'no_node');
    const t = text(m);
    const labels = { route: 'r1', node: '10.0.0.1:1' };
    assert.equal(sample(t, 'weir_stream_upstream_connect_duration_seconds_bucket', { ...labels, le: '0.0005' }), 2);
    assert.equal(sample(t, 'weir_stream_upstream_connect_duration_seconds_bucket', { ...labels, le: '0.0025' }), 2);
    assert.equal(sample(t, 'weir_stream_upstream_connect_duration_seconds_bucket', { ...labels, le: '0.005' }), 3);
    assert.equal(sample(t, 'weir_stream_upstream_connect_duration_seconds_bucket', { ...labels, le: '10' }), 3);
    assert.equal(sample(t, 'weir_stream_upstream_connect_duration_seconds_bucket', { ...labels, le: '+Inf' }), 4);
    assert.equal(sample(t, 'weir_stream_upstream_connect_duration_seconds_count', labels), 4);
    assert.equal(sample(t, 'weir_stream_upstream_connect_duration_seconds_sum', labels), 0.0003 + 0.0005 + 0.003 + 20);
    assert.equal(sample(t, 'weir_stream_connect_failures_total', { ...labels, reason: 'refused' }), 2);
    assert.equal(sample(t, 'weir_stream_connect_failures_total', { route: 'r1', node: '10.0.0.1:2', reason: 'timeout' }), 1);
    assert.equal(sample(t, 'weir_stream_connect_failures_total', { route: 'r1', node: '', reason: 'no_node' }), 1);
    assert.deepEqual(linesOf(t, 'weir_stream_bytes_total').filter((l) => l.includes('node=""')), [], 'no byte series for the no-node entry');
  });

  it('open connections are added per scrape and never kept: a scrape after they close reads the final counts', () => {
    const m = new StreamMetrics();
    const r = m.routeMeter('r1');
    let open = true;
    m.addLiveSource({
      addLive() {
        if (!open) return;
        r.liveConnections++;
        const n = r.node(node(1));
        n.liveIn += 100;
        n.liveOut += 40;
      },
    });
    for (let i = 0; i < 2; i++) {
      const t = text(m);
      assert.equal(sample(t, 'weir_stream_active_connections', { route: 'r1' }), 1);
      assert.equal(sample(t, 'weir_stream_bytes_total', { route: 'r1', node: '10.0.0.1:1', direction: 'from_client' }), 100, `scrape ${i}`);
    }
    open = false;
    r.finished(node(1), 150, 60); // it moved 50 more before closing
    const t = text(m);
    assert.equal(sample(t, 'weir_stream_active_connections', { route: 'r1' }), 0);
    assert.equal(sample(t, 'weir_stream_bytes_total', { route: 'r1', node: '10.0.0.1:1', direction: 'from_client' }), 150);
  });
});

describe('host-wide counters', () => {
  it('TCP labels name the listener as configured: exact, else the wildcard on that port, else the address', () => {
    const m = new StreamMetrics();
    m.setListeners(() => [{ host: '0.0.0.0', port: 9100 }, { host: '127.0.0.2', port: 9101 }, { host: '::', port: 9102 }]);
    m.noRoute('tcp', '10.1.1.1', 9100);
    m.noRoute('tcp', '127.0.0.1', 9100);
    m.noRoute('tcp', '127.0.0.2', 9101);
    m.noRoute('tcp', '::1', 9102);
    m.noRoute('tcp', '127.0.0.9', 9999);
    m.noRoute('udp', '0.0.0.0', 9100); // UDP names its bound listener itself
    m.tlsFailed('unknown_sni', '127.0.0.2', 9101);
    m.tlsFailed('unknown_sni', '127.0.0.2', 9101);
    m.tlsFailed('no_sni', '127.0.0.2', 9101);
    const t = text(m);
    assert.equal(sample(t, 'weir_stream_no_route_total', { listener: '0.0.0.0:9100', protocol: 'tcp' }), 2, 'two addresses, one wildcard listener');
    assert.equal(sample(t, 'weir_stream_no_route_total', { listener: '127.0.0.2:9101', protocol: 'tcp' }), 1);
    assert.equal(sample(t, 'weir_stream_no_route_total', { listener: '[::]:9102', protocol: 'tcp' }), 1);
    assert.equal(sample(t, 'weir_stream_no_route_total', { listener: '127.0.0.9:9999', protocol: 'tcp' }), 1);
    assert.equal(sample(t, 'weir_stream_no_route_total', { listener: '0.0.0.0:9100', protocol: 'udp' }), 1);
    assert.equal(sample(t, 'weir_stream_tls_handshake_failures_total', { listener: '127.0.0.2:9101', reason: 'unknown_sni' }), 2);
    assert.equal(sample(t, 'weir_stream_tls_handshake_failures_total', { listener: '127.0.0.2:9101', reason: 'no_sni' }), 1);
  });

  it('refused UDP sessions by reason, read from the flows at scrape time and summed', () => {
    const m = new StreamMetrics();
    const counts = { per_source: 3, rate: 0 };
    m.addUdpRefusals({ refused: () => counts });
    m.addUdpRefusals({ refused: () => ({ per_source: 1, rate: 7 }) });
    let t = text(m);
    assert.equal(sample(t, 'weir_stream_udp_refused_sessions_total', { reason: 'per_source' }), 4);
    assert.equal(sample(t, 'weir_stream_udp_refused_sessions_total', { reason: 'rate' }), 7);
    counts.rate = 2;
    t = text(m);
    assert.equal(sample(t, 'weir_stream_udp_refused_sessions_total', { reason: 'rate' }), 9);
  });

  it('TCP connections refused by a cap, by reason, read from the proxies at scrape time; merged workers add up', () => {
    const m = new StreamMetrics();
    const counts = { max_connections: 0, listener_max_connections: 0 };
    m.addTcpRefusals({ refused: () => counts });
    let t = text(m);
    assert.equal(sample(t, 'weir_stream_refused_connections_total', { reason: 'max_connections' }), 0, 'every reason shows, 0 included');
    assert.equal(sample(t, 'weir_stream_refused_connections_total', { reason: 'listener_max_connections' }), 0);
    counts.listener_max_connections = 3;
    counts.max_connections = 1;
    const worker = new StreamMetrics();
    worker.addTcpRefusals({ refused: () => ({ max_connections: 2, listener_max_connections: 0 }) });
    t = renderExposition(mergeFamilies([m.collect(), worker.collect()]));
    assert.equal(sample(t, 'weir_stream_refused_connections_total', { reason: 'max_connections' }), 3);
    assert.equal(sample(t, 'weir_stream_refused_connections_total', { reason: 'listener_max_connections' }), 3);
    assert.match(t, /# TYPE weir_stream_refused_connections_total counter\n/);
  });

  it('node health: healthy and mostly_healthy are 1, the others 0', () => {
    const m = new StreamMetrics();
    const nodeInfo = (port: number, status: CheckerInfo['nodes'][number]['status']) => ({ ip: '10.0.0.1', port, hostname: '10.0.0.1', status, counter: { success: 0, tcp_failure: 0, timeout_failure: 0, http_failure: 0 }, last_probe: null });
    m.setHealth({ list: () => [{ name: '/apisix/upstreams/u', type: 'tcp', nodes: [nodeInfo(1, 'healthy'), nodeInfo(2, 'mostly_healthy'), nodeInfo(3, 'mostly_unhealthy'), nodeInfo(4, 'unhealthy')] }] });
    const t = text(m);
    const status = (port: number) => sample(t, 'apisix_upstream_status', { name: '/apisix/upstreams/u', ip: '10.0.0.1', port: String(port) });
    assert.deepEqual([status(1), status(2), status(3), status(4)], [1, 1, 0, 0]);
  });

  it('metric_prefix renames APISIX\'s metrics only', () => {
    const m = new StreamMetrics({ prefix: 'edge_', hostname: 'h1' });
    m.routeMeter('r1').finished(null, 0, 0);
    const t = text(m);
    assert.equal(sample(t, 'edge_stream_connection_total', { route: 'r1' }), 1);
    assert.equal(sample(t, 'edge_node_info', { hostname: 'h1' }), 1);
    assert.equal(sample(t, 'weir_stream_active_connections', { route: 'r1' }), 0);
    assert.equal(t.includes('apisix_'), false);
  });

  it('connections weir cut on purpose are counted by protocol and reason', () => {
    const m = new StreamMetrics();
    m.cut('tcp', 'route_changed');
    m.cut('tcp', 'route_changed');
    m.cut('udp', 'listener_removed');
    m.cut('tcp', 'admin_closed');
    const t = text(m);
    assert.equal(sample(t, 'weir_stream_cut_total', { protocol: 'tcp', reason: 'route_changed' }), 2);
    assert.equal(sample(t, 'weir_stream_cut_total', { protocol: 'udp', reason: 'listener_removed' }), 1);
    assert.equal(sample(t, 'weir_stream_cut_total', { protocol: 'tcp', reason: 'admin_closed' }), 1);
    assert.equal(t.split('\n').filter((l) => l.startsWith('weir_stream_cut_total{')).length, 3);
  });

  it('a logger plugin\'s drop counter is one cell per plugin and route', () => {
    const m = new StreamMetrics();
    const cell = m.logDropped('syslog', 'r1');
    assert.equal(m.logDropped('syslog', 'r1'), cell);
    cell.value += 3;
    assert.equal(sample(text(m), 'weir_stream_log_dropped_total', { plugin: 'syslog', route: 'r1' }), 3);
  });
});

describe('fleet families', () => {
  it('are absent in traditional mode and show the sync figures in fleet mode', () => {
    const m = new StreamMetrics();
    assert.equal(linesOf(text(m), 'weir_fleet_sync_revision').length, 0);
    m.setFleet(() => ({ revision: 42, staleSeconds: 0, ready: true, errors: 3, fullLoads: 2, batches: 7 }));
    const t = text(m);
    assert.equal(sample(t, 'weir_fleet_sync_revision'), 42);
    assert.equal(sample(t, 'weir_fleet_stale_seconds'), 0);
    assert.equal(sample(t, 'weir_fleet_ready'), 1);
    assert.equal(sample(t, 'weir_fleet_sync_errors_total'), 3);
    assert.equal(sample(t, 'weir_fleet_full_loads_total'), 2);
    assert.equal(sample(t, 'weir_fleet_watch_batches_total'), 7);
  });
});

describe('series of objects no longer served (retain, at each snapshot swap)', () => {
  const served = (id: string, meter: ReturnType<StreamMetrics['routeMeter']> | null, ports: number[]) => ({ id, meter, upstreams: [{ nodes: ports.map(node) }] });

  it('a route gone takes its series with it; the routes still served keep their counts', () => {
    const m = new StreamMetrics();
    const keep = m.routeMeter('keep');
    const gone = m.routeMeter('gone');
    keep.finished(node(1), 10, 20);
    gone.finished(node(1), 5, 5);
    gone.rejected(403);
    m.logDropped('syslog', 'gone').value = 3;
    m.logDropped('syslog', 'keep').value = 1;
    m.retain([served('keep', keep, [1])]);
    const t = text(m);
    assert.equal(sample(t, 'apisix_stream_connection_total', { route: 'keep' }), 1);
    assert.equal(sample(t, 'weir_stream_bytes_total', { route: 'keep', node: '10.0.0.1:1', direction: 'to_client' }), 20);
    assert.equal(sample(t, 'weir_stream_log_dropped_total', { plugin: 'syslog', route: 'keep' }), 1);
    assert.equal(t.includes('"gone"'), false, t);
    assert.equal(m.routeMeter('keep'), keep, 'the same meter keeps counting');
    assert.notEqual(m.routeMeter('gone'), gone, 'a route made again later starts from zero');
  });

  it("a node the route's upstreams no longer have goes; a traffic-split upstream keeps its nodes; no_node stays", () => {
    const m = new StreamMetrics();
    const r = m.routeMeter('r');
    r.finished(node(1), 1, 1);
    r.finished(node(2), 2, 2);
    r.finished(node(3), 3, 3);
    r.connectFailed(null, 'no_node');
    m.retain([{ id: 'r', meter: r, upstreams: [{ nodes: [node(1)] }, null, { nodes: [node(3)] }] }]);
    const t = text(m);
    assert.equal(sample(t, 'weir_stream_bytes_total', { route: 'r', node: '10.0.0.1:1', direction: 'from_client' }), 1);
    assert.equal(sample(t, 'weir_stream_bytes_total', { route: 'r', node: '10.0.0.1:2', direction: 'from_client' }), undefined);
    assert.equal(sample(t, 'weir_stream_bytes_total', { route: 'r', node: '10.0.0.1:3', direction: 'from_client' }), 3);
    assert.equal(sample(t, 'weir_stream_connect_failures_total', { route: 'r', node: '', reason: 'no_node' }), 1);
    assert.equal(sample(t, 'apisix_stream_connection_total', { route: 'r' }), 3, 'the route keeps its count');
  });

  it('a removed node with a connection still open shows while it is open, and goes at the first scrape after', () => {
    const m = new StreamMetrics();
    const r = m.routeMeter('r');
    r.finished(node(2), 2, 2);
    let open = true;
    m.addLiveSource({
      addLive() {
        if (!open) return;
        r.liveConnections++;
        r.node(node(2)).liveIn += 7;
      },
    });
    m.retain([served('r', r, [1])]);
    assert.equal(sample(text(m), 'weir_stream_bytes_total', { route: 'r', node: '10.0.0.1:2', direction: 'from_client' }), 7, 'only the open connection');
    open = false;
    r.finished(node(2), 9, 9);
    assert.equal(sample(text(m), 'weir_stream_bytes_total', { route: 'r', node: '10.0.0.1:2', direction: 'from_client' }), undefined);
    assert.equal(sample(text(m), 'apisix_stream_connection_total', { route: 'r' }), 2);
  });
});
