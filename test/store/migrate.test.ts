// Migrations: fresh file, already migrated, partial upgrade, a newer file refused untouched, a failing step.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MIGRATIONS } from '../../src/embedded.gen';
import { openSqlite as openBetterSqlite } from '../../src/runtime/index';
import type { SqlDb } from '../../src/runtime/types';
import { MigrationError, applyMigrations, readSchemaVersion } from '../../src/store/migrate';

function tableNames(db: SqlDb): string[] {
  return db
    .prepare(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`)
    .all()
    .map((r) => String(r.name));
}

/** The schema version this build knows (the test holds whatever migrations are added later). */
const N = MIGRATIONS.length;

describe('applyMigrations', () => {
  let dir: string;
  const open: SqlDb[] = [];
  const openDb = (name: string): SqlDb => {
    const db = openBetterSqlite(join(dir, name));
    open.push(db);
    return db;
  };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'weir-migrate-'));
  });
  after(() => {
    for (const db of open) db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('migrates a fresh file to the latest version with the expected tables and meta rows', () => {
    const db = openDb('fresh.db');
    const result = applyMigrations(db, MIGRATIONS, 'fresh.db');
    assert.deepEqual(result, { from: 0, to: MIGRATIONS.length, applied: MIGRATIONS.map((m) => m.name) });
    assert.equal(readSchemaVersion(db), N);
    assert.deepEqual(tableNames(db), ['changes', 'fleet_objects', 'fleet_state', 'meta', 'plugin_metadata', 'services', 'ssls', 'stream_listeners', 'stream_routes', 'upstreams']);
    assert.deepEqual(db.prepare('SELECT key, value FROM meta ORDER BY key').all(), [
      { key: 'post_id', value: 0 },
      { key: 'revision', value: 0 },
    ]);
    // The reference check's query uses the upstream_id index.
    const plan = db.prepare(`EXPLAIN QUERY PLAN SELECT id FROM stream_routes WHERE upstream_id = ?`).all('1');
    assert.match(String(plan.map((p) => p.detail).join(' ')), /stream_routes_by_upstream_id/);
    // ... and the service delete check's the service_id one
    const byService = db.prepare(`EXPLAIN QUERY PLAN SELECT id FROM stream_routes WHERE service_id = ?`).all('1');
    assert.match(String(byService.map((p) => p.detail).join(' ')), /stream_routes_by_service_id/);
  });

  it('does nothing on an already migrated file', () => {
    const db = openDb('fresh.db');
    assert.deepEqual(applyMigrations(db, MIGRATIONS), { from: N, to: N, applied: [] });
  });

  it('applies only the missing versions', () => {
    const db = openDb('partial.db');
    const extra = [...MIGRATIONS, { version: N + 1, name: '9999_extra.sql', sql: 'CREATE TABLE extra (x INTEGER);' }];
    applyMigrations(db, MIGRATIONS);
    assert.deepEqual(applyMigrations(db, extra), { from: N, to: N + 1, applied: ['9999_extra.sql'] });
    assert.ok(tableNames(db).includes('extra'));
  });

  it('refuses a newer file with ERR_DB_TOO_NEW and changes nothing', () => {
    const path = join(dir, 'newer.db');
    const db = openDb('newer.db');
    db.exec(`CREATE TABLE future (x INTEGER); PRAGMA user_version = ${N + 2}`);
    db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    const before = readFileSync(path);
    assert.throws(
      () => applyMigrations(db, MIGRATIONS, 'data/weir.db'),
      (err: unknown) =>
        err instanceof MigrationError &&
        err.code === 'ERR_DB_TOO_NEW' &&
        err.message === `ERR_DB_TOO_NEW: data/weir.db is at schema version ${N + 2} but this weir knows up to ${N}; use a newer weir`,
    );
    db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    assert.deepEqual(readFileSync(path), before);
    assert.deepEqual(tableNames(db), ['future']);
    assert.equal(readSchemaVersion(db), N + 2);
  });

  it('rolls back a failing migration whole: no half-created tables, version unchanged', () => {
    const db = openDb('broken.db');
    const broken = [
      ...MIGRATIONS,
      { version: N + 1, name: '9999_broken.sql', sql: 'CREATE TABLE half (x INTEGER); CREATE TABLE oops (;' },
    ];
    assert.throws(
      () => applyMigrations(db, broken, 'broken.db'),
      (err: unknown) => err instanceof MigrationError && err.code === 'ERR_MIGRATION_FAILED' && /9999_broken\.sql/.test(err.message),
    );
    assert.equal(readSchemaVersion(db), N);
    assert.equal(tableNames(db).includes('half'), false);
  });

  it('rejects a migration list with a gap', () => {
    const db = openDb('gap.db');
    assert.throws(
      () => applyMigrations(db, [{ version: 2, name: '0002_x.sql', sql: '' }]),
      /ERR_MIGRATION_LIST: migration 0002_x.sql has version 2, expected 1/,
    );
    assert.equal(readSchemaVersion(db), 0);
  });
});

describe('0002_change_log', () => {
  let dir: string;
  let db: SqlDb;
  const log = (): Array<[number, string, string]> =>
    db.prepare('SELECT revision, resource, id FROM changes ORDER BY revision, id').all().map((r) => [Number(r.revision), String(r.resource), String(r.id)]);
  const revision = (): number => Number(db.prepare(`SELECT value FROM meta WHERE key = 'revision'`).get()?.value);

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'weir-changelog-'));
    db = openBetterSqlite(join(dir, 'v1.db'));
  });
  after(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('upgrades a v1 file with rows: rows and revision kept, the log starts empty', () => {
    applyMigrations(db, MIGRATIONS.slice(0, 1));
    db.exec(`INSERT INTO upstreams (id, value) VALUES ('u1', '{}'), ('u2', '{}')`);
    assert.equal(revision(), 2);
    assert.deepEqual(applyMigrations(db, MIGRATIONS.slice(0, 2)), { from: 1, to: 2, applied: ['0002_change_log.sql'] });
    assert.equal(revision(), 2);
    assert.deepEqual(log(), []);
    assert.equal(db.prepare('SELECT COUNT(*) AS n FROM upstreams').get()?.n, 2);
  });

  it('logs each changed row under the revision its change made, for inserts, updates and deletes of every table', () => {
    db.exec(`INSERT INTO stream_routes (id, value) VALUES ('r1', '{}')`);
    db.exec(`UPDATE upstreams SET value = '{"a":1}' WHERE id = 'u1'`);
    db.exec(`DELETE FROM upstreams WHERE id = 'u2'`);
    db.exec(`INSERT INTO ssls (id, value) VALUES ('s1', '{}')`);
    assert.deepEqual(log(), [
      [3, 'stream_routes', 'r1'],
      [4, 'upstreams', 'u1'],
      [5, 'upstreams', 'u2'],
      [6, 'ssls', 's1'],
    ]);
    assert.equal(revision(), 6);
  });

  it('an update that renames a row logs the old and the new id, a revision each', () => {
    db.exec(`UPDATE ssls SET id = 's2' WHERE id = 's1'`);
    assert.deepEqual(log().slice(-2), [
      [7, 'ssls', 's1'],
      [8, 'ssls', 's2'],
    ]);
  });

  it('keeps the last 1000 revisions: older entries go as new ones come', () => {
    db.transaction(() => {
      for (let i = 0; i < 1200; i++) db.prepare(`UPDATE upstreams SET value = ? WHERE id = 'u1'`).run(`{"n":${i}}`);
    });
    const rev = revision();
    assert.equal(rev, 1208);
    const revisions = log().map(([r]) => r);
    assert.equal(revisions.length, 1000);
    assert.deepEqual([revisions[0], revisions.at(-1)], [rev - 999, rev]);
  });

  it('a revision set back by hand does not make writes fail', () => {
    db.exec(`UPDATE meta SET value = 100 WHERE key = 'revision'`);
    db.exec(`UPDATE upstreams SET value = '{}' WHERE id = 'u1'`);
    assert.equal(revision(), 101);
    assert.deepEqual(log().filter(([r]) => r === 101), [[101, 'upstreams', 'u1']]);
  });

  it('0003: services and plugin_metadata rows are logged like the others', () => {
    assert.deepEqual(applyMigrations(db, MIGRATIONS.slice(0, 3)), { from: 2, to: 3, applied: ['0003_services_plugin_metadata.sql'] });
    db.exec(`INSERT INTO services (id, value) VALUES ('s1', '{}')`);
    db.exec(`UPDATE services SET id = 's2' WHERE id = 's1'`);
    db.exec(`INSERT INTO plugin_metadata (id, value) VALUES ('syslog', '{}')`);
    db.exec(`UPDATE plugin_metadata SET value = '{"a":1}' WHERE id = 'syslog'`);
    db.exec(`DELETE FROM services WHERE id = 's2'`);
    assert.deepEqual(log().filter(([, res]) => res === 'services' || res === 'plugin_metadata'), [
      [102, 'services', 's1'],
      [103, 'services', 's1'],
      [104, 'services', 's2'],
      [105, 'plugin_metadata', 'syslog'],
      [106, 'plugin_metadata', 'syslog'],
      [107, 'services', 's2'],
    ]);
    assert.equal(revision(), 107);
  });
});

describe('0004_stream_listeners', () => {
  let dir: string;
  let db: SqlDb;
  const log = (): Array<[number, string, string]> =>
    db.prepare('SELECT revision, resource, id FROM changes ORDER BY revision, id').all().map((r) => [Number(r.revision), String(r.resource), String(r.id)]);

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'weir-listeners-'));
    db = openBetterSqlite(join(dir, 'v3.db'));
  });
  after(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('logs stream_listeners inserts, updates (a rename: both ids) and deletes in the change log', () => {
    applyMigrations(db, MIGRATIONS.slice(0, 3));
    assert.deepEqual(applyMigrations(db, MIGRATIONS.slice(0, 4)), { from: 3, to: 4, applied: ['0004_stream_listeners.sql'] });
    db.exec(`INSERT INTO stream_listeners (id, value) VALUES ('l1', '{"addr":9100}')`);
    db.exec(`UPDATE stream_listeners SET value = '{"addr":9101}' WHERE id = 'l1'`);
    db.exec(`UPDATE stream_listeners SET id = 'l2' WHERE id = 'l1'`);
    db.exec(`DELETE FROM stream_listeners WHERE id = 'l2'`);
    assert.deepEqual(log(), [
      [1, 'stream_listeners', 'l1'],
      [2, 'stream_listeners', 'l1'],
      [3, 'stream_listeners', 'l1'],
      [4, 'stream_listeners', 'l2'],
      [5, 'stream_listeners', 'l2'],
    ]);
  });
});
