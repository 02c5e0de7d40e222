// Node names in a snapshot: a build expands them to the addresses known then; updateResolved expands only the
// upstreams named, links their routes again and leaves everything else as it was.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildSnapshot, schemaDeps, updateResolved } from '../../src/snapshot/build';
import { FilterCompiler } from '../../src/plugins/compile';
import { LocalConnCounters } from '../../src/plugins/conn-counters';
import { DEFAULT_PLUGINS } from '../../src/plugins/registry';
import { buildServedSnapshot } from '../../src/plugins/snapshot';
import type { Snapshot } from '../../src/snapshot/types';
import type { JsonObject, StoredObject } from '../../src/store/types';

const row = (id: string, value: JsonObject): StoredObject => {
  const full = { id, ...value };
  return { id, value: full, raw: JSON.stringify(full), createdIndex: 1, modifiedIndex: 1 };
};

const table = new Map<string, string[]>([['db.test', ['10.0.0.1']]]);
const deps = { ...schemaDeps, addressesOf: (name: string) => table.get(name) ?? null };

function build(): Snapshot {
  return buildSnapshot({
    revision: 7,
    upstreams: [
      row('db', { type: 'least_conn', nodes: [{ host: 'db.test', port: 5432, weight: 2 }, { host: 'nothing.test', port: 5432, weight: 1 }] }),
      row('plain', { nodes: { '127.0.0.1:1': 1 } }),
    ],
    streamRoutes: [
      row('r1', { server_port: 1, upstream_id: 'db' }),
      row('r2', { server_port: 2, upstream: { nodes: { 'db.test:6432': 1 }, retries: 0 } }),
      row('r3', { server_port: 3, upstream_id: 'plain' }),
    ],
    ssls: [],
    unreadable: [],
  }, null, deps).snapshot;
}

const up = (s: Snapshot, key: string) => s.upstreams.get(key)!.upstream!;
const addresses = (s: Snapshot, key: string) => up(s, key).nodes.map((n) => `${n.address}${n.name ? ` (${n.name})` : ''}`);

