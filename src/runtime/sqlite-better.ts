// SqlDb over better-sqlite3 (Node 20). The pragmas and the hand-written transaction logic are kept
// driver-neutral on purpose so node:sqlite and bun:sqlite ports can copy them line for line.

import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { SqlDb, SqlStatement, SqlValue } from './types';

/** Pragmas every weir connection runs, whatever the driver. */
export const CONNECTION_PRAGMAS: readonly string[] = [
  // WAL lets the proxy's readers run while the admin API (or another process) writes.
  'PRAGMA journal_mode = WAL',
  // Another process holding the write lock makes us wait up to 5 s instead of failing at once.
  'PRAGMA busy_timeout = 5000',
  'PRAGMA foreign_keys = ON',
  // NORMAL is durable across process crashes in WAL mode; only an OS crash can lose the last commit.
  'PRAGMA synchronous = NORMAL',
];

function wrapStatement(stmt: Database.Statement): SqlStatement {
  // better-sqlite3 refuses .get/.all on statements that return no columns; .run works for all.
  return {
    run: (...params: SqlValue[]) => ({ changes: stmt.run(...params).changes }),
    get: (...params: SqlValue[]) => stmt.get(...params) as Record<string, unknown> | undefined,
    all: (...params: SqlValue[]) => stmt.all(...params) as Record<string, unknown>[],
  };
}

/** Make the directory a database file lives in; ":memory:" and "" (temp DB) need none. */
export function ensureParentDir(path: string): void {
  if (path === ':memory:' || path === '' || path.startsWith('file:')) return;
  mkdirSync(dirname(path), { recursive: true });
}

/**
 * Open (creating if needed) a SQLite file and its parent directory. Runs once at start and in tests;
 * the returned connection is synchronous and must only be used from the thread that opened it.
 */
export function openBetterSqlite(path: string): SqlDb {
  ensureParentDir(path);
  const db = new Database(path);
  try {
    for (const pragma of CONNECTION_PRAGMAS) db.exec(pragma);
  } catch (err) {
    db.close();
    throw err;
  }
  let inTransaction = false;

  return {
    driver: 'better-sqlite3',
    exec(sql: string): void {
      db.exec(sql);
    },
    prepare(sql: string): SqlStatement {
      return wrapStatement(db.prepare(sql));
    },
    transaction<T>(fn: () => T): T {
      if (inTransaction) throw new Error('ERR_SQL_NESTED_TRANSACTION: transaction() is not reentrant');
      // IMMEDIATE takes the write lock up front, so a read-then-write body cannot hit SQLITE_BUSY
      // halfway through (a deferred transaction upgrading its lock fails without waiting).
      db.exec('BEGIN IMMEDIATE');
      inTransaction = true;
      try {
        const result = fn();
        if (result instanceof Promise) throw new Error('ERR_SQL_ASYNC_TRANSACTION: transaction body must be synchronous');
        db.exec('COMMIT');
        return result;
      } catch (err) {
        // A failed COMMIT may already have ended the transaction (e.g. SQLITE_FULL); check before rolling back.
        if (db.inTransaction) db.exec('ROLLBACK');
        throw err;
      } finally {
        inTransaction = false;
      }
    },
    close(): void {
      if (db.open) db.close();
    },
  };
}
