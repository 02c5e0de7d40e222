// updateSnapshot: only changed rows and their dependants are compiled, deleted rows go, and the result
// equals a full build of the same rows, over random sequences of writes.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { type BuildDeps, buildSnapshot, listProblems, updateSnapshot } from '../../src/snapshot/build';
import { selectRoute } from '../../src/proxy/match/route';
import { normalizeNodes, validateStreamRoute, validateUpstream } from '../../src/schema/index';
import { findCertificate } from '../../src/snapshot/ssl';
import type { JsonObject, Resource, StoreChanges, StoreContents, StoredObject } from '../../src/store/types';
import type { CompiledUpstream, ConnInfo, Snapshot } from '../../src/snapshot/types';
import { pem } from '../tls/fixtures';
import { prng } from '../helpers/random';

/** The store as plain maps: what the tests write, and what a full read or a change read of it returns. */
class Rows {
  revision = 0;
  readonly tables: Record<Resource, Map<string, JsonObject>> = {
    stream_routes: new Map(), upstreams: new Map(), ssls: new Map(), services: new Map(), plugin_metadata: new Map(), stream_listeners: new Map(),
  };
  private changed: Array<[Resource, string]> = [];

  put(res: Resource, id: string, value: JsonObject): void {
    this.tables[res].set(id, { id, ...value });
    this.touch(res, id);
  }
  delete(res: Resource, id: string): void {
    if (this.tables[res].delete(id)) this.touch(res, id);
  }
  private touch(res: Resource, id: string): void {
    this.revision++;
    this.changed.push([res, id]);
  }
  private row(id: string, value: JsonObject): StoredObject {
    return { id, value, createdIndex: 1, modifiedIndex: this.revision, raw: JSON.stringify(value) };
  }
  private list(res: Resource): StoredObject[] {
    return [...this.tables[res]].sort(([a], [b]) => (a < b ? -1 : 1)).map(([id, v]) => this.row(id, v));
  }
  contents(): StoreContents {
    return { revision: this.revision, streamRoutes: this.list('stream_routes'), upstreams: this.list('upstreams'), ssls: this.list('ssls'), unreadable: [] };
  }
  /** What Store.readChanges returns since the last call: each changed row once. */
  changes(): StoreChanges {
    const seen = new Map(this.changed.map(([res, id]) => [`${res}\0${id}`, [res, id] as const]));
    this.changed = [];
    return {
      revision: this.revision,
      changes: [...seen.values()].map(([res, id]) => {
        const v = this.tables[res].get(id);
        return { res, id, row: v === undefined ? null : this.row(id, v), unreadable: null };
      }),
    };
  }
}

/** Build deps that count their calls. */
function counting() {
  const n = { routes: 0, upstreams: 0, nodes: 0 };
  const deps: BuildDeps = {
    validateStreamRoute: (b) => (n.routes++, validateStreamRoute(b)),
    validateUpstream: (b) => (n.upstreams++, validateUpstream(b)),
    normalizeNodes: (x) => (n.nodes++, normalizeNodes(x)),
  };
  return { n, deps };
}

const conn = (over: Partial<ConnInfo> = {}): ConnInfo => ({
  protocol: 'tcp', remoteAddr: '10.0.0.1', remotePort: 1, serverAddr: '127.0.0.1', serverPort: 9100, sni: null, ...over,
});

function up(port: number, extra: JsonObject = {}): JsonObject {
  return { nodes: { [`127.0.0.1:${port}`]: 1 }, ...extra };
}

