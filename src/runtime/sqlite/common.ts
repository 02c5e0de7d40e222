// What every SqlDb adapter shares: the connection pragmas, the parent-directory rule, the close-once
// SqlDb wrapper and the hand-written BEGIN IMMEDIATE transaction (node:sqlite has no db.transaction(),
// so nobody uses one). The adapters keep only loading their driver and adapting its statements.

import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { SqlDb, SqlStatement } from '../types';

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

/** Make the directory a database file lives in; ":memory:" and "" (temp DB) need none. */
export function ensureParentDir(path: string): void {
  if (path === ':memory:' || path === '' || path.startsWith('file:')) return;
  mkdirSync(dirname(path), { recursive: true });
}

/** Run the connection pragmas; on failure close the connection and rethrow (a half-set-up handle is useless). */
function applyPragmas(exec: (sql: string) => void, close: () => void): void {
  try {
    for (const pragma of CONNECTION_PRAGMAS) exec(pragma);
  } catch (err) {
    close();
    throw err;
  }
}

/**
 * A `transaction(fn)` over raw exec(). `stillOpen()` says whether SQLite still has a transaction open
 * (a failed COMMIT, e.g. SQLITE_FULL, may already have ended it); drivers that cannot tell return true
 * and the "no transaction is active" error of the ROLLBACK is swallowed.
 */
function makeTransaction(
  exec: (sql: string) => void,
  stillOpen: () => boolean,
): <T>(fn: () => T) => T {
  let inTransaction = false;
  return <T>(fn: () => T): T => {
    if (inTransaction) throw new Error('ERR_SQL_NESTED_TRANSACTION: transaction() is not reentrant');
    // IMMEDIATE takes the write lock up front, so a read-then-write body cannot hit SQLITE_BUSY
    // halfway through (a deferred transaction upgrading its lock fails without waiting).
    exec('BEGIN IMMEDIATE');
    inTransaction = true;
    try {
      const result = fn();
      if (result instanceof Promise) throw new Error('ERR_SQL_ASYNC_TRANSACTION: transaction body must be synchronous');
      exec('COMMIT');
      return result;
    } catch (err) {
      if (stillOpen()) {
        try {
          exec('ROLLBACK');
        } catch {
          // Already rolled back by SQLite itself; the original error is the one that matters.
        }
      }
      throw err;
    } finally {
      inTransaction = false;
    }
  };
}

/** The calls weir makes on a driver's connection object, whichever driver it is. */
export interface DriverConnection<S> {
  exec(sql: string): void;
  prepare(sql: string): S;
  close(): void;
}

/**
 * Finish opening a driver connection: run the pragmas (closing it if they fail) and present it as the
 * SqlDb port. `wrap` adapts one of the driver's prepared statements; `stillOpen` is as in makeTransaction.
 * close() is idempotent: the store and the CLI may both close on the way out.
 */
export function toSqlDb<S>(
  driver: string,
  db: DriverConnection<S>,
  wrap: (stmt: S) => SqlStatement,
  stillOpen: () => boolean,
): SqlDb {
  let open = true;
  const close = (): void => {
    if (!open) return;
    open = false;
    db.close();
  };
  const exec = (sql: string): void => {
    db.exec(sql);
  };
  applyPragmas(exec, close);
  return {
    driver,
    exec,
    prepare: (sql: string): SqlStatement => wrap(db.prepare(sql)),
    transaction: makeTransaction(exec, stillOpen),
    close,
  };
}
