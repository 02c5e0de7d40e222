// The SQLite store: CRUD, byte-order listing, revisions (also for raw SQL writes), POST ids, transactions.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqlite as openBetterSqlite } from '../../src/runtime/index';
import type { SqlDb } from '../../src/runtime/types';
import { MigrationError } from '../../src/store/migrate';
import { MIGRATIONS } from '../../src/embedded.gen';
import { StoreError, openStore } from '../../src/store/store';
import type { Store } from '../../src/store/types';

describe('openStore', () => {
  let dir: string;
  let store: Store;
  let raw: SqlDb;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'weir-store-'));
    store = openStore(join(dir, 'data', 'weir.db'));
    // A second connection plays "someone with the sqlite3 shell".
    raw = openBetterSqlite(join(dir, 'data', 'weir.db'));
  });
  after(() => {
    raw.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts empty at revision 0', () => {
    assert.deepEqual(store.readAll(), { revision: 0, streamRoutes: [], upstreams: [], ssls: [], services: [], pluginMetadata: [], streamListeners: [], unreadable: [] });
    assert.equal(store.path, join(dir, 'data', 'weir.db'));
  });

  it('put creates then replaces; indexes follow the revision', () => {
    const a = store.put('upstreams', '1', { id: '1', nodes: { '127.0.0.1:1995': 1 }, create_time: 100, update_time: 100 });
    assert.deepEqual(a, {
      created: true,
      object: {
        id: '1',
        value: { id: '1', nodes: { '127.0.0.1:1995': 1 }, create_time: 100, update_time: 100 },
        createdIndex: 1,
        modifiedIndex: 1,
        raw: '{"id":"1","nodes":{"127.0.0.1:1995":1},"create_time":100,"update_time":100}',
      },
    });
    const b = store.put('upstreams', '1', { id: '1', nodes: {}, create_time: 100, update_time: 200 });
    assert.equal(b.created, false);
    assert.equal(b.object.createdIndex, 1);
    assert.equal(b.object.modifiedIndex, 2);
    assert.equal(store.revision(), 2);
    assert.deepEqual(store.get('upstreams', '1'), {
      id: '1',
      value: { id: '1', nodes: {}, create_time: 100, update_time: 200 },
      createdIndex: 1,
      modifiedIndex: 2,
      raw: '{"id":"1","nodes":{},"create_time":100,"update_time":200}',
    });
    // timestamps are mirrored into columns
    assert.deepEqual(raw.prepare(`SELECT create_time, update_time FROM upstreams WHERE id = '1'`).get(), {
      create_time: 100,
      update_time: 200,
    });
  });

  it('lists in byte order of the id (the route precedence order)', () => {
    for (const id of ['b', 'B', '10', '9', 'a-1', 'a_1']) store.put('stream_routes', id, { id });
    // byte order: digits < upper case < "_" < lower case; "10" < "9".
    assert.deepEqual(
      store.list('stream_routes').map((o) => o.id),
      ['10', '9', 'B', 'a-1', 'a_1', 'b'],
    );
    assert.deepEqual(
      store.readAll().streamRoutes.map((o) => o.id),
      ['10', '9', 'B', 'a-1', 'a_1', 'b'],
    );
  });

  it('delete reports whether a row existed and bumps the revision only when it did', () => {
    const rev = store.revision();
    assert.equal(store.delete('stream_routes', 'b'), true);
    assert.equal(store.revision(), rev + 1);
    assert.equal(store.delete('stream_routes', 'b'), false);
    assert.equal(store.revision(), rev + 1);
    assert.equal(store.get('stream_routes', 'b'), undefined);
  });

  it('bumps the revision for a raw SQL write made by another connection', () => {
    const rev = store.revision();
    raw.exec(`INSERT INTO ssls (id, value) VALUES ('hand', '{"id":"hand","sni":"a.test"}')`);
    assert.equal(store.revision(), rev + 1);
    raw.exec(`UPDATE ssls SET value = '{"id":"hand","sni":"b.test"}' WHERE id = 'hand'`);
    raw.exec(`DELETE FROM upstreams WHERE id = 'nope'`);
    assert.equal(store.revision(), rev + 2);
    // Hand-written rows have no indexes: reported as 0.
    assert.deepEqual(store.get('ssls', 'hand'), {
      id: 'hand',
      value: { id: 'hand', sni: 'b.test' },
      createdIndex: 0,
      modifiedIndex: 0,
      raw: '{"id":"hand","sni":"b.test"}',
    });
    assert.equal(store.readAll().revision, rev + 2);
  });

  it('readAll reports a row it cannot read and returns the rest; get still refuses it', () => {
    raw.exec(`INSERT INTO upstreams (id, value) VALUES ('broken', '{not json')`);
    raw.exec(`INSERT INTO upstreams (id, value) VALUES ('list', '[1,2]')`);
    try {
      const all = store.readAll();
      assert.deepEqual(all.unreadable, [
        { res: 'upstreams', id: 'broken', message: 'ERR_STORE_BAD_ROW: upstreams row "broken": value is not valid JSON' },
        { res: 'upstreams', id: 'list', message: 'ERR_STORE_BAD_ROW: upstreams row "list": value is not a JSON object' },
      ]);
      assert.ok(all.upstreams.some((o) => o.id === '1'), 'readable rows are still there');
      assert.throws(() => store.get('upstreams', 'broken'), /value is not valid JSON/);
    } finally {
      raw.exec(`DELETE FROM upstreams WHERE id IN ('broken', 'list')`);
    }
  });

  it('finds stream routes by upstream_id, string or number, in id order', () => {
    store.put('stream_routes', 'r2', { id: 'r2', upstream_id: '7' });
    store.put('stream_routes', 'r1', { id: 'r1', upstream_id: 7 });
    store.put('stream_routes', 'r3', { id: 'r3', upstream_id: '70' });
    assert.deepEqual(store.upstreamUsers('7').map((u) => u.id), ['r1', 'r2']);
    assert.deepEqual(store.upstreamUsers('8'), []);
  });

  it('finds the users of an upstream: routes then services, directly or in traffic-split', () => {
    const split = (id: string | number) => ({ 'traffic-split': { rules: [{ weighted_upstreams: [{ weight: 1 }, { upstream_id: id, weight: 2 }] }] } });
    store.put('services', 's1', { id: 's1', upstream_id: 9 });
    store.put('services', 's0', { id: 's0', plugins: split('9') });
    store.put('stream_routes', 'r9', { id: 'r9', plugins: split(9) });
    store.put('stream_routes', 'r8', { id: 'r8', upstream_id: '9' });
    assert.deepEqual(store.upstreamUsers('9'), [
      { res: 'stream_routes', id: 'r8', via: 'upstream_id' },
      { res: 'stream_routes', id: 'r9', via: 'plugin' },
      { res: 'services', id: 's0', via: 'plugin' },
      { res: 'services', id: 's1', via: 'upstream_id' },
    ]);
    assert.deepEqual(store.upstreamUsers('99'), []);
  });

  it('finds stream routes by service_id, string or number, in id order', () => {
    store.put('stream_routes', 'q2', { id: 'q2', service_id: 's' });
    store.put('stream_routes', 'q1', { id: 'q1', service_id: 5 });
    store.put('stream_routes', 'q3', { id: 'q3', service_id: '5' });
    assert.deepEqual(store.routesUsingService('5'), ['q1', 'q3']);
    assert.deepEqual(store.routesUsingService('s'), ['q2']);
    assert.deepEqual(store.routesUsingService('x'), []);
  });

  it('hands out 20-digit increasing POST ids and skips ids taken by PUT', () => {
    assert.equal(store.nextId(), '00000000000000000001');
    store.put('upstreams', '00000000000000000002', { id: '00000000000000000002' });
    assert.equal(store.nextId(), '00000000000000000003');
    assert.equal(store.nextId(), '00000000000000000004');
  });

  it('transaction commits all or nothing', () => {
    const rev = store.revision();
    assert.throws(
      () =>
        store.transaction(() => {
          store.put('upstreams', 'tx1', { id: 'tx1' });
          store.nextId();
          throw new Error('abort');
        }),
      /abort/,
    );
    assert.equal(store.get('upstreams', 'tx1'), undefined);
    assert.equal(store.revision(), rev);
    assert.equal(store.nextId(), '00000000000000000005');
    store.transaction(() => {
      store.put('upstreams', 'tx2', { id: 'tx2' });
      store.put('upstreams', 'tx3', { id: 'tx3' });
    });
    assert.equal(store.get('upstreams', 'tx3')?.modifiedIndex, rev + 2);
  });

  it('a hand-corrupted row fails reads with ERR_STORE_BAD_ROW naming it', () => {
    raw.exec(`INSERT INTO upstreams (id, value) VALUES ('zz-bad', 'not json')`);
    assert.throws(
      () => store.list('upstreams'),
      (err: unknown) => err instanceof StoreError && err.message === 'ERR_STORE_BAD_ROW: upstreams row "zz-bad": value is not valid JSON',
    );
    raw.exec(`UPDATE upstreams SET value = '[1]' WHERE id = 'zz-bad'`);
    assert.throws(() => store.get('upstreams', 'zz-bad'), /upstreams row "zz-bad": value is not a JSON object/);
    raw.exec(`DELETE FROM upstreams WHERE id = 'zz-bad'`);
    // The failed read transaction did not leave the connection in a transaction.
    assert.doesNotThrow(() => store.transaction(() => store.put('upstreams', 'after', { id: 'after' })));
  });
});

