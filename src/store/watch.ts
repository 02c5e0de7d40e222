// Notices commits made to the SQLite file by other processes (the CLI, the sqlite3 shell, config management)
// so a running proxy can rebuild its snapshot within a second, without any work on the connection path.

import type { SqlDb } from '../runtime/types';
import { logger } from '../log/logger';

export interface StoreWatcher {
  /** Poll once now; true when another connection committed since the last poll. Used by the timer and tests. */
  poll(): boolean;
  stop(): void;
}

export interface WatchOptions {
  /** How often to ask SQLite; default 250 ms (changes show up within ~0.25 s plus the rebuild). */
  intervalMs?: number;
}

export const DEFAULT_WATCH_INTERVAL_MS = 250;

/**
 * Watch `db` (the store's own connection) for commits by any OTHER connection and call onExternalChange
 * after each poll that saw one. `PRAGMA data_version` answers from the WAL index in shared memory: no disk
 * read, no lock, and it ignores this connection's own commits (the Admin API refreshes for those itself).
 * The timer is unref'd; a failing poll or callback is logged, never thrown, and polling goes on.
 */
export function watchStore(db: SqlDb, onExternalChange: () => void, opts: WatchOptions = {}): StoreWatcher {
  const intervalMs = opts.intervalMs ?? DEFAULT_WATCH_INTERVAL_MS;
  const dataVersion = db.prepare('PRAGMA data_version');
  const read = (): number => Number(dataVersion.get()?.data_version ?? 0);
  let last = read();
  let failing = false;
  let stopped = false;

  const poll = (): boolean => {
    if (stopped) return false;
    let now: number;
    try {
      now = read();
      if (failing) logger.info('store watch: reading the database works again');
      failing = false;
    } catch (err) {
      // e.g. the file was replaced or the disk vanished: say so once, keep serving the last good snapshot.
      if (!failing) logger.error('store watch: cannot read the database', { error: (err as Error).message });
      failing = true;
      return false;
    }
    if (now === last) return false;
    last = now;
    try {
      onExternalChange();
    } catch (err) {
      logger.error('store watch: rebuilding after an external change failed', { error: (err as Error).message });
    }
    return true;
  };

  const timer = setInterval(poll, intervalMs);
  timer.unref?.();
  return {
    poll,
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}
