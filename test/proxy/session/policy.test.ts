// Session policies: compiling on_change / on_node_removed, finding the routes a snapshot swap changed (traffic-split's
// upstreams included), the verdict per session (the harsher policy wins), and the reaper's close-now /
// close-after-drain on fake sessions.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildSnapshot, updateSnapshot } from '../../../src/snapshot/build';
import { routesChangedSince } from '../../../src/snapshot/changes';
import type { Snapshot } from '../../../src/snapshot/types';
import type { StoredObject } from '../../../src/store/types';
import { FilterCompiler } from '../../../src/plugins/compile';
import { LocalConnCounters } from '../../../src/plugins/conn-counters';
import { pluginSetOf } from '../../../src/plugins/registry';
import { buildServedSnapshot } from '../../../src/plugins/snapshot';
import { compilePolicy, decideSession, describeVerdict, diffRoutes, type RouteChange, SessionReaper } from '../../../src/proxy/session/policy';

function row(id: string, value: Record<string, unknown>): StoredObject {
  const full = { id, ...value };
  return { id, value: full, createdIndex: 1, modifiedIndex: 1, raw: JSON.stringify(full) };
}

function snap(routes: StoredObject[], upstreams: StoredObject[] = [], prev: Snapshot | null = null): Snapshot {
  return buildSnapshot({ revision: 1, streamRoutes: routes, upstreams, ssls: [], unreadable: [] }, prev).snapshot;
}

const nodes = (...ports: number[]) => Object.fromEntries(ports.map((p) => [`127.0.0.1:${p}`, 1]));

describe('compilePolicy', () => {
  it('keep and absent are null; drain defaults to 60 s; seconds become ms', () => {
    assert.equal(compilePolicy(undefined), null);
    assert.equal(compilePolicy({ action: 'keep' }), null);
    assert.deepEqual(compilePolicy({ action: 'close' }), { action: 'close', drainMs: 0 });
    assert.deepEqual(compilePolicy({ action: 'drain' }), { action: 'drain', drainMs: 60_000 });
    assert.deepEqual(compilePolicy({ action: 'drain', drain_timeout: 1.5 }), { action: 'drain', drainMs: 1500 });
  });
});

describe('diffRoutes', () => {
  it('leaves out routes whose policies are all keep, however they changed', () => {
    const a = snap([row('1', { upstream: { nodes: nodes(1) } })]);
    const b = snap([row('1', { upstream: { nodes: nodes(2) } })], [], a);
    assert.deepEqual(diffRoutes(a, b), []);
    assert.deepEqual(diffRoutes(b, snap([], [], b)), []);
  });

  it('a changed route text is route_changed with the policy after the write; an untouched one is no change', () => {
    const a = snap([row('1', { upstream: { nodes: nodes(1) } }), row('2', { on_change: { action: 'close' }, upstream: { nodes: nodes(1) } })]);
    const b = snap([row('1', { on_change: { action: 'drain', drain_timeout: 3 }, upstream: { nodes: nodes(1) } }), row('2', { on_change: { action: 'close' }, upstream: { nodes: nodes(1) } })], [], a);
    assert.deepEqual(diffRoutes(a, b), [
      { routeId: '1', reason: 'route_changed', policy: { action: 'drain', drainMs: 3000 }, nodePolicy: null, removedNodes: new Map() },
    ]);
  });

  it('a deleted route is route_deleted with the policy it had', () => {
    const a = snap([row('1', { on_change: { action: 'close' }, upstream: { nodes: nodes(1) } })]);
    assert.deepEqual(diffRoutes(a, snap([], [], a)), [
      { routeId: '1', reason: 'route_deleted', policy: { action: 'close', drainMs: 0 }, nodePolicy: null, removedNodes: new Map() },
    ]);
  });

  it('a write to the upstream object a route uses changes the route, and names the nodes it dropped', () => {
    const route = row('r', { upstream_id: 'u', on_node_removed: { action: 'close' } });
    const a = snap([route], [row('u', { nodes: nodes(1, 2, 3) })]);
    const b = snap([route], [row('u', { nodes: nodes(2, 4) })], a);
    assert.deepEqual(diffRoutes(a, b), [
      { routeId: 'r', reason: 'route_changed', policy: null, nodePolicy: { action: 'close', drainMs: 0 }, removedNodes: new Map([['/apisix/upstreams/u', new Set(['127.0.0.1:1', '127.0.0.1:3'])]]) },
    ]);
    // the same upstream text again: nothing changed (the compiled upstream is reused)
    assert.deepEqual(diffRoutes(b, snap([route], [row('u', { nodes: nodes(2, 4) })], b)), []);
    // only on_node_removed, and no node left: nothing for its sessions to do
    assert.deepEqual(diffRoutes(b, snap([route], [row('u', { nodes: nodes(2, 4), retries: 1 })], b)), []);
  });
});

