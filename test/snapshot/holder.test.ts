// SnapshotHolder on a real store: one reference swapped per change, frozen snapshots, health synced
// beside (before the swap), external writes picked up from the change log, the full-read fallback, and
// problems logged once; with a FilterCompiler, served snapshots and the full-rebuild fallback for services.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { openSqlite } from '../../src/runtime/index';
import type { SqlDb } from '../../src/runtime/types';
import { openStore } from '../../src/store/store';
import type { Store } from '../../src/store/types';
import { SnapshotHolder, type SnapshotFollower } from '../../src/snapshot/holder';
import type { Snapshot } from '../../src/snapshot/types';
import { HealthRegistry } from '../../src/health/registry';
import type { ProbePlane } from '../../src/health/checker';
import { selectRoute } from '../../src/proxy/match/route';
import { configureErrorLog } from '../../src/log/logger';
import { tempDir } from '../helpers/weir';
import { FilterCompiler } from '../../src/plugins/compile';
import { LocalConnCounters } from '../../src/plugins/conn-counters';
import { pluginSetOf } from '../../src/plugins/registry';

const conn = { protocol: 'tcp' as const, remoteAddr: '127.0.0.1', remotePort: 1, serverAddr: '127.0.0.1', serverPort: 9100, sni: null };
const nodes = (port: number) => ({ [`127.0.0.1:${port}`]: 1 });

describe('SnapshotHolder', () => {
  const dir = tempDir('weir-holder-');
  let store: Store;
  /** The sqlite3 shell: another connection to the same file. */
  let shell: SqlDb;
  const warned: string[] = [];
  let holder: SnapshotHolder;

  before(() => {
    configureErrorLog({ sink: () => {} }); // the registry logs released checkers
    store = openStore(join(dir.path, 'weir.db'));
    shell = openSqlite(join(dir.path, 'weir.db'));
    holder = new SnapshotHolder(store, { warn: (p) => warned.push(p) });
  });
  after(() => {
    configureErrorLog({ sink: (t) => process.stderr.write(t) });
    shell.close();
    store.close();
    dir.remove();
  });

  it('serves an empty snapshot until loaded; load reads everything once', () => {
    assert.equal(holder.snapshot().routes.length, 0);
    store.put('stream_routes', 'r1', { id: 'r1', server_port: 9100, upstream: { nodes: nodes(1) } });
    const s = holder.load();
    assert.equal(holder.snapshot(), s);
    assert.deepEqual(s.routes.map((r) => r.id), ['r1']);
    assert.deepEqual(holder.stats, { full: 1, incremental: 0 });
  });

  it('swaps one reference per change; the old snapshot stays frozen and as it was', () => {
    const old = holder.snapshot();
    store.put('stream_routes', 'r1', { id: 'r1', server_port: 9100, upstream: { nodes: nodes(2) } });
    const next = holder.refresh();
    assert.notEqual(next, old);
    assert.equal(holder.snapshot(), next);
    assert.equal(selectRoute(next, conn)!.upstream!.nodes[0]!.port, 2);
    assert.equal(selectRoute(old, conn)!.upstream!.nodes[0]!.port, 1);
    for (const s of [old, next]) assert.ok(Object.isFrozen(s) && Object.isFrozen(s.routes) && Object.isFrozen(s.routes[0]));
    assert.deepEqual(holder.stats, { full: 1, incremental: 1 });
  });

  it('does nothing when the revision did not move', () => {
    const s = holder.snapshot();
    assert.equal(holder.refresh(), s);
    assert.deepEqual(holder.stats, { full: 1, incremental: 1 });
  });

  it('picks up a write made through another connection from the change log', () => {
    shell.exec(`INSERT INTO stream_routes (id, value) VALUES ('r0', '{"id":"r0","server_port":9100,"upstream":{"nodes":{"127.0.0.1:3":1}}}')`);
    const s = holder.refresh();
    assert.equal(selectRoute(s, conn)?.id, 'r0');
    assert.equal(s.revision, store.revision());
    assert.deepEqual(holder.stats, { full: 1, incremental: 2 });
  });

  it('reads everything when the log no longer reaches back to its revision, with the same result', () => {
    shell.transaction(() => {
      for (let i = 0; i < 1100; i++) shell.prepare(`UPDATE stream_routes SET value = ? WHERE id = 'r0'`).run(`{"id":"r0","server_port":9100,"upstream":{"nodes":{"127.0.0.1:${i % 7 + 10}":1}}}`);
    });
    const s = holder.refresh();
    assert.deepEqual(holder.stats, { full: 2, incremental: 2 });
    assert.equal(selectRoute(s, conn)!.upstream!.nodes[0]!.port, 1099 % 7 + 10);
    assert.equal(s.revision, store.revision());
  });

  it('reads everything when more rows changed than maxChanges', () => {
    const small = new SnapshotHolder(store, { maxChanges: 2, warn: () => {} });
    small.load();
    for (const port of [4, 5, 6]) store.put('upstreams', 'u', { id: 'u', nodes: nodes(port) });
    small.refresh();
    assert.deepEqual(small.stats, { full: 2, incremental: 0 });
    store.put('upstreams', 'u', { id: 'u', nodes: nodes(7) });
    small.refresh();
    assert.deepEqual(small.stats, { full: 2, incremental: 1 });
  });

  it('logs a problem when its row first has it, not again on later changes', () => {
    warned.length = 0;
    shell.exec(`INSERT INTO stream_routes (id, value) VALUES ('0bad', '{"id":"0bad","remote_addr":":/8"}')`);
    holder.refresh();
    store.put('stream_routes', 'r2', { id: 'r2', upstream_id: 'nope' });
    holder.refresh();
    store.put('stream_routes', 'r3', { id: 'r3', server_port: 9101, upstream: { nodes: nodes(1) } });
    holder.refresh();
    holder.load(); // a full read logs nothing already known either
    assert.deepEqual(warned, ['stream_routes/0bad: skipped: invalid remote_addr: :/8', 'stream_routes/r2: upstream nope not found']);
    // gone, then back: logged again
    store.put('upstreams', 'nope', { id: 'nope', nodes: nodes(1) });
    holder.refresh();
    store.delete('upstreams', 'nope');
    holder.refresh();
    assert.deepEqual(warned.slice(2), ['stream_routes/r2: upstream nope not found']);
  });
});

