// buildSnapshot: precedence order, upstream resolution and defaults, problems, and upstream reuse.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildSnapshot, emptySnapshot } from '../../src/snapshot/build';
import { selectRoute } from '../../src/proxy/match/route';
import { normalizeNodes, validateStreamRoute, validateUpstream } from '../../src/schema/index';
import type { StoreContents, StoredObject } from '../../src/store/types';
import type { ConnInfo } from '../../src/snapshot/types';

function row(id: string, value: Record<string, unknown>, modifiedIndex = 1): StoredObject {
  const full = { id, ...value };
  return { id, value: full, createdIndex: 1, modifiedIndex, raw: JSON.stringify(full) };
}

function contents(streamRoutes: StoredObject[], upstreams: StoredObject[] = [], revision = 5): StoreContents {
  return { revision, streamRoutes, upstreams, ssls: [], unreadable: [] };
}

const conn: ConnInfo = { protocol: 'tcp', remoteAddr: '127.0.0.1', remotePort: 1, serverAddr: '127.0.0.1', serverPort: 9100, sni: null };
const nodes = { '127.0.0.1:1980': 1 };

describe('buildSnapshot', () => {
  it('orders routes by id bytes and indexes them for selectRoute', () => {
    const { snapshot, problems } = buildSnapshot(
      contents([row('2', { upstream: { nodes } }), row('10', { server_port: 9100, upstream: { nodes } }), row('1', { server_port: 1, upstream: { nodes } })]),
      null,
    );
    assert.deepEqual(problems, []);
    assert.equal(snapshot.revision, 5);
    assert.deepEqual(snapshot.routes.map((r) => r.id), ['1', '10', '2']);
    assert.equal(selectRoute(snapshot, conn)?.id, '10');
    assert.equal(selectRoute(snapshot, { ...conn, serverPort: 1 })?.id, '1');
    assert.equal(selectRoute(snapshot, { ...conn, serverPort: 2 })?.id, '2');
  });

  it('compiles defaults: timeouts, retries = nodes - 1, scheme tcp, key of an inline upstream', () => {
    const { snapshot } = buildSnapshot(contents([row('1', { upstream: { nodes: { '127.0.0.1:1': 1, '127.0.0.1:2': 1, '[::1]:3': 2 } } })]), null);
    const up = snapshot.routes[0]!.upstream!;
    assert.equal(up.key, '/apisix/stream_routes/1');
    assert.deepEqual(
      [up.connectTimeoutMs, up.idleTimeoutMs, up.retries, up.retryTimeoutMs, up.scheme],
      [60_000, 600_000, 2, 0, 'tcp'],
    );
    assert.deepEqual(up.nodes.map((n) => n.address), ['127.0.0.1:1', '127.0.0.1:2', '[::1]:3']);
  });

  it('takes timeouts in seconds (fractions), idle = max(send, read), retries and retry_timeout as given', () => {
    const value = { nodes, timeout: { connect: 0.25, send: 2, read: 3.5 }, retries: 0, retry_timeout: 1.5, scheme: 'http' };
    const { snapshot } = buildSnapshot(contents([row('1', { upstream_id: 7 })], [row('7', value)]), null);
    const up = snapshot.routes[0]!.upstream!;
    assert.equal(up.key, '/apisix/upstreams/7');
    assert.deepEqual([up.connectTimeoutMs, up.idleTimeoutMs, up.retries, up.retryTimeoutMs, up.scheme], [250, 3500, 0, 1500, 'tcp']);
  });

  it('prefers upstream_id over an inline upstream (spec 5.1)', () => {
    const lax = { validateStreamRoute: (b: unknown) => ({ ok: true as const, value: b as Record<string, unknown> }) };
    const { snapshot } = buildSnapshot(
      contents([row('1', { upstream_id: '7', upstream: { nodes: { '127.0.0.1:2': 1 } } })], [row('7', { nodes })]),
      null,
      { ...defaults(), ...lax },
    );
    assert.equal(snapshot.routes[0]!.upstream!.key, '/apisix/upstreams/7');
  });

  it('keeps routes that cannot forward, with the reason', () => {
    const { snapshot, problems } = buildSnapshot(
      contents([row('1', { upstream_id: '7' }), row('2', { upstream: { nodes: {} } }), row('3', { server_port: 9 })]),
      null,
    );
    assert.deepEqual(
      snapshot.routes.map((r) => [r.id, r.upstream, r.problem]),
      [
        ['1', null, 'upstream 7 not found'],
        ['2', null, 'upstream has no nodes'],
        ['3', null, 'missing upstream configuration in Route or Service'],
      ],
    );
    assert.deepEqual(problems, [
      'stream_routes/1: upstream 7 not found',
      'stream_routes/2: upstream has no nodes',
      'stream_routes/3: missing upstream configuration in Route or Service',
    ]);
    assert.equal(selectRoute(snapshot, conn)?.id, '1');
  });

  it('skips rows that fail validation and names them; never throws', () => {
    const throwing = { ...defaults(), validateUpstream: () => { throw new Error('boom'); } };
    const { snapshot, problems } = buildSnapshot(
      contents(
        [row('1', { remote_addr: ':/8', upstream: { nodes } }), row('2', { upstream_id: '9' }), row('3', { upstream: { nodes } })],
        [row('9', { nodes, type: 'foo' })],
      ),
      null,
    );
    assert.deepEqual(snapshot.routes.map((r) => [r.id, r.problem]), [['2', 'upstream 9 is invalid'], ['3', null]]);
    assert.equal(problems[0], 'upstreams/9: skipped: invalid configuration: property "type" validation failed: unknown balancer foo');
    assert.equal(problems[1], 'stream_routes/1: skipped: invalid remote_addr: :/8');
    assert.equal(problems[2], 'stream_routes/2: upstream 9 is invalid');
    assert.equal(problems.length, 3);
    const r = buildSnapshot(contents([], [row('9', { nodes })]), null, throwing);
    assert.deepEqual(r.problems, ['upstreams/9: skipped: validation failed: boom']);
  });

  it('compiles every balancer type without notes, one compiled upstream per object (issue 5)', () => {
    const { snapshot, problems } = buildSnapshot(
      contents([row('1', { upstream_id: '7' }), row('2', { upstream_id: '7' }), row('3', { upstream: { nodes, type: 'least_conn' } })], [
        row('7', { nodes, type: 'chash', key: 'remote_addr' }),
      ]),
      null,
    );
    assert.deepEqual(problems, []);
    assert.equal(snapshot.routes[0]!.upstream!.balancer.constructor.name, 'ChashBalancer');
    assert.equal(snapshot.routes[2]!.upstream!.balancer.constructor.name, 'LeastConnBalancer');
    assert.equal(snapshot.routes[0]!.upstream, snapshot.routes[1]!.upstream, 'one compiled upstream per object');
    assert.equal(snapshot.routes[0]!.problem, null);
  });

  it('reuses the compiled upstream (and balancer state) while the row text is unchanged', () => {
    const up = (desc: string, mi = 3) => row('7', { nodes: { '127.0.0.1:1': 3, '127.0.0.1:2': 1 }, desc }, mi);
    const routes = [row('1', { upstream_id: '7' })];
    const first = buildSnapshot(contents(routes, [up('x')]), null).snapshot;
    const a = first.routes[0]!.upstream!;
    const pick = () => a.balancer.pick(conn, [])!.port;
    assert.deepEqual([pick(), pick()], [1, 1]);
    const second = buildSnapshot(contents(routes, [up('x')], 6), first).snapshot;
    assert.equal(second.routes[0]!.upstream, a, 'same object reused');
    assert.deepEqual([pick(), pick()], [2, 1], 'rotation continues: a a | b a');
    // an edit made by hand keeps the old modifiedIndex: the text still tells the change
    const third = buildSnapshot(contents(routes, [up('y', 3)], 7), second).snapshot;
    assert.notEqual(third.routes[0]!.upstream, a);
    assert.equal(third.routes[0]!.upstream!.balancer.pick(conn, [])!.port, 1, 'fresh state');
  });

  it('validates and compiles only rows whose text changed since the previous build', () => {
    let routeChecks = 0;
    let upstreamChecks = 0;
    const counting = {
      ...defaults(),
      validateStreamRoute: (b: unknown) => (routeChecks++, validateStreamRoute(b)),
      validateUpstream: (b: unknown) => (upstreamChecks++, validateUpstream(b)),
    };
    const routes = Array.from({ length: 100 }, (_, i) => row(`r${String(i).padStart(3, '0')}`, { server_port: 1000 + i, upstream_id: '7' }));
    const ups = [row('7', { nodes })];
    const first = buildSnapshot(contents(routes, ups), null, counting).snapshot;
    assert.deepEqual([routeChecks, upstreamChecks], [100, 1]);
    const changed = [...routes];
    changed[5] = row('r005', { server_port: 2000, upstream_id: '7' });
    const second = buildSnapshot(contents(changed, ups), first, counting).snapshot;
    assert.deepEqual([routeChecks, upstreamChecks], [101, 1], 'one route validated again, the upstream not at all');
    assert.equal(selectRoute(second, { ...conn, serverPort: 2000 })?.id, 'r005');
    assert.equal(selectRoute(second, { ...conn, serverPort: 1005 }), undefined);
    assert.equal(selectRoute(second, { ...conn, serverPort: 1006 })?.id, 'r006');
  });

  it('reports rows the store could not read and builds the rest', () => {
    const c = { ...contents([row('1', { upstream: { nodes } })]), unreadable: [{ res: 'stream_routes' as const, id: '2', message: 'stream_routes row "2": value is not valid JSON' }] };
    const { snapshot, problems } = buildSnapshot(c, null);
    assert.deepEqual(problems, ['skipped: stream_routes row "2": value is not valid JSON']);
    assert.equal(selectRoute(snapshot, conn)?.id, '1');
  });

  it('an empty snapshot matches nothing', () => {
    const snap = emptySnapshot();
    assert.equal(snap.routes.length, 0);
    assert.equal(selectRoute(snap, conn), undefined);
  });
});

function defaults() {
  return { normalizeNodes, validateStreamRoute, validateUpstream };
}