describe('diffRoutes after an incremental update', () => {
  const change = (res: 'stream_routes' | 'upstreams', id: string, r: StoredObject | null) => ({ res, id, row: r, unreadable: null });

  it('looks only at the routes the update touched, with the same answers as a full comparison', () => {
    const policy = { on_change: { action: 'close' }, on_node_removed: { action: 'drain', drain_timeout: 1 } };
    const routes = ['1', '2', '3'].map((id) => row(id, { upstream_id: id === '3' ? 'v' : 'u', ...policy }));
    const a = snap(routes, [row('u', { nodes: nodes(1, 2) }), row('v', { nodes: nodes(1) })]);
    // the upstream of routes 1 and 2 drops a node; route 3 is deleted
    const b = updateSnapshot(a, { revision: 2, changes: [change('upstreams', 'u', row('u', { nodes: nodes(2) })), change('stream_routes', '3', null)] }).snapshot;
    assert.deepEqual([...(routesChangedSince(a, b) ?? [])].sort(), ['1', '2', '3']);
    const expected = [
      { routeId: '1', reason: 'route_changed', policy: { action: 'close', drainMs: 0 }, nodePolicy: { action: 'drain', drainMs: 1000 }, removedNodes: new Map([['/apisix/upstreams/u', new Set(['127.0.0.1:1'])]]) },
      { routeId: '2', reason: 'route_changed', policy: { action: 'close', drainMs: 0 }, nodePolicy: { action: 'drain', drainMs: 1000 }, removedNodes: new Map([['/apisix/upstreams/u', new Set(['127.0.0.1:1'])]]) },
      { routeId: '3', reason: 'route_deleted', policy: { action: 'close', drainMs: 0 }, nodePolicy: null, removedNodes: new Map() },
    ];
    assert.deepEqual(diffRoutes(a, b), expected);
    // the same pair as two full builds: every route compared, same answer
    const full = snap(routes.slice(0, 2), [row('u', { nodes: nodes(2) }), row('v', { nodes: nodes(1) })], a);
    assert.equal(routesChangedSince(a, full), null);
    assert.deepEqual(diffRoutes(a, full), expected);
    // an update of an unrelated row touches no route; one not made from `prev` says nothing
    const c = updateSnapshot(b, { revision: 3, changes: [change('upstreams', 'v', row('v', { nodes: nodes(1), desc: 'x' }))] }).snapshot;
    assert.deepEqual([...(routesChangedSince(b, c) ?? [])], []);
    assert.deepEqual(diffRoutes(b, c), []);
    assert.equal(routesChangedSince(a, c), null);
  });
});

describe('diffRoutes after a re-resolution (nodesOnly)', () => {
  it('on_change does not apply (nothing was written); on_node_removed does, to the addresses that went', () => {
    const route = row('r', { upstream_id: 'u', on_change: { action: 'close' }, on_node_removed: { action: 'drain', drain_timeout: 2 } });
    const a = snap([route], [row('u', { nodes: nodes(1, 2) })]);
    const b = snap([route], [row('u', { nodes: nodes(2) })], a);
    assert.deepEqual(diffRoutes(a, b, { nodesOnly: true }), [
      { routeId: 'r', reason: 'route_changed', policy: null, nodePolicy: { action: 'drain', drainMs: 2000 }, removedNodes: new Map([['/apisix/upstreams/u', new Set(['127.0.0.1:1'])]]) },
    ]);
    // no address went: nothing to do
    const c = snap([route], [row('u', { nodes: nodes(2, 3) })], b);
    assert.deepEqual(diffRoutes(b, c, { nodesOnly: true }), []);
  });
});

