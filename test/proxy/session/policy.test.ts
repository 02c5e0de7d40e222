// Session policies: compiling on_change / on_node_removed, finding the routes a snapshot swap changed, the verdict
// per session (the harsher policy wins), and the reaper's close-now / close-after-drain on fake sessions.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildSnapshot, updateSnapshot } from '../../../src/snapshot/build';
import { routesChangedSince } from '../../../src/snapshot/changes';
import type { Snapshot } from '../../../src/snapshot/types';
import type { StoredObject } from '../../../src/store/types';
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
      { routeId: '1', reason: 'route_changed', policy: { action: 'drain', drainMs: 3000 }, nodePolicy: null, removedNodes: new Set() },
    ]);
  });

  it('a deleted route is route_deleted with the policy it had', () => {
    const a = snap([row('1', { on_change: { action: 'close' }, upstream: { nodes: nodes(1) } })]);
    assert.deepEqual(diffRoutes(a, snap([], [], a)), [
      { routeId: '1', reason: 'route_deleted', policy: { action: 'close', drainMs: 0 }, nodePolicy: null, removedNodes: new Set() },
    ]);
  });

  it('a write to the upstream object a route uses changes the route, and names the nodes it dropped', () => {
    const route = row('r', { upstream_id: 'u', on_node_removed: { action: 'close' } });
    const a = snap([route], [row('u', { nodes: nodes(1, 2, 3) })]);
    const b = snap([route], [row('u', { nodes: nodes(2, 4) })], a);
    assert.deepEqual(diffRoutes(a, b), [
      { routeId: 'r', reason: 'route_changed', policy: null, nodePolicy: { action: 'close', drainMs: 0 }, removedNodes: new Set(['127.0.0.1:1', '127.0.0.1:3']) },
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
      { routeId: '1', reason: 'route_changed', policy: { action: 'close', drainMs: 0 }, nodePolicy: { action: 'drain', drainMs: 1000 }, removedNodes: new Set(['127.0.0.1:1']) },
      { routeId: '2', reason: 'route_changed', policy: { action: 'close', drainMs: 0 }, nodePolicy: { action: 'drain', drainMs: 1000 }, removedNodes: new Set(['127.0.0.1:1']) },
      { routeId: '3', reason: 'route_deleted', policy: { action: 'close', drainMs: 0 }, nodePolicy: null, removedNodes: new Set() },
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
      { routeId: 'r', reason: 'route_changed', policy: null, nodePolicy: { action: 'drain', drainMs: 2000 }, removedNodes: new Set(['127.0.0.1:1']) },
    ]);
    // no address went: nothing to do
    const c = snap([route], [row('u', { nodes: nodes(2, 3) })], b);
    assert.deepEqual(diffRoutes(b, c, { nodesOnly: true }), []);
  });
});

describe('decideSession', () => {
  const change = (policy: RouteChange['policy'], nodePolicy: RouteChange['nodePolicy']): RouteChange => ({
    routeId: '1',
    reason: 'route_changed',
    policy,
    nodePolicy,
    removedNodes: new Set(['10.0.0.1:80']),
  });
  const close = { action: 'close', drainMs: 0 } as const;
  const drain = (ms: number) => ({ action: 'drain', drainMs: ms }) as const;

  it('table: on_change for every session, on_node_removed for those on a removed node; the harsher wins', () => {
    // [on_change, on_node_removed, node, expected]
    const rows: Array<[RouteChange['policy'], RouteChange['nodePolicy'], string | null, ReturnType<typeof decideSession>]> = [
      [null, close, '10.0.0.1:80', { policy: close, reason: 'node_removed' }],
      [null, close, '10.0.0.2:80', null],
      [null, close, null, null],
      [drain(5000), null, '10.0.0.1:80', { policy: drain(5000), reason: 'route_changed' }],
      [drain(5000), close, '10.0.0.1:80', { policy: close, reason: 'node_removed' }],
      [close, drain(5000), '10.0.0.1:80', { policy: close, reason: 'route_changed' }],
      [drain(5000), drain(1000), '10.0.0.1:80', { policy: drain(1000), reason: 'node_removed' }],
      [drain(1000), drain(5000), '10.0.0.1:80', { policy: drain(1000), reason: 'route_changed' }],
      [drain(1000), drain(1000), '10.0.0.1:80', { policy: drain(1000), reason: 'node_removed' }],
    ];
    for (const [policy, nodePolicy, node, expected] of rows) assert.deepEqual(decideSession(change(policy, nodePolicy), node), expected);
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
