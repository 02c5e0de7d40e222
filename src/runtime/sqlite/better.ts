// SqlDb over better-sqlite3 (Node 20, where node:sqlite does not exist). The addon is required lazily, on the
// first open, so merely importing this module works everywhere (Bun and Deno cannot load the addon at all,
// and the single executables do not ship it).

import type Database from 'better-sqlite3';
import { createRequire } from 'node:module';
import type { SqlDb, SqlStatement, SqlValue } from '../types';
import { ensureParentDir, toSqlDb } from './common';

type DatabaseCtor = typeof Database;
let ctor: DatabaseCtor | null = null;

function loadBetterSqlite(): DatabaseCtor {
  if (ctor) return ctor;
  // In the CommonJS bundle `require` exists and import.meta.url does not; under tsx (ESM) it is the other way.
  const req = typeof require === 'function' ? require : createRequire(import.meta.url);
  ctor = req('better-sqlite3') as DatabaseCtor;
  return ctor;
}

function wrapStatement(stmt: Database.Statement): SqlStatement {
  // better-sqlite3 refuses .get/.all on statements that return no columns; .run works for all.
  return {
    run: (...params: SqlValue[]) => ({ changes: stmt.run(...params).changes }),
    get: (...params: SqlValue[]) => stmt.get(...params) as Record<string, unknown> | undefined,
    all: (...params: SqlValue[]) => stmt.all(...params) as Record<string, unknown>[],
  };
}

/**
 * Open (creating if needed) a SQLite file and its parent directory. Runs once at start and in tests;
 * the returned connection is synchronous and must only be used from the thread that opened it.
 */
export function openBetterSqlite(path: string): SqlDb {
  ensureParentDir(path);
  const Ctor = loadBetterSqlite();
  const db = new Ctor(path);
  return toSqlDb('better-sqlite3', db, wrapStatement, () => db.inTransaction);
}
