// What every SqlDb adapter shares: the connection pragmas, the parent-directory rule and the
// hand-written BEGIN IMMEDIATE transaction (node:sqlite has no db.transaction(), so nobody uses one).

import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

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
export function applyPragmas(exec: (sql: string) => void, close: () => void): void {
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
export function makeTransaction(
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
