// The store's connection pragmas (src/store/pragmas.ts) on this runtime's SQLite driver: set by
// applyConnectionPragmas and by openStore on the connection it is given; a failing pragma closes the connection.
// test/store runs under Node (better-sqlite3 or node:sqlite), Bun (bun:sqlite) and Deno (node:sqlite) in .ci/run.

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { openSqlite } from '../../src/runtime/index';
import type { SqlDb } from '../../src/runtime/types';
import { CONNECTION_PRAGMAS, applyConnectionPragmas } from '../../src/store/pragmas';
import { openStore } from '../../src/store/store';
import { tempDir } from '../helpers/weir';

/** journal_mode, busy_timeout, foreign_keys, synchronous as the connection reports them. */
function settings(db: SqlDb): unknown[] {
  return [
    db.prepare('PRAGMA journal_mode').get()?.journal_mode,
    // better-sqlite3 names the column "timeout", others "busy_timeout": take the only value
    ...Object.values(db.prepare('PRAGMA busy_timeout').get() ?? {}),
    db.prepare('PRAGMA foreign_keys').get()?.foreign_keys,
    db.prepare('PRAGMA synchronous').get()?.synchronous,
  ];
}

describe('connection pragmas', () => {
  const dir = tempDir('weir-pragmas-');
  after(() => dir.remove());

  it('a driver opens with SQLite\'s defaults; applyConnectionPragmas sets WAL, busy_timeout 5000, foreign_keys on, synchronous FULL', () => {
    const db = openSqlite(join(dir.path, 'a.db'));
    try {
      // only the journal mode is the same default everywhere (better-sqlite3 sets a busy timeout of its own)
      assert.equal(settings(db)[0], 'delete');
      assert.equal(applyConnectionPragmas(db), db);
      assert.deepEqual(settings(db), ['wal', 5000, 1, 2]);
    } finally {
      db.close();
    }
  });

  it('openStore sets them on the connection it is given', () => {
    const path = join(dir.path, 'b.db');
    const db = openSqlite(path);
    const store = openStore(path, { db });
    try {
      assert.deepEqual(settings(db), ['wal', 5000, 1, 2]);
    } finally {
      store.close();
    }
  });

  it('closes the connection and rethrows when a pragma fails, running none after it', () => {
    const db = openSqlite(join(dir.path, 'c.db'));
    const ran: string[] = [];
    let closed = 0;
    const failing: SqlDb = {
      ...db,
      exec: (sql) => {
        ran.push(sql);
        if (sql.includes('busy_timeout')) throw new Error('SQLITE_BUSY: database is locked');
        db.exec(sql);
      },
      close: () => {
        closed++;
        db.close();
      },
    };
    assert.throws(() => applyConnectionPragmas(failing), /SQLITE_BUSY: database is locked/);
    assert.deepEqual(ran, CONNECTION_PRAGMAS.slice(0, 2));
    assert.equal(closed, 1);
  });
});