describe('node names in the snapshot', () => {
  it('a build expands names known now, keeps unknown ones, and remembers what was written', () => {
    table.set('db.test', ['10.0.0.1']);
    const s = build();
    assert.deepEqual(addresses(s, '/apisix/upstreams/db'), ['10.0.0.1:5432 (db.test)', 'nothing.test:5432']);
    const db = up(s, '/apisix/upstreams/db');
    assert.deepEqual([db.retries, db.named!.names, db.named!.retries, db.named!.declared.length], [1, ['db.test', 'nothing.test'], null, 2]);
    assert.equal(up(s, '/apisix/upstreams/plain').named, undefined);
  });

  it('updateResolved rebuilds only the named upstreams, relinks their routes, keeps balancer state by address', () => {
    table.set('db.test', ['10.0.0.1']);
    const before = build();
    const oldDb = up(before, '/apisix/upstreams/db');
    oldDb.balancer.pick({ protocol: 'tcp', remoteAddr: '1.1.1.1', remotePort: 1, serverAddr: '', serverPort: 1, sni: null }, []); // 10.0.0.1 busy
    table.set('db.test', ['10.0.0.2', '10.0.0.1']);
    const { snapshot: after, upstreamKeys } = updateResolved(before, ['/apisix/upstreams/db', '/apisix/stream_routes/r2'], deps);
    assert.deepEqual(upstreamKeys.sort(), ['/apisix/stream_routes/r2', '/apisix/upstreams/db']);
    assert.deepEqual(addresses(after, '/apisix/upstreams/db'), ['10.0.0.2:5432 (db.test)', '10.0.0.1:5432 (db.test)', 'nothing.test:5432']);
    assert.deepEqual(addresses(after, '/apisix/stream_routes/r2'), ['10.0.0.2:6432 (db.test)', '10.0.0.1:6432 (db.test)']);
    const db = up(after, '/apisix/upstreams/db');
    assert.equal(db.retries, 2, 'retries unset: one less than the expanded nodes');
    assert.equal(up(after, '/apisix/stream_routes/r2').retries, 0, 'retries as written');
    assert.equal(db.balancer.states.get('10.0.0.1:5432')!.active, 1, 'the connection counted before is still counted');
    const route = (s: Snapshot, id: string) => s.routes.find((r) => r.id === id)!;
    assert.equal(route(after, 'r1').upstream, db);
    assert.equal(route(after, 'r2').upstream, up(after, '/apisix/stream_routes/r2'));
    assert.equal(route(after, 'r3'), route(before, 'r3'), 'a route of another upstream is not linked again');
    assert.equal(after.upstreams.get('/apisix/upstreams/plain'), before.upstreams.get('/apisix/upstreams/plain'));
    assert.equal(after.revision, before.revision);
    // the same addresses again: nothing to build
    assert.deepEqual(updateResolved(after, ['/apisix/upstreams/db'], deps).upstreamKeys, []);
  });

  it("traffic-split's upstreams follow their names: a re-expanded stored one and an inline one relink the route", () => {
    table.set('db.test', ['10.0.0.1']);
    table.set('cache.test', ['10.0.1.1']);
    const compiler = new FilterCompiler(DEFAULT_PLUGINS, new LocalConnCounters());
    const served = { ...compiler.deps, addressesOf: deps.addressesOf };
    const split = { 'traffic-split': { rules: [{ weighted_upstreams: [{ upstream_id: 'db', weight: 1 }, { upstream: { nodes: { 'cache.test:6379': 1 } }, weight: 1 }] }] } };
    const before = buildServedSnapshot({
      revision: 3,
      upstreams: [row('db', { nodes: { 'db.test:5432': 1 } }), row('plain', { nodes: { '127.0.0.1:1': 1 } })],
      streamRoutes: [row('split', { server_port: 1, upstream_id: 'plain', plugins: split }), row('other', { server_port: 2, upstream_id: 'plain' })],
      ssls: [],
      unreadable: [],
    }, null, compiler, {}, served).snapshot;
    const route = (s: Snapshot, id: string) => s.routes.find((r) => r.id === id)!;
    const chosen = (s: Snapshot) => route(s, 'split').filters.upstreams!.map((u) => `${u.key}: ${u.nodes.map((n) => `${n.address} (${n.name})`).join(', ')}`);
    const inlineKey = '/apisix/stream_routes/split#traffic-split/1/2';
    assert.deepEqual(chosen(before), ['/apisix/upstreams/db: 10.0.0.1:5432 (db.test)', `${inlineKey}: 10.0.1.1:6379 (cache.test)`]);

    // the stored upstream traffic-split names by upstream_id
    table.set('db.test', ['10.0.0.2']);
    const byId = updateResolved(before, ['/apisix/upstreams/db'], served);
    assert.deepEqual(byId.upstreamKeys, ['/apisix/upstreams/db']);
    assert.deepEqual(chosen(byId.snapshot), ['/apisix/upstreams/db: 10.0.0.2:5432 (db.test)', `${inlineKey}: 10.0.1.1:6379 (cache.test)`]);
    assert.equal(route(byId.snapshot, 'split').filters.upstreams![0], up(byId.snapshot, '/apisix/upstreams/db'));
    assert.equal(route(byId.snapshot, 'other'), route(before, 'other'), 'a route that cannot reach it is not linked again');

    // the inline one: no entry of `upstreams`, only its route is linked again
    table.set('cache.test', ['10.0.1.2']);
    const inline = updateResolved(byId.snapshot, [inlineKey], served);
    assert.deepEqual(inline.upstreamKeys, []);
    assert.deepEqual(chosen(inline.snapshot), ['/apisix/upstreams/db: 10.0.0.2:5432 (db.test)', `${inlineKey}: 10.0.1.2:6379 (cache.test)`]);
    assert.equal(route(inline.snapshot, 'split').filters.upstreams![0], route(byId.snapshot, 'split').filters.upstreams![0], 'the stored one is kept');
    // the same addresses again: the route's chain is kept as it is
    assert.equal(route(updateResolved(inline.snapshot, [inlineKey], served).snapshot, 'split').filters, route(inline.snapshot, 'split').filters);
  });
});