describe('diffRoutes with traffic-split', () => {
  // one compiler for every build, as weir start has: unchanged chains (and their upstream objects) are reused
  const compiler = new FilterCompiler(pluginSetOf({}), new LocalConnCounters());
  const served = (routes: StoredObject[], upstreams: StoredObject[], prev: Snapshot | null): Snapshot =>
    buildServedSnapshot({ revision: 1, streamRoutes: routes, upstreams, ssls: [], unreadable: [] }, prev, compiler).snapshot;
  const split = (inline: number[]) => ({
    'traffic-split': { rules: [{ weighted_upstreams: [{ upstream_id: 'ts', weight: 1 }, { upstream: { nodes: nodes(...inline) }, weight: 1 }, { weight: 1 }] }] },
  });
  const route = (inline: number[], extra: Record<string, unknown> = {}) =>
    row('r', { server_port: 9100, upstream_id: 'own', plugins: split(inline), on_node_removed: { action: 'close' }, ...extra });
  const closeNodes = { action: 'close', drainMs: 0 } as const;
  const INLINE = '/apisix/stream_routes/r#traffic-split/1/2';

  it('names the nodes an upstream reached only through traffic-split lost, under that upstream', () => {
    const a = served([route([5, 6])], [row('own', { nodes: nodes(1) }), row('ts', { nodes: nodes(2, 3) })], null);
    // the same rows again: the route's chain and upstreams are reused, nothing changed
    const same = served([route([5, 6])], [row('own', { nodes: nodes(1) }), row('ts', { nodes: nodes(2, 3) })], a);
    assert.deepEqual(diffRoutes(a, same), []);
    // a node leaves the upstream object traffic-split names by upstream_id
    const b = served([route([5, 6])], [row('own', { nodes: nodes(1) }), row('ts', { nodes: nodes(3) })], same);
    assert.deepEqual(diffRoutes(same, b), [
      { routeId: 'r', reason: 'route_changed', policy: null, nodePolicy: closeNodes, removedNodes: new Map([['/apisix/upstreams/ts', new Set(['127.0.0.1:2'])]]) },
    ]);
    // a node leaves traffic-split's inline upstream (the route's text changes; on_change is keep)
    const c = served([route([6])], [row('own', { nodes: nodes(1) }), row('ts', { nodes: nodes(3) })], b);
    assert.deepEqual(diffRoutes(b, c), [
      { routeId: 'r', reason: 'route_changed', policy: null, nodePolicy: closeNodes, removedNodes: new Map([[INLINE, new Set(['127.0.0.1:5'])]]) },
    ]);
  });

  it('an upstream the route can no longer send to lost every node; the route\'s own is followed to its new one', () => {
    const ups = [row('own', { nodes: nodes(1, 2) }), row('other', { nodes: nodes(2, 3) }), row('ts', { nodes: nodes(4) })];
    const a = served([route([5])], ups, null);
    // traffic-split's rules gone, and the route moved from upstream own to other (which also has node 2)
    const b = served([row('r', { server_port: 9100, upstream_id: 'other', on_node_removed: { action: 'close' } })], ups, a);
    assert.deepEqual(diffRoutes(a, b), [
      {
        routeId: 'r', reason: 'route_changed', policy: null, nodePolicy: closeNodes,
        removedNodes: new Map([['/apisix/upstreams/own', new Set(['127.0.0.1:1'])], ['/apisix/upstreams/ts', new Set(['127.0.0.1:4'])], [INLINE, new Set(['127.0.0.1:5'])]]),
      },
    ]);
  });

  it('a write to an upstream only traffic-split names is a change of the route for on_change too', () => {
    const r = route([5], { on_change: { action: 'drain', drain_timeout: 2 }, on_node_removed: undefined });
    const a = served([r], [row('own', { nodes: nodes(1) }), row('ts', { nodes: nodes(2) })], null);
    const b = served([r], [row('own', { nodes: nodes(1) }), row('ts', { nodes: nodes(2), retries: 0 })], a);
    assert.deepEqual(diffRoutes(a, b), [
      { routeId: 'r', reason: 'route_changed', policy: { action: 'drain', drainMs: 2000 }, nodePolicy: null, removedNodes: new Map() },
    ]);
  });
});