describe('updateSnapshot', () => {
  it('a changed upstream recompiles that upstream and relinks the routes using it, nothing else', () => {
    const rows = new Rows();
    rows.put('upstreams', 'u1', up(1));
    rows.put('upstreams', 'u2', up(2));
    for (let i = 0; i < 10; i++) rows.put('stream_routes', `r${i}`, { server_port: 9000 + i, upstream_id: i < 3 ? 'u1' : 'u2' });
    rows.put('stream_routes', 'inline', { server_port: 9100, upstream: up(3) });
    const { n, deps } = counting();
    const v1 = buildSnapshot(rows.contents(), null, deps).snapshot;
    rows.changes();
    assert.deepEqual(n, { routes: 11, upstreams: 2, nodes: 3 });

    rows.put('upstreams', 'u1', up(4));
    const { snapshot: v2, upstreamKeys, routeKeys } = updateSnapshot(v1, rows.changes(), deps);
    assert.deepEqual(n, { routes: 11, upstreams: 3, nodes: 4 }, 'one upstream validated and compiled again, no route');
    assert.deepEqual(upstreamKeys, ['/apisix/upstreams/u1']);
    assert.deepEqual(routeKeys!.sort(), ['/apisix/stream_routes/r0', '/apisix/stream_routes/r1', '/apisix/stream_routes/r2'], 'the routes of u1 were linked again');
    const same = v2.routes.filter((r, i) => r === v1.routes[i]).map((r) => r.id);
    assert.deepEqual(same, ['inline', 'r3', 'r4', 'r5', 'r6', 'r7', 'r8', 'r9'], 'routes of u2 and the inline one are the same objects');
    assert.deepEqual(v2.routes.slice(1, 4).map((r) => r.upstream!.nodes[0]!.port), [4, 4, 4]);
    assert.equal(v1.routes[1]!.upstream!.nodes[0]!.port, 1, 'the previous snapshot is untouched');
    assert.equal(v2.upstreams.get('/apisix/upstreams/u2'), v1.upstreams.get('/apisix/upstreams/u2'));
  });

  it('a changed route compiles only that route; the rest of the index is shared', () => {
    const rows = new Rows();
    for (let i = 0; i < 50; i++) rows.put('stream_routes', `r${String(i).padStart(2, '0')}`, { server_port: 9000 + i, upstream: up(1) });
    const { n, deps } = counting();
    const v1 = buildSnapshot(rows.contents(), null, deps).snapshot;
    rows.changes();
    rows.put('stream_routes', 'r10', { server_port: 9999, upstream: up(2) });
    const v2 = updateSnapshot(v1, rows.changes(), deps).snapshot;
    assert.deepEqual(n, { routes: 51, upstreams: 0, nodes: 51 });
    assert.equal(selectRoute(v2, conn({ serverPort: 9999 }))?.id, 'r10');
    assert.equal(selectRoute(v2, conn({ serverPort: 9010 })), undefined);
    assert.equal(selectRoute(v1, conn({ serverPort: 9010 }))?.id, 'r10', 'the previous snapshot still matches as it did');
    assert.equal(v2.routeIndex.noRemote.byPort.get(9011), v1.routeIndex.noRemote.byPort.get(9011));
  });

  it('deleted rows disappear: a route stops matching, routes of a deleted upstream say it is not found', () => {
    const rows = new Rows();
    rows.put('upstreams', 'u1', up(1));
    rows.put('stream_routes', 'a', { server_port: 9100, upstream_id: 'u1' });
    rows.put('stream_routes', 'b', { server_port: 9101, upstream: up(2) });
    const full = buildSnapshot(rows.contents(), null);
    assert.equal(full.routeKeys, null, 'a full build: any route may differ');
    const v1 = full.snapshot;
    rows.changes();
    rows.delete('stream_routes', 'b');
    rows.delete('upstreams', 'u1');
    const { snapshot: v2, fresh, upstreamKeys, routeKeys } = updateSnapshot(v1, rows.changes());
    assert.deepEqual(routeKeys!.sort(), ['/apisix/stream_routes/a', '/apisix/stream_routes/b'], 'b removed, a linked again');
    assert.deepEqual(v2.routes.map((r) => [r.id, r.problem]), [['a', 'upstream u1 not found']]);
    assert.equal(selectRoute(v2, conn({ serverPort: 9101 })), undefined);
    assert.deepEqual([...v2.upstreams.keys()], []);
    assert.deepEqual(upstreamKeys.sort(), ['/apisix/stream_routes/b', '/apisix/upstreams/u1']);
    assert.deepEqual(fresh, ['stream_routes/a: upstream u1 not found']);
    assert.equal(v2.revision, rows.revision);
  });

  it('a changed client-cert SSL object recompiles the upstreams that use it (stored and inline), nothing else', () => {
    const rows = new Rows();
    const tls = { scheme: 'tls', tls: { client_cert_id: 'c1' } };
    rows.put('ssls', 'c1', { ...pem.client, type: 'client' });
    rows.put('upstreams', 'u1', up(1, tls));
    rows.put('upstreams', 'u2', up(2));
    rows.put('stream_routes', 'a', { server_port: 9100, upstream_id: 'u1' });
    rows.put('stream_routes', 'b', { server_port: 9101, upstream: up(3, tls) });
    rows.put('stream_routes', 'c', { server_port: 9102, upstream_id: 'u2' });
    const { n, deps } = counting();
    const v1 = buildSnapshot(rows.contents(), null, deps).snapshot;
    rows.changes();
    assert.equal(v1.routes[0]!.upstream!.tls!.cert, pem.client.cert);
    rows.put('ssls', 'c1', { ...pem.badClient, type: 'client' });
    const v2 = updateSnapshot(v1, rows.changes(), deps).snapshot;
    assert.deepEqual(n, { routes: 3, upstreams: 2, nodes: 5 }, 'two upstreams compiled again (not validated), no route validated');
    assert.deepEqual(v2.routes.map((r) => r.upstream!.tls?.cert ?? null), [pem.badClient.cert, pem.badClient.cert, null]);
    assert.equal(v2.routes[2], v1.routes[2]);
    rows.delete('ssls', 'c1');
    const v3 = updateSnapshot(v2, rows.changes(), deps).snapshot;
    assert.deepEqual(v3.routes.map((r) => r.problem), ['tls.client_cert_id: ssl c1 not found', 'tls.client_cert_id: ssl c1 not found', null]);
  });

  it('a row that became unreadable leaves the snapshot and is reported', () => {
    const rows = new Rows();
    rows.put('stream_routes', 'a', { server_port: 9100, upstream: up(1) });
    const v1 = buildSnapshot(rows.contents(), null).snapshot;
    const changes: StoreChanges = { revision: 2, changes: [{ res: 'stream_routes', id: 'a', row: null, unreadable: 'ERR_STORE_BAD_ROW: stream_routes row "a": value is not valid JSON' }] };
    const { snapshot: v2, fresh } = updateSnapshot(v1, changes);
    assert.deepEqual(v2.routes, []);
    assert.deepEqual(fresh, ['skipped: ERR_STORE_BAD_ROW: stream_routes row "a": value is not valid JSON']);
    assert.deepEqual(listProblems(v2), fresh);
  });

  it('is frozen, like a full build', () => {
    const rows = new Rows();
    rows.put('stream_routes', 'a', { server_port: 9100, upstream: up(1) });
    const v1 = buildSnapshot(rows.contents(), null).snapshot;
    rows.put('stream_routes', 'b', { server_port: 9101, upstream: up(1) });
    const v2 = updateSnapshot(v1, rows.changes()).snapshot;
    for (const s of [v1, v2]) {
      assert.ok(Object.isFrozen(s) && Object.isFrozen(s.routes) && s.routes.every((r) => Object.isFrozen(r)));
      assert.throws(() => (s.routes as unknown[]).push(1), TypeError);
    }
  });
});

