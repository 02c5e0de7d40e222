// PRAGMA quick_check at start: a damaged database file is reported before weir serves from it (a disk that died
// mid-write, a file copied while written). quick_check is integrity_check without the index cross-checks: O(N),
// milliseconds for weir's few hundred rows. Runs once per start, before the snapshot is built.

import type { SqlDb } from '../runtime/types';

/** Thrown when the file fails the check; start exits non-zero with this message. */
export class DatabaseDamagedError extends Error {
  readonly code = 'ERR_STORE_DAMAGED';
}

/** Run quick_check on `db`; throws DatabaseDamagedError naming `path` and SQLite's first findings. */
export function checkDatabase(db: SqlDb, path: string): void {
  const rows = db.prepare('PRAGMA quick_check(5)').all();
  const findings = rows.map((r) => String(Object.values(r)[0]));
  if (findings.length === 1 && findings[0] === 'ok') return;
  throw new DatabaseDamagedError(
    `ERR_STORE_DAMAGED: ${path} failed PRAGMA quick_check: ${findings.join('; ')}; restore a backup (weir export) or move the file away`,
  );
}