describe('readChanges', () => {
  let dir: string;
  let store: Store;
  let raw: SqlDb;
  const sorted = (since: number, max = 100) => {
    const got = store.readChanges(since, max);
    if (got === null) return null;
    const changes = got.changes.map((c) => [c.res, c.id, c.row?.raw ?? null, c.unreadable] as const);
    return { revision: got.revision, changes: changes.sort((a, b) => (a[0] + a[1] < b[0] + b[1] ? -1 : 1)) };
  };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'weir-changes-'));
    store = openStore(join(dir, 'weir.db'));
    raw = openBetterSqlite(join(dir, 'weir.db'));
  });
  after(() => {
    raw.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('nothing changed: an empty list at the same revision', () => {
    assert.deepEqual(store.readChanges(0, 100), { revision: 0, changes: [] });
  });

  it('returns each row changed since, once, as it is now; deleted rows as null, whoever wrote them', () => {
    store.put('upstreams', 'u1', { id: 'u1', n: 1 });
    store.put('upstreams', 'u1', { id: 'u1', n: 2 });
    store.put('stream_routes', 'r1', { id: 'r1' });
    store.put('ssls', 's1', { id: 's1' });
    assert.equal(store.revision(), 4);
    // the sqlite3 shell: another connection
    raw.exec(`INSERT INTO stream_routes (id, value) VALUES ('r2', '{"id":"r2"}')`);
    raw.exec(`DELETE FROM ssls WHERE id = 's1'`);
    assert.deepEqual(sorted(0), {
      revision: 6,
      changes: [
        ['ssls', 's1', null, null],
        ['stream_routes', 'r1', '{"id":"r1"}', null],
        ['stream_routes', 'r2', '{"id":"r2"}', null],
        ['upstreams', 'u1', '{"id":"u1","n":2}', null],
      ],
    });
    assert.deepEqual(sorted(4), { revision: 6, changes: [['ssls', 's1', null, null], ['stream_routes', 'r2', '{"id":"r2"}', null]] });
    assert.deepEqual(sorted(6), { revision: 6, changes: [] });
  });

  it('a changed row that cannot be read is reported with the reason, the others are read', () => {
    raw.exec(`UPDATE upstreams SET value = '{oops' WHERE id = 'u1'`);
    store.put('upstreams', 'u2', { id: 'u2' });
    assert.deepEqual(sorted(6), {
      revision: 8,
      changes: [
        ['upstreams', 'u1', null, 'ERR_STORE_BAD_ROW: upstreams row "u1": value is not valid JSON'],
        ['upstreams', 'u2', '{"id":"u2"}', null],
      ],
    });
    raw.exec(`DELETE FROM upstreams WHERE id = 'u1'`);
  });

  it('null when more than maxChanges revisions passed, when the revision went back, or when the log was pruned past it', () => {
    const now = store.revision();
    assert.equal(store.readChanges(now - 3, 2), null);
    assert.notEqual(store.readChanges(now - 3, 3), null);
    assert.equal(store.readChanges(now + 5, 100), null);
    store.transaction(() => {
      for (let i = 0; i < 1005; i++) store.put('upstreams', 'busy', { id: 'busy', i });
    });
    const after = store.revision();
    assert.equal(store.readChanges(now, 10_000), null, 'the log no longer reaches back');
    // the log keeps revisions after-999 .. after: a reader at after-1000 needs exactly those
    assert.deepEqual(sorted(after - 1000, 10_000)?.changes, [['upstreams', 'busy', '{"id":"busy","i":1004}', null]]);
    assert.equal(store.readChanges(after - 1001, 10_000), null);
  });
});

describe('openStore on a newer database', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'weir-store-new-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('throws ERR_DB_TOO_NEW and closes its connection', () => {
    const path = join(dir, 'weir.db');
    const db = openBetterSqlite(path);
    db.exec(`PRAGMA user_version = ${MIGRATIONS.length + 1}`);
    db.close();
    let closed = false;
    const tracking = openBetterSqlite(path);
    const wrapped: SqlDb = { ...tracking, close: () => ((closed = true), tracking.close()) };
    assert.throws(() => openStore(path, { db: wrapped }), (err: unknown) => err instanceof MigrationError && err.code === 'ERR_DB_TOO_NEW');
    assert.equal(closed, true);
  });
});