// ---- random sequences of writes: incremental == full ----

const ROUTE_IDS = ['1', '10', '2', '20', '3', 'a', 'aa', 'b', 'm', 'z'];
const UPSTREAM_IDS = ['u1', 'u2', 'u3'];
const SSL_IDS = ['s1', 's2'];
const PORTS = [9100, 9101];
const REMOTES = ['10.0.0.0/8', '10.1.0.0/16', '192.168.0.0/16', '2001:db8::/32'];

function randomWrite(rows: Rows, rnd: () => number): void {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const kind = rnd();
  if (kind < 0.55) {
    const id = pick(ROUTE_IDS);
    if (rnd() < 0.15) return rows.delete('stream_routes', id);
    const v: JsonObject = {};
    if (rnd() < 0.6) v.server_port = pick(PORTS);
    if (rnd() < 0.4) v.remote_addr = pick(REMOTES);
    if (rnd() < 0.15) v.sni = pick(['a.test.com', '*.test.com']);
    if (rnd() < 0.1) v.snis = ['b.test.com', '*'];
    if (rnd() < 0.05) v.remote_addr = ':/8'; // invalid: skipped
    const u = rnd();
    if (u < 0.45) v.upstream_id = pick([...UPSTREAM_IDS, 'missing']);
    else if (u < 0.85) v.upstream = rnd() < 0.2 ? up(pick(PORTS), { scheme: 'tls', tls: { client_cert_id: pick(SSL_IDS) } }) : up(Math.floor(rnd() * 3) + 1);
    if (rnd() < 0.1) v.tls_passthrough = true;
    return rows.put('stream_routes', id, v);
  }
  if (kind < 0.85) {
    const id = pick(UPSTREAM_IDS);
    if (rnd() < 0.15) return rows.delete('upstreams', id);
    const r = rnd();
    const v = r < 0.1 ? up(1, { type: 'foo' }) : r < 0.25 ? up(2, { scheme: 'tls', tls: { client_cert_id: pick(SSL_IDS) } }) : up(Math.floor(rnd() * 3) + 1, { retries: Math.floor(rnd() * 3) });
    return rows.put('upstreams', id, v);
  }
  const id = pick(SSL_IDS);
  if (rnd() < 0.25) return rows.delete('ssls', id);
  const r = rnd();
  const v = r < 0.4 ? { ...pem.client, type: 'client' } : r < 0.8 ? { ...pem.a, snis: ['a.test.com'], status: rnd() < 0.3 ? 0 : 1 } : { ...pem.a, key: pem.wild.key, sni: 'a.test.com' };
  rows.put('ssls', id, v);
}

