// HealthRegistry: one checker per upstream key shared by routes, kept in step with snapshots
// (created, kept across node changes, replaced on a checks change, stopped on delete), no leaks.

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { UpstreamChecker, ProbePlane } from '../../src/health/checker';
import { HealthRegistry } from '../../src/health/registry';
import { configureErrorLog } from '../../src/log/logger';
import { buildSnapshot } from '../../src/snapshot/build';
import type { Snapshot } from '../../src/snapshot/types';
import type { StoreContents, StoredObject } from '../../src/store/types';

function row(id: string, value: Record<string, unknown>): StoredObject {
  const full = { id, ...value };
  return { id, value: full, createdIndex: 1, modifiedIndex: 1, raw: JSON.stringify(full) };
}

function contents(streamRoutes: StoredObject[], upstreams: StoredObject[]): StoreContents {
  return { revision: 1, streamRoutes, upstreams, ssls: [], unreadable: [] };
}

/** Every probe succeeds at once; probes are counted. */
function okPlane() {
  let probes = 0;
  const plane: ProbePlane = {
    connect: (host, port, _t, done) => {
      probes++;
      done(null, { remoteAddress: host, remotePort: port });
    },
    destroy: () => {},
    exchange: () => {},
  };
  return { plane, probes: () => probes };
}

const checks = { active: { type: 'tcp' }, passive: { unhealthy: { tcp_failures: 1 } } };
/** What the data plane sees: the registry asked about the snapshot's compiled upstream. */
let reg: HealthRegistry;
const checkerOf = (snap: Snapshot, key: string) => reg.checkerOf(snap.upstreams.get(key)!.upstream!) as UpstreamChecker | null;

const logs: string[] = [];
configureErrorLog({ sink: (t) => logs.push(t) });
after(() => configureErrorLog({ sink: (t) => process.stderr.write(t) }));

describe('HealthRegistry', () => {
  it('starts one checker per upstream with checks, shared by the routes that use it', () => {
    const { plane, probes } = okPlane();
    reg = new HealthRegistry(plane);
    const { snapshot } = buildSnapshot(contents(
      [row('r1', { upstream_id: 'u1' }), row('r2', { upstream_id: 'u1' }), row('r3', { upstream: { nodes: { '127.0.0.1:3': 1 }, checks } }),
        row('r4', { upstream: { nodes: { '127.0.0.1:4': 1 } } })],
      [row('u1', { nodes: { '127.0.0.1:1': 1, '127.0.0.1:2': 1 }, checks }), row('u2', { nodes: { '127.0.0.1:5': 1 } })],
    ), null);
    reg.sync(snapshot);
    try {
      assert.equal(reg.size, 2);
      assert.deepEqual(reg.list().map((c) => c.name), ['/apisix/stream_routes/r3', '/apisix/upstreams/u1']);
      const shared = checkerOf(snapshot, '/apisix/upstreams/u1');
      assert.ok(shared !== null);
      assert.equal(reg.checkerOf(snapshot.routes[0]!.upstream!), shared);
      assert.equal(reg.checkerOf(snapshot.routes[1]!.upstream!), shared);
      assert.equal(Object.isFrozen(snapshot), true, 'nothing was written into the snapshot');
      assert.equal(checkerOf(snapshot, '/apisix/upstreams/u2'), null);
      assert.equal(checkerOf(snapshot, '/apisix/stream_routes/r4'), null);
      assert.equal(probes(), 3); // first healthy round at once: nodes 1, 2 and 3
      const info = reg.get('/apisix/upstreams/u1')!;
      assert.deepEqual({ ...info, nodes: info.nodes.map((n) => ({ ...n, last_probe: n.last_probe?.ok })) }, {
        name: '/apisix/upstreams/u1', type: 'tcp',
        nodes: [1, 2].map((port) => ({
          ip: '127.0.0.1', port, hostname: '127.0.0.1', status: 'healthy',
          counter: { success: 0, tcp_failure: 0, timeout_failure: 0, http_failure: 0 },
          last_probe: true,
        })),
      });
    } finally {
      reg.stop();
    }
  });

  it('a changed row keeps the checker and the state of unchanged nodes; a changed checks replaces it', () => {
    const { plane } = okPlane();
    reg = new HealthRegistry(plane);
    const key = '/apisix/upstreams/u1';
    const v1 = buildSnapshot(contents([], [row('u1', { nodes: { '127.0.0.1:1': 1, '127.0.0.1:2': 1 }, checks })]), null).snapshot;
    reg.sync(v1);
    const first = checkerOf(v1, key)!;
    first.reportConnect(v1.upstreams.get(key)!.upstream!.nodes[0]!, 'tcp_failure'); // node 1 down (passive)
    const v2 = buildSnapshot(contents([], [row('u1', { nodes: { '127.0.0.1:1': 1, '127.0.0.1:3': 1 }, checks, retries: 0 })]), v1).snapshot;
    reg.sync(v2);
    try {
      assert.equal(checkerOf(v2, key), first);
      assert.deepEqual(reg.get(key)!.nodes.map((n) => [n.port, n.status]), [[1, 'unhealthy'], [3, 'healthy']]);
      const v3 = buildSnapshot(contents([], [row('u1', { nodes: { '127.0.0.1:1': 1 }, checks: { active: { type: 'tcp', timeout: 2 } } })]), v2).snapshot;
      reg.sync(v3);
      const third = checkerOf(v3, key)!;
      assert.notEqual(third, first);
      assert.equal(first.running, false);
      assert.equal(reg.get(key)!.nodes[0]!.status, 'healthy'); // fresh counters
      assert.equal(reg.size, 1);
    } finally {
      reg.stop();
    }
  });

  it('deleting the upstream, or dropping its checks, stops its checker', () => {
    const { plane } = okPlane();
    reg = new HealthRegistry(plane);
    const v1 = buildSnapshot(contents([row('r1', { upstream: { nodes: { '127.0.0.1:1': 1 }, checks } })],
      [row('u1', { nodes: { '127.0.0.1:1': 1 }, checks })]), null).snapshot;
    reg.sync(v1);
    const up = checkerOf(v1, '/apisix/upstreams/u1')!;
    const inline = checkerOf(v1, '/apisix/stream_routes/r1')!;
    const v2 = buildSnapshot(contents([row('r1', { upstream: { nodes: { '127.0.0.1:1': 1 } } })], []), v1).snapshot;
    logs.length = 0;
    reg.sync(v2);
    assert.equal(reg.size, 0);
    assert.equal(up.running, false);
    assert.equal(inline.running, false);
    assert.equal(checkerOf(v2, '/apisix/stream_routes/r1'), null);
    assert.match(logs.join(''), /health checker released upstream=\/apisix\/upstreams\/u1/);
    reg.stop();
  });

  it('stop() stops every checker and ignores later syncs', () => {
    const { plane } = okPlane();
    reg = new HealthRegistry(plane);
    const snap = buildSnapshot(contents([], [row('u1', { nodes: { '127.0.0.1:1': 1 }, checks })]), null).snapshot;
    reg.sync(snap);
    const c = checkerOf(snap, '/apisix/upstreams/u1')!;
    reg.stop();
    assert.equal(c.running, false);
    reg.sync(buildSnapshot(contents([], [row('u2', { nodes: { '127.0.0.1:1': 1 }, checks })]), null).snapshot);
    assert.equal(reg.size, 0);
  });
});