describe('decideSession', () => {
  const change = (policy: RouteChange['policy'], nodePolicy: RouteChange['nodePolicy']): RouteChange => ({
    routeId: '1',
    reason: 'route_changed',
    policy,
    nodePolicy,
    removedNodes: new Map([['/apisix/upstreams/u', new Set(['10.0.0.1:80'])]]),
  });
  const close = { action: 'close', drainMs: 0 } as const;
  const drain = (ms: number) => ({ action: 'drain', drainMs: ms }) as const;

  it('table: on_change for every session, on_node_removed for those on a removed node; the harsher wins', () => {
    // [on_change, on_node_removed, node, expected]; the session went through upstream u unless the node says "v:"
    const rows: Array<[RouteChange['policy'], RouteChange['nodePolicy'], string | null, ReturnType<typeof decideSession>]> = [
      [null, close, '10.0.0.1:80', { policy: close, reason: 'node_removed' }],
      [null, close, '10.0.0.2:80', null],
      [null, close, null, null],
      // the same address through an upstream that kept it
      [null, close, 'v:10.0.0.1:80', null],
      [drain(5000), close, 'v:10.0.0.1:80', { policy: drain(5000), reason: 'route_changed' }],
      [drain(5000), null, '10.0.0.1:80', { policy: drain(5000), reason: 'route_changed' }],
      [drain(5000), close, '10.0.0.1:80', { policy: close, reason: 'node_removed' }],
      [close, drain(5000), '10.0.0.1:80', { policy: close, reason: 'route_changed' }],
      [drain(5000), drain(1000), '10.0.0.1:80', { policy: drain(1000), reason: 'node_removed' }],
      [drain(1000), drain(5000), '10.0.0.1:80', { policy: drain(1000), reason: 'route_changed' }],
      [drain(1000), drain(1000), '10.0.0.1:80', { policy: drain(1000), reason: 'node_removed' }],
    ];
    for (const [policy, nodePolicy, node, expected] of rows) {
      const [upstream, address] = node === null ? [null, null] : node.startsWith('v:') ? ['/apisix/upstreams/v', node.slice(2)] : ['/apisix/upstreams/u', node];
      assert.deepEqual(decideSession(change(policy, nodePolicy), upstream, address), expected, String(node));
    }
  });

  it('describes a verdict for the access line', () => {
    assert.equal(describeVerdict('route 7', { policy: drain(30_000), reason: 'route_changed' }), 'route 7 changed (on_change: drain 30 s)');
    assert.equal(describeVerdict('route 7', { policy: close, reason: 'node_removed' }), 'route 7 lost its node (on_node_removed: close)');
    assert.equal(describeVerdict('listener stream_listeners/a', { policy: close, reason: 'listener_removed' }), 'listener stream_listeners/a removed (on_change: close)');
  });
});

describe('SessionReaper', () => {
  interface Fake {
    id: string;
    open: boolean;
  }
  const ended: Array<[string, string, string]> = [];
  let reaper: SessionReaper<Fake>;
  before(() => {
    reaper = new SessionReaper<Fake>(
      (s) => s.open,
      (s, reason, note) => {
        s.open = false;
        ended.push([s.id, reason, note]);
      },
    );
  });
  after(() => reaper.stop());

  it('closes at once, drains with one timer per timeout, and skips sessions that ended meanwhile', async () => {
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((id) => ({ id, open: true }));
    const close = { policy: { action: 'close', drainMs: 0 }, reason: 'route_deleted' } as const;
    const drain = { policy: { action: 'drain', drainMs: 50 }, reason: 'route_changed' } as const;
    reaper.apply([[a!, close], [b!, drain], [c!, drain], [d!, drain]], (s, v) => `${s.id}:${v.reason}`);
    assert.deepEqual(ended, [['a', 'route_deleted', 'a:route_deleted']]);
    assert.equal(reaper.pending, 1);
    c!.open = false; // finished by itself before the drain timeout
    await new Promise((r) => setTimeout(r, 120));
    assert.deepEqual(ended.slice(1), [['b', 'route_changed', 'b:route_changed'], ['d', 'route_changed', 'd:route_changed']]);
    assert.equal(reaper.pending, 0);
  });
});
