// SqlDb over the built-in node:sqlite (Node >= 22.13, Node 24 single executable, Deno). Loaded through
// process.getBuiltinModule so that Node 20, which lacks it, can still import this module.

import type { SqlDb, SqlStatement, SqlValue } from '../types';
import { ensureParentDir, toSqlDb } from './common';

/** The part of node:sqlite weir uses (typed here: @types/node 20 does not describe it). */
interface NodeStatementSync {
  run(...params: SqlValue[]): { changes: number | bigint };
  get(...params: SqlValue[]): Record<string, unknown> | undefined;
  all(...params: SqlValue[]): Record<string, unknown>[];
}
interface NodeDatabaseSync {
  exec(sql: string): void;
  prepare(sql: string): NodeStatementSync;
  close(): void;
  readonly isOpen?: boolean;
  readonly isTransaction?: boolean;
}
interface NodeSqliteModule {
  DatabaseSync: new (path: string) => NodeDatabaseSync;
}

/** node:sqlite when this runtime has it, else null. Asking never prints a warning; only opening may (Node 22). */
export function loadNodeSqlite(): NodeSqliteModule | null {
  const getBuiltin = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
  if (typeof getBuiltin !== 'function') return null;
  try {
    const mod = getBuiltin('node:sqlite') as NodeSqliteModule | undefined;
    return mod && typeof mod.DatabaseSync === 'function' ? mod : null;
  } catch {
    return null;
  }
}

/** node:sqlite rows have a null prototype; callers (and deepEqual) expect plain objects. */
function plain(row: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  return row === undefined ? undefined : { ...row };
}

function wrapStatement(stmt: NodeStatementSync): SqlStatement {
  return {
    run: (...params: SqlValue[]) => ({ changes: Number(stmt.run(...params).changes) }),
    get: (...params: SqlValue[]) => plain(stmt.get(...params)),
    all: (...params: SqlValue[]) => stmt.all(...params).map((row) => ({ ...row })),
  };
}

/**
 * Open (creating if needed) a SQLite file with node:sqlite. Runs once at start, per CLI command and in tests.
 * Throws ERR_SQLITE_UNAVAILABLE when this runtime has no node:sqlite.
 */
export function openNodeSqlite(path: string): SqlDb {
  const mod = loadNodeSqlite();
  if (!mod) throw new Error('ERR_SQLITE_UNAVAILABLE: node:sqlite is not available in this runtime (Node >= 22.13 or Deno)');
  ensureParentDir(path);
  const db = new mod.DatabaseSync(path);
  // isTransaction exists from Node 22.16 / 24; without it, ROLLBACK is attempted and its error ignored.
  const stillOpen = (): boolean => (typeof db.isTransaction === 'boolean' ? db.isTransaction : true);
  return toSqlDb('node:sqlite', db, wrapStatement, stillOpen);
}
