// What every SqlDb adapter shares: the parent-directory rule, the close-once SqlDb wrapper and the
// hand-written BEGIN IMMEDIATE transaction (node:sqlite has no db.transaction(), so nobody uses one). The
// adapters keep only loading their driver and adapting its statements. Connection pragmas are the store's
// (src/store/pragmas.ts): a connection leaves here with SQLite's defaults.

import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { SqlDb, SqlStatement } from '../types';

/** Make the directory a database file lives in; ":memory:" and "" (temp DB) need none. */
export function ensureParentDir(path: string): void {
  if (path === ':memory:' || path === '' || path.startsWith('file:')) return;
  mkdirSync(dirname(path), { recursive: true });
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
 * Present a driver connection as the SqlDb port. `wrap` adapts one of the driver's prepared statements;
 * `stillOpen` is as in makeTransaction. close() is idempotent: the store and the CLI may both close on the way out.
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
  return {
    driver,
    exec,
    prepare: (sql: string): SqlStatement => wrap(db.prepare(sql)),
    transaction: makeTransaction(exec, stillOpen),
    close,
  };
}
