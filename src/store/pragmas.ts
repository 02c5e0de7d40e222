// How weir's store sets up every SQLite connection to its file, whatever the driver: store policy (sharing the
// file between the proxy, the CLI and other processes), not a runtime difference. The drivers in
// src/runtime/sqlite/ only open a connection; the code that opens the store's connection runs these on it.

import type { SqlDb } from '../runtime/types';

/** Pragmas every weir connection runs. */
export const CONNECTION_PRAGMAS: readonly string[] = [
  // WAL lets the proxy's readers run while the admin API (or another process) writes.
  'PRAGMA journal_mode = WAL',
  // Another process holding the write lock makes us wait up to 5 s instead of failing at once.
  'PRAGMA busy_timeout = 5000',
  'PRAGMA foreign_keys = ON',
  // FULL: every commit syncs the WAL, so an acknowledged admin write survives power loss and OS crashes too.
  // A kill -9 cannot lose a commit even with NORMAL (the WAL frames are in the OS page cache once COMMIT
  // returns; test/reliability/kill9 checks that), but NORMAL may roll back the last commits on power loss.
  // Admin writes are rare and the proxy only reads, so the one fsync per commit costs nothing that matters.
  'PRAGMA synchronous = FULL',
];

/**
 * Run the connection pragmas on a connection that was just opened, before anything else uses it (openStore,
 * `weir migrate`, `weir check`). On failure the connection is closed and the error rethrown: a half-set-up
 * handle is useless. Returns the same connection.
 */
export function applyConnectionPragmas(db: SqlDb): SqlDb {
  try {
    for (const pragma of CONNECTION_PRAGMAS) db.exec(pragma);
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}