describe('SnapshotHolder and health', () => {
  const dir = tempDir('weir-holder-health-');
  let store: Store;
  const probes: number[] = [];
  const plane: ProbePlane = {
    connect: (host, port, _t, done) => (probes.push(port), done(null, { remoteAddress: host, remotePort: port })),
    destroy: () => {},
    exchange: () => {},
  };

  before(() => {
    configureErrorLog({ sink: () => {} });
    store = openStore(join(dir.path, 'weir.db'));
  });
  after(() => {
    configureErrorLog({ sink: (t) => process.stderr.write(t) });
    store.close();
    dir.remove();
  });

  it('syncs health beside the snapshot before the new one serves: all of it on load, the changed upstreams after a write', () => {
    const registry = new HealthRegistry(plane);
    const calls: Array<[string, string[], boolean]> = [];
    let holder: SnapshotHolder | null = null;
    const follower: SnapshotFollower = {
      sync(s: Snapshot) {
        calls.push(['sync', [], holder!.snapshot() === s]);
        registry.sync(s);
      },
      update(s: Snapshot, keys: Iterable<string>) {
        calls.push(['update', [...keys], holder!.snapshot() === s]);
        registry.update(s, keys);
      },
    };
    holder = new SnapshotHolder(store, { follower, warn: () => {} });
    const checks = { active: { type: 'tcp' } };
    store.put('upstreams', 'u1', { id: 'u1', nodes: nodes(1), checks });
    store.put('upstreams', 'u2', { id: 'u2', nodes: nodes(2) });
    store.put('stream_routes', 'r1', { id: 'r1', server_port: 9100, upstream_id: 'u1' });
    holder.load();
    const up1 = holder.snapshot().routes[0]!.upstream!;
    const checker = registry.checkerOf(up1);
    assert.ok(checker !== null);
    assert.equal('health' in up1, false, 'nothing written into the compiled upstream');

    store.put('upstreams', 'u2', { id: 'u2', nodes: nodes(3), checks });
    holder.refresh();
    store.put('stream_routes', 'r1', { id: 'r1', server_port: 9100, upstream_id: 'u2' });
    holder.refresh();
    assert.deepEqual(calls, [
      ['sync', [], false],
      ['update', ['/apisix/upstreams/u2'], false],
    ], 'the follower saw each new snapshot before it served; a route change touched no upstream');
    assert.equal(registry.size, 2);
    const up2 = holder.snapshot().routes[0]!.upstream!;
    assert.notEqual(registry.checkerOf(up2), checker);
    assert.equal(registry.checkerOf(up1), checker, 'still the same checker for the old version of u1');
    registry.stop();
  });
});

