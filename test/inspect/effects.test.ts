// Effects of a write from the store's contents before and after it: traffic changes, broken references, scope.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { LiveTables } from '../../src/inspect/connections';
import { affectedTargets, computeEffects } from '../../src/inspect/effects';
import { RuleCache } from '../../src/inspect/rules';
import type { JsonObject, StoreContents, StoredObject } from '../../src/store/types';

function row(id: string, value: JsonObject): StoredObject {
  return { id, value, createdIndex: 1, modifiedIndex: 1, raw: JSON.stringify(value) };
}

function contents(routes: Array<[string, JsonObject]>, upstreams: string[] = ['u'], ssls: Array<[string, JsonObject]> = []): StoreContents {
  return {
    revision: 1,
    streamRoutes: routes.map(([id, v]) => row(id, v)),
    upstreams: upstreams.map((id) => row(id, { nodes: { '127.0.0.1:1': 1 } })),
    ssls: ssls.map(([id, v]) => row(id, v)),
    unreadable: [],
  };
}

describe('computeEffects', () => {
  const before = contents([['1', { server_port: 9100, upstream_id: 'u' }]]);

  it('a new earlier route on the same port takes traffic; nothing breaks', () => {
    const after = contents([['0', { server_port: 9100, remote_addr: '10.0.0.0/8', upstream_id: 'u' }], ['1', { server_port: 9100, upstream_id: 'u' }]]);
    const e = computeEffects({ before, after, rules: new RuleCache(), live: null });
    assert.deepEqual(e, {
      routes: [
        { id: '0', change: 'gains', detail: 'connections route 1 served, e.g. remote_addr 10.0.0.0, server_addr 127.0.0.1, server_port 9100' },
        { id: '1', change: 'loses', detail: 'connections to route 0, e.g. remote_addr 10.0.0.0, server_addr 127.0.0.1, server_port 9100' },
      ],
      connections: 0,
      connection_policy: 'open connections and sessions finish on the configuration they started with',
      broken_references: [],
    });
  });

  it('removing an upstream breaks the routes and upstreams that name it, once', () => {
    const withCert = contents([['1', { server_port: 9100, upstream_id: 'u', upstream: undefined }]], ['u'], [['c', { type: 'client' }]]);
    withCert.upstreams.push(row('t', { nodes: { '127.0.0.1:1': 1 }, scheme: 'tls', tls: { client_cert_id: 'c' } }));
    const after = { ...withCert, upstreams: [], ssls: [] };
    const e = computeEffects({ before: withCert, after, rules: new RuleCache(), live: null });
    assert.deepEqual(e.broken_references, [{ from: '/apisix/stream_routes/1', field: 'upstream_id', to: '/apisix/upstreams/u' }]);
    const sslGone = computeEffects({ before: withCert, after: { ...withCert, ssls: [] }, rules: new RuleCache(), live: null });
    assert.deepEqual(sslGone.broken_references, [{ from: '/apisix/upstreams/t', field: 'tls.client_cert_id', to: '/apisix/ssls/c' }]);
  });

  it('a scoped caller sees only entries about routes it sees', () => {
    const after = contents([['0', { server_port: 9100, upstream_id: 'u' }], ['1', { server_port: 9100, upstream_id: 'u' }]]);
    const visible = (_res: string, id: string) => id !== '1';
    const e = computeEffects({ before, after, rules: new RuleCache(), live: null, visible });
    assert.deepEqual(e.routes, []);
    const all = computeEffects({ before, after, rules: new RuleCache(), live: null });
    assert.deepEqual((all.routes as Array<{ id: string; change: string }>).map((r) => `${r.id} ${r.change}`), ['0 gains', '1 loses']);
  });

  it('a route that can reach a changed upstream only through traffic-split is affected, like one naming it itself', () => {
    const split = { 'traffic-split': { rules: [{ match: [{ vars: [['remote_addr', '==', '10.0.0.1']] }], weighted_upstreams: [{ upstream_id: 'v', weight: 1 }] }] } };
    const routes: Array<[string, JsonObject]> = [
      ['own', { server_port: 9100, upstream_id: 'v' }],
      ['split', { server_port: 9101, upstream_id: 'u', plugins: split }],
      ['other', { server_port: 9102, upstream_id: 'u' }],
    ];
    const was = contents(routes, ['u', 'v']);
    const now = { ...was, upstreams: [was.upstreams[0]!, row('v', { nodes: { '127.0.0.1:2': 1 } })] };
    assert.deepEqual(affectedTargets(was, now), { routes: ['own', 'split'], upstreamKeys: ['/apisix/upstreams/v'] });
    assert.deepEqual(affectedTargets(was, now, (_res, id) => id !== 'split'), { routes: ['own'], upstreamKeys: ['/apisix/upstreams/v'] });
    // every open connection of a listed route counts, also one on its own upstream (its on_change would apply to it)
    const session = (route: string, key: string) => ({ matched: { id: route }, upstream: { key } });
    const open = [session('split', '/apisix/upstreams/u'), session('split', '/apisix/upstreams/v'), session('other', '/apisix/upstreams/u')];
    const live = { tcp: { openSessions: () => open }, udp: null } as unknown as LiveTables;
    assert.equal(computeEffects({ before: was, after: now, rules: new RuleCache(), live }).connections, 2);
  });
});