const PROBES: ConnInfo[] = PORTS.flatMap((serverPort) =>
  ['10.0.0.1', '10.1.0.1', '192.168.3.4', '2001:db8::1', '172.16.0.1'].flatMap((remoteAddr) =>
    [null, 'a.test.com', 'x.test.com', 'b.test.com'].map((sni) => conn({ serverPort, remoteAddr, sni })),
  ),
);

function upstreamView(u: CompiledUpstream | null) {
  if (u === null) return null;
  return [u.key, u.nodes.map((x) => x.address), u.retries, u.scheme, u.tls?.cert ?? null, u.checks?.text ?? null];
}

/** Everything a snapshot means, without object identities (a full build has fresh objects and balancers). */
function view(s: Snapshot) {
  return {
    revision: s.revision,
    routes: s.routes.map((r) => [r.id, r.problem, r.tlsPassthrough, upstreamView(r.upstream)]),
    picks: PROBES.map((c) => selectRoute(s, c)?.id ?? null),
    problems: [...s.problems].sort(),
    upstreams: [...s.upstreams].map(([k, e]) => [k, e.source, e.skipped ?? null, e.problems, upstreamView(e.upstream)]).sort(),
    ssls: [...s.ssls].map(([k, e]) => [k, e.source, e.problem, e.enabled]).sort(),
    certificates: ['a.test.com', 'x.test.com'].map((sni) => findCertificate(s.certificates, sni)?.id ?? null),
    index: s.routeIndex.entries.map((e) => e.route.id),
    users: [...s.routesByUpstream].map(([id, keys]) => [id, [...keys].sort()]).sort(),
  };
}

describe('updateSnapshot equals a full build', () => {
  for (const seed of [1, 2, 3, 4]) {
    it(`random writes, seed ${seed}: 150 steps of 1-4 writes`, () => {
      const rnd = prng(seed);
      const rows = new Rows();
      let current = buildSnapshot(rows.contents(), null).snapshot;
      for (let step = 0; step < 150; step++) {
        const writes = 1 + Math.floor(rnd() * 4);
        for (let w = 0; w < writes; w++) randomWrite(rows, rnd);
        const prev = current;
        const result = updateSnapshot(prev, rows.changes());
        current = result.snapshot;
        const full = buildSnapshot(rows.contents(), null).snapshot;
        assert.deepEqual(view(current), view(full), `step ${step}`);
        // fresh: what a row has now that it did not have before, i.e. what the holder logs
        const expected = [...full.problems].flatMap(([row, list]) => list.filter((p) => !(prev.problems.get(row) ?? []).includes(p)));
        assert.deepEqual([...result.fresh].sort(), expected.sort(), `fresh problems, step ${step}`);
      }
    });
  }
});

describe('updateSnapshot when the route index cannot be updated in place', () => {
  it('compiles the index again once an order gap is used up, with the same result', () => {
    const rows = new Rows();
    rows.put('stream_routes', 'a', { server_port: 1, upstream: up(1) });
    rows.put('stream_routes', 'b', { upstream: up(2) });
    let current = buildSnapshot(rows.contents(), null).snapshot;
    rows.changes();
    let id = 'a';
    for (let i = 0; i < 80; i++) {
      id += 'a'; // each just after the previous one, before "b": halves the same gap every time
      rows.put('stream_routes', id, { server_port: 9100, upstream: up(3) });
      current = updateSnapshot(current, rows.changes()).snapshot;
      assert.deepEqual(view(current), view(buildSnapshot(rows.contents(), null).snapshot), `insert ${i}`);
    }
    assert.equal(selectRoute(current, conn())?.id, 'aa');
    // "aa" first took order 0.5 (between a = 0 and b = 1); the fallback compile renumbered it
    assert.deepEqual(current.routeIndex.entries.slice(0, 2).map((e) => [e.route.id, e.order]), [['a', 0], ['aa', 1]]);
  });
});
