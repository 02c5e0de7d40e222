// SqlDb over bun:sqlite (Bun and the `bun build --compile` executable). Loaded through
// process.getBuiltinModule at open time, so esbuild and tsx on Node never try to resolve "bun:sqlite".

import type { SqlDb, SqlStatement, SqlValue } from '../types';
import { ensureParentDir, toSqlDb } from './common';

/** The part of bun:sqlite weir uses (typed here to keep bun-types out of the Node build). */
interface BunStatement {
  run(...params: SqlValue[]): { changes: number };
  get(...params: SqlValue[]): Record<string, unknown> | null;
  all(...params: SqlValue[]): Record<string, unknown>[];
}
interface BunDatabase {
  exec(sql: string): void;
  prepare(sql: string): BunStatement;
  close(throwOnError?: boolean): void;
  readonly inTransaction: boolean;
}
interface BunSqliteModule {
  Database: new (path: string, opts?: { create?: boolean; strict?: boolean }) => BunDatabase;
}

function loadBunSqlite(): BunSqliteModule {
  const getBuiltin = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
  const mod = typeof getBuiltin === 'function' ? (getBuiltin('bun:sqlite') as BunSqliteModule | undefined) : undefined;
  if (!mod || typeof mod.Database !== 'function') {
    throw new Error('ERR_SQLITE_UNAVAILABLE: bun:sqlite is only available under Bun');
  }
  return mod;
}

function wrapStatement(stmt: BunStatement): SqlStatement {
  return {
    run: (...params: SqlValue[]) => ({ changes: stmt.run(...params).changes }),
    // bun:sqlite answers null for "no row"; the port promises undefined.
    get: (...params: SqlValue[]) => stmt.get(...params) ?? undefined,
    all: (...params: SqlValue[]) => stmt.all(...params),
  };
}

/** Open (creating if needed) a SQLite file with bun:sqlite. Runs once at start, per CLI command and in tests. */
export function openBunSqlite(path: string): SqlDb {
  const mod = loadBunSqlite();
  ensureParentDir(path);
  // strict: parameters bind without a prefix and a missing one throws instead of binding NULL.
  const db = new mod.Database(path, { create: true, strict: true });
  return toSqlDb('bun:sqlite', db, wrapStatement, () => db.inTransaction);
}
