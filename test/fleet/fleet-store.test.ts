// The fleet's side of the SQLite file: a full load replaces the etcd-held objects in one transaction, a watch
// batch applies puts and deletes, invalid values keep their row, local writes lose the etcd mark.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { openSqlite } from '../../src/runtime/index';
import { openStore } from '../../src/store/store';
import type { Store } from '../../src/store/types';
import type { SqlDb } from '../../src/runtime/types';
import { FleetStore, fleetRowKey, type FleetItem } from '../../src/fleet/fleet-store';
import { tempDir } from '../helpers/weir';

const up = (id: string, rev: number, port = 80): FleetItem => ({
  res: 'upstreams', id, value: { id, nodes: { [`127.0.0.1:${port}`]: 1 } }, createRevision: rev, modRevision: rev,
});

describe('FleetStore', () => {
  const dir = tempDir('weir-fleet-store-');
  let db: SqlDb;
  let store: Store;
  let fleet: FleetStore;

  before(() => {
    const path = join(dir.path, 'weir.db');
    db = openSqlite(path);
    store = openStore(path, { db });
    fleet = new FleetStore(store, db);
  });
  after(() => {
    store.close();
    dir.remove();
  });

  it('starts unsynced', () => {
    assert.deepEqual(fleet.state(), { revision: 0, clusterId: '', prefix: '', lastFullSync: null });
    assert.equal(fleet.hasSynced('/apisix'), false);
  });

  it('a full load replaces local rows and records the position', () => {
    store.put('upstreams', 'local', { id: 'local', nodes: { '127.0.0.1:1': 1 } });
    const result = fleet.replaceAll([up('1', 5), up('2', 6)], new Set(), { revision: 9, clusterId: 'c1', prefix: '/apisix', now: 1000 });
    assert.deepEqual(result, { written: 2, deleted: 1, droppedLocal: 1 });
    assert.deepEqual(store.list('upstreams').map((o) => [o.id, o.createdIndex, o.modifiedIndex]), [['1', 5, 5], ['2', 6, 6]]);
    assert.deepEqual(fleet.state(), { revision: 9, clusterId: 'c1', prefix: '/apisix', lastFullSync: 1000 });
    assert.equal(fleet.hasSynced('/apisix'), true);
    assert.equal(fleet.hasSynced('/other'), false);
    assert.equal(fleet.originOf('upstreams', '1'), 'etcd');
  });

  it('a second full load writes only what changed', () => {
    const rev = store.revision();
    const result = fleet.replaceAll([up('1', 5), up('2', 12, 81)], new Set(), { revision: 12, clusterId: 'c1', prefix: '/apisix', now: 2000 });
    assert.deepEqual(result, { written: 1, deleted: 0, droppedLocal: 0 });
    assert.equal(store.revision(), rev + 1);
  });

  it('keeps a row whose etcd value was invalid', () => {
    const result = fleet.replaceAll([up('1', 5)], new Set([fleetRowKey('upstreams', '2')]), { revision: 13, clusterId: 'c1', prefix: '/apisix', now: 3000 });
    assert.deepEqual(result, { written: 0, deleted: 0, droppedLocal: 0 });
    assert.deepEqual(store.list('upstreams').map((o) => o.id), ['1', '2']);
    assert.equal(fleet.originOf('upstreams', '2'), 'etcd');
  });

  it('applies a watch batch in one transaction', () => {
    const n = fleet.applyBatch([{ res: 'upstreams', id: '3', item: up('3', 14) }, { res: 'upstreams', id: '2', item: null }, { res: 'upstreams', id: 'none', item: null }], 14);
    assert.equal(n, 2);
    assert.deepEqual(store.list('upstreams').map((o) => o.id), ['1', '3']);
    assert.equal(fleet.state().revision, 14);
  });

  it('a local write (CLI --force, sqlite3) makes the row local', () => {
    store.put('upstreams', '1', { id: '1', nodes: { '127.0.0.1:2': 1 } });
    assert.equal(fleet.originOf('upstreams', '1'), 'local');
    db.exec(`UPDATE upstreams SET value = value WHERE id = '3'`);
    assert.equal(fleet.originOf('upstreams', '3'), 'local');
    // the next full load takes them back
    const result = fleet.replaceAll([up('1', 5), up('3', 14)], new Set(), { revision: 15, clusterId: 'c1', prefix: '/apisix', now: 4000 });
    assert.deepEqual(result, { written: 2, deleted: 0, droppedLocal: 2 });
    assert.equal(fleet.originOf('upstreams', '1'), 'etcd');
  });
});
