// The SqlDb contract every SQLite driver must meet (better-sqlite3, node:sqlite, bun:sqlite).
// Each driver's test file calls runSqlDbContract with its own open function.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SqlDb } from '../../../src/runtime/types';

export function runSqlDbContract(open: (path: string) => SqlDb, name = open.name || 'driver'): void {
  describe(`SqlDb contract: ${name}`, () => {
    let dir: string;
    let path: string;
    let db: SqlDb;
    const extra: SqlDb[] = [];

    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'weir-sqldb-'));
      // A nested, not yet existing directory: open() must create it.
      path = join(dir, 'nested', 'deeper', 'test.db');
      db = open(path);
      db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, n INTEGER, b BLOB)');
    });

    after(() => {
      for (const other of extra) other.close();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('creates the parent directory and the file', () => {
      assert.equal(existsSync(path), true);
      assert.equal(typeof db.driver, 'string');
      assert.ok(db.driver.length > 0);
    });

    it('only opens: a new file keeps SQLite\'s rollback journal (the pragmas are the store\'s, test/store/pragmas.test.ts)', () => {
      assert.equal(db.prepare('PRAGMA journal_mode').get()?.journal_mode, 'delete');
    });

    it('runs positional parameters and reports changes', () => {
      const ins = db.prepare('INSERT INTO t (id, name, n) VALUES (?, ?, ?)');
      assert.deepEqual(ins.run(1, 'one', 10), { changes: 1 });
      assert.deepEqual(ins.run(2, 'two', null), { changes: 1 });
      assert.deepEqual(db.prepare('UPDATE t SET n = n + 1 WHERE n IS NOT NULL').run(), { changes: 1 });
    });

    it('get returns the first row or undefined; all returns every row in order', () => {
      assert.deepEqual(db.prepare('SELECT id, name, n FROM t WHERE id = ?').get(1), { id: 1, name: 'one', n: 11 });
      assert.equal(db.prepare('SELECT id FROM t WHERE id = ?').get(99), undefined);
      assert.deepEqual(db.prepare('SELECT id, n FROM t ORDER BY id').all(), [
        { id: 1, n: 11 },
        { id: 2, n: null },
      ]);
      assert.deepEqual(db.prepare('SELECT id FROM t WHERE id > ?').all(5), []);
    });

    it('round-trips bigint parameters and blobs', () => {
      db.prepare('INSERT INTO t (id, name, b) VALUES (?, ?, ?)').run(3n, 'blob', new Uint8Array([0, 255, 7]));
      const row = db.prepare('SELECT id, b FROM t WHERE id = ?').get(3);
      assert.equal(row?.id, 3);
      assert.ok(row?.b instanceof Uint8Array);
      assert.deepEqual([...(row.b as Uint8Array)], [0, 255, 7]);
    });

    it('transaction commits and returns the body result', () => {
      const out = db.transaction(() => {
        db.prepare('INSERT INTO t (id, name) VALUES (?, ?)').run(4, 'four');
        return 'done';
      });
      assert.equal(out, 'done');
      assert.equal(db.prepare('SELECT name FROM t WHERE id = 4').get()?.name, 'four');
    });

    it('transaction rolls back every statement and rethrows the same error', () => {
      const boom = new Error('boom');
      assert.throws(
        () =>
          db.transaction(() => {
            db.prepare('INSERT INTO t (id, name) VALUES (?, ?)').run(5, 'five');
            db.prepare('UPDATE t SET name = ? WHERE id = 1').run('changed');
            throw boom;
          }),
        (err) => err === boom,
      );
      assert.equal(db.prepare('SELECT id FROM t WHERE id = 5').get(), undefined);
      assert.equal(db.prepare('SELECT name FROM t WHERE id = 1').get()?.name, 'one');
      // The connection is usable again: a new transaction works.
      assert.equal(db.transaction(() => 7), 7);
    });

    it('transaction rolls back on a SQL error (constraint) too', () => {
      assert.throws(() =>
        db.transaction(() => {
          db.prepare('INSERT INTO t (id, name) VALUES (?, ?)').run(6, 'six');
          db.prepare('INSERT INTO t (id, name) VALUES (?, ?)').run(1, 'duplicate');
        }),
      );
      assert.equal(db.prepare('SELECT id FROM t WHERE id = 6').get(), undefined);
    });

    it('refuses a nested transaction without breaking the outer one', () => {
      const out = db.transaction(() => {
        assert.throws(() => db.transaction(() => 1));
        db.prepare('INSERT INTO t (id, name) VALUES (?, ?)').run(8, 'eight');
        return 'outer';
      });
      assert.equal(out, 'outer');
      assert.equal(db.prepare('SELECT name FROM t WHERE id = 8').get()?.name, 'eight');
    });

    it('a second connection sees commits, not the uncommitted writes of an open transaction', () => {
      const other = open(path);
      extra.push(other);
      assert.equal(other.prepare('SELECT name FROM t WHERE id = 4').get()?.name, 'four');
      db.transaction(() => {
        db.prepare('UPDATE t SET name = ? WHERE id = 4').run('FOUR');
        // the reader keeps its view while the writer holds the lock
        assert.equal(other.prepare('SELECT name FROM t WHERE id = 4').get()?.name, 'four');
      });
      assert.equal(other.prepare('SELECT name FROM t WHERE id = 4').get()?.name, 'FOUR');
    });

    it('close() can be called twice', () => {
      const third = open(path);
      third.close();
      assert.doesNotThrow(() => third.close());
    });
  });
}
