// Balancer state across store changes (issue 5): a changed upstream row keeps the counters of the
// nodes it still has; checks and hash settings reach the compiled upstream.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildSnapshot } from '../../src/snapshot/build';
import type { ConnInfo } from '../../src/snapshot/types';
import type { StoreContents, StoredObject } from '../../src/store/types';

function row(id: string, value: Record<string, unknown>): StoredObject {
  const full = { id, ...value };
  return { id, value: full, createdIndex: 1, modifiedIndex: 1, raw: JSON.stringify(full) };
}
const contents = (upstreams: StoredObject[]): StoreContents => ({ revision: 1, streamRoutes: [], upstreams, ssls: [], unreadable: [] });
const conn: ConnInfo = { protocol: 'tcp', remoteAddr: '10.1.2.3', remotePort: 5, serverAddr: '127.0.0.1', serverPort: 9100, sni: null };
const KEY = '/apisix/upstreams/u';

describe('upstream state across builds', () => {
  it('least_conn counts survive a changed row with the same nodes, and a node added beside them', () => {
    const nodes = { '127.0.0.1:1': 1, '127.0.0.1:2': 1 };
    const v1 = buildSnapshot(contents([row('u', { type: 'least_conn', nodes })]), null).snapshot;
    const up1 = v1.upstreams.get(KEY)!.upstream!;
    const held = [up1.balancer.pick(conn, [])!, up1.balancer.pick(conn, [])!, up1.balancer.pick(conn, [])!];
    assert.deepEqual(held.map((n) => n.port), [1, 2, 1]);
    const v2 = buildSnapshot(contents([row('u', { type: 'least_conn', nodes: { ...nodes, '127.0.0.1:3': 1 }, retries: 1 })]), v1).snapshot;
    const up2 = v2.upstreams.get(KEY)!.upstream!;
    assert.notEqual(up2, up1);
    // node 3 is empty, then node 2 (1 held) beats node 1 (2 held)
    assert.deepEqual([up2.balancer.pick(conn, [])!.port, up2.balancer.pick(conn, [])!.port], [3, 2]);
    for (const n of held) up1.balancer.release!(n); // old sessions end on the old version
    assert.equal(up2.balancer.states.get('127.0.0.1:1')!.active, 0);
    assert.equal(up2.balancer.states.get('127.0.0.1:2')!.active, 1);
  });

  it('compiles checks and passes hash_on/key to chash', () => {
    const v = buildSnapshot(contents([row('u', {
      type: 'chash', hash_on: 'vars', key: 'remote_addr', nodes: { '127.0.0.1:1': 1, '127.0.0.1:2': 1 },
      checks: { active: { type: 'tcp', healthy: { successes: 1 } } },
    })]), null);
    const up = v.snapshot.upstreams.get(KEY)!.upstream!;
    assert.equal(up.checks!.active.successes, 1);
    assert.equal('health' in up, false, 'the running checker lives beside the snapshot (src/health/registry.ts)');
    assert.deepEqual(v.problems, []);
    const first = up.balancer.pick(conn, []);
    for (let i = 0; i < 5; i++) assert.equal(up.balancer.pick({ ...conn, remotePort: i }, []), first);
  });

  it('an http probe type (the default) is served as asked, without a note', () => {
    const v = buildSnapshot(contents([row('u', { nodes: { '127.0.0.1:1': 1 }, checks: { active: {} } })]), null);
    assert.deepEqual(v.problems, []);
    assert.equal(v.snapshot.upstreams.get('/apisix/upstreams/u')!.upstream!.checks!.active.type, 'http');
  });
});
