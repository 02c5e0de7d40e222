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
    assert.equal(readSchemaVersion(db), MIGRATIONS.length);
    for (const table of ['meta', 'ssls', 'stream_listeners', 'stream_routes', 'upstreams']) assert.ok(tableNames(db).includes(table), table);
    assert.deepEqual(db.prepare('SELECT key, value FROM meta ORDER BY key').all(), [
      { key: 'post_id', value: 0 },
      { key: 'revision', value: 0 },
    ]);
    // The reference check's query uses the upstream_id index.
    const plan = db.prepare(`EXPLAIN QUERY PLAN SELECT id FROM stream_routes WHERE upstream_id = ?`).all('1');
    assert.match(String(plan.map((p) => p.detail).join(' ')), /stream_routes_by_upstream_id/);
  });

  it('does nothing on an already migrated file', () => {
    const db = openDb('fresh.db');
    assert.deepEqual(applyMigrations(db, MIGRATIONS), { from: MIGRATIONS.length, to: MIGRATIONS.length, applied: [] });
  });

  it('applies only the missing versions', () => {
    const db = openDb('partial.db');
    const next = MIGRATIONS.length + 1;
    const extra = [...MIGRATIONS, { version: next, name: '9999_extra.sql', sql: 'CREATE TABLE extra (x INTEGER);' }];
    applyMigrations(db, MIGRATIONS);
    assert.deepEqual(applyMigrations(db, extra), { from: next - 1, to: next, applied: ['9999_extra.sql'] });
    assert.ok(tableNames(db).includes('extra'));
  });

  it('refuses a newer file with ERR_DB_TOO_NEW and changes nothing', () => {
    const path = join(dir, 'newer.db');
    const db = openDb('newer.db');
    const newer = MIGRATIONS.length + 2;
    db.exec(`CREATE TABLE future (x INTEGER); PRAGMA user_version = ${newer}`);
    db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    const before = readFileSync(path);
    assert.throws(
      () => applyMigrations(db, MIGRATIONS, 'data/weir.db'),
      (err: unknown) =>
        err instanceof MigrationError &&
        err.code === 'ERR_DB_TOO_NEW' &&
        err.message === `ERR_DB_TOO_NEW: data/weir.db is at schema version ${newer} but this weir knows up to ${MIGRATIONS.length}; use a newer weir`,
    );
    db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    assert.deepEqual(readFileSync(path), before);
    assert.deepEqual(tableNames(db), ['future']);
    assert.equal(readSchemaVersion(db), newer);
  });

  it('rolls back a failing migration whole: no half-created tables, version unchanged', () => {
    const db = openDb('broken.db');
    const broken = [
      ...MIGRATIONS,
      { version: MIGRATIONS.length + 1, name: '9999_broken.sql', sql: 'CREATE TABLE half (x INTEGER); CREATE TABLE oops (;' },
    ];
    assert.throws(
      () => applyMigrations(db, broken, 'broken.db'),
      (err: unknown) => err instanceof MigrationError && err.code === 'ERR_MIGRATION_FAILED' && /9999_broken\.sql/.test(err.message),
    );
    assert.equal(readSchemaVersion(db), MIGRATIONS.length);
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
