// Schema migrations: bring a SQLite file up to the schema this weir was built with.
// The migrations come from src/embedded.gen.ts (baked in at build time), never from the migrations/ folder.

import type { SqlDb } from '../runtime/types';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export interface MigrationResult {
  /** user_version found when opening. */
  from: number;
  /** user_version after migrating. */
  to: number;
  /** Names of the migrations applied now, in order. */
  applied: string[];
}

/** A database that cannot be migrated (too new, or a migration failed). Nothing was changed by the failing step. */
export class MigrationError extends Error {
  constructor(
    readonly code: 'ERR_DB_TOO_NEW' | 'ERR_MIGRATION_FAILED' | 'ERR_MIGRATION_LIST',
    message: string,
  ) {
    super(`${code}: ${message}`);
    this.name = 'MigrationError';
  }
}

/** The schema version stored in the file header (0 for a new file). */
export function readSchemaVersion(db: SqlDb): number {
  const row = db.prepare('PRAGMA user_version').get();
  return Number(row?.user_version ?? 0);
}

function checkList(migrations: readonly Migration[]): void {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) {
      throw new MigrationError('ERR_MIGRATION_LIST', `migration ${m.name} has version ${m.version}, expected ${i + 1}`);
    }
  });
}

/**
 * Apply every migration newer than the file's `PRAGMA user_version`, each in its own transaction that
 * also sets user_version, so a crash leaves the file at a whole version. Runs once when the store opens.
 * `label` names the database in messages (usually its path).
 * Throws ERR_DB_TOO_NEW, before touching anything, when the file was written by a newer weir.
 */
export function applyMigrations(db: SqlDb, migrations: readonly Migration[], label = 'the database'): MigrationResult {
  checkList(migrations);
  const known = migrations.length;
  const from = readSchemaVersion(db);
  if (from > known) {
    throw new MigrationError(
      'ERR_DB_TOO_NEW',
      `${label} is at schema version ${from} but this weir knows up to ${known}; use a newer weir`,
    );
  }
  const applied: string[] = [];
  for (const migration of migrations) {
    if (migration.version <= from) continue;
    db.transaction(() => {
      // Another process may have migrated between our read and our write lock: re-check under the lock.
      if (readSchemaVersion(db) >= migration.version) return;
      try {
        db.exec(migration.sql);
      } catch (err) {
        throw new MigrationError('ERR_MIGRATION_FAILED', `${label}: ${migration.name}: ${(err as Error).message}`);
      }
      // user_version is written in the file header inside this transaction: it commits or rolls back with it.
      db.exec(`PRAGMA user_version = ${migration.version}`);
      applied.push(migration.name);
    });
  }
  return { from, to: readSchemaVersion(db), applied };
}