describe('SnapshotHolder with a FilterCompiler (served snapshots)', () => {
  const dir = tempDir('weir-holder-served-');
  let store: Store;
  let holder: SnapshotHolder;
  const warned: string[] = [];

  before(() => {
    store = openStore(join(dir.path, 'weir.db'));
    const compiler = new FilterCompiler(pluginSetOf({}), new LocalConnCounters());
    holder = new SnapshotHolder(store, { compiler, warn: (p) => warned.push(p) });
  });
  after(() => {
    store.close();
    dir.remove();
  });

  it('without services or plugin_metadata, changes apply incrementally and plugins compile on the way', () => {
    store.put('stream_routes', 'r1', { id: 'r1', server_port: 9100, upstream: { nodes: nodes(1) } });
    holder.load();
    store.put('stream_routes', 'r2', { id: 'r2', server_port: 9101, plugins: { 'ip-restriction': { whitelist: ['10.0.0.0/8'] } }, upstream: { nodes: nodes(2) } });
    const s = holder.refresh();
    assert.deepEqual(holder.stats, { full: 1, incremental: 1 });
    const r2 = s.routes.find((r) => r.id === 'r2')!;
    assert.deepEqual(r2.filters.access.map((f) => f.name), ['ip-restriction']);
  });

  it('a service change, and every change while services exist, rebuilds from every row (services merged in)', () => {
    store.put('services', 's1', { id: 's1', upstream: { nodes: nodes(3) } });
    holder.refresh();
    assert.deepEqual(holder.stats, { full: 2, incremental: 1 });
    store.put('stream_routes', 'r3', { id: 'r3', server_port: 9102, service_id: 's1' });
    const s = holder.refresh();
    assert.deepEqual(holder.stats, { full: 3, incremental: 1 });
    assert.equal(selectRoute(s, { ...conn, serverPort: 9102 })!.upstream!.nodes[0]!.port, 3);
    store.put('stream_routes', 'r1', { id: 'r1', server_port: 9100, upstream: { nodes: nodes(4) } });
    holder.refresh();
    assert.deepEqual(holder.stats, { full: 4, incremental: 1 });
  });

  it('once the last service is gone, changes apply incrementally again', () => {
    store.delete('stream_routes', 'r3');
    store.delete('services', 's1');
    holder.refresh();
    assert.deepEqual(holder.stats, { full: 5, incremental: 1 });
    store.put('stream_routes', 'r1', { id: 'r1', server_port: 9100, upstream: { nodes: nodes(5) } });
    const s = holder.refresh();
    assert.deepEqual(holder.stats, { full: 5, incremental: 2 });
    assert.equal(selectRoute(s, conn)!.upstream!.nodes[0]!.port, 5);
    assert.deepEqual(warned, []);
  });
});
