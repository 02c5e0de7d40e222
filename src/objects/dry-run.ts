// Dry-run writes: the real write (validation, references, the store calls) runs inside its transaction, which is
// then rolled back. Nothing reaches the database file, and there is no second code path that could drift from
// the real one: a dry run answers what the write would answer.

import type { Store } from '../store/types';

/** What the caller wants from a rehearsed write besides its answer. */
export interface DryRun {
  /**
   * Called inside the transaction, just before the write and just after it (on the same consistent view), so
   * the caller can read what the store holds with and without the write. Must not write.
   */
  capture?(phase: 'before' | 'after'): void;
}

/** Thrown to end the transaction; never leaves rehearse(). */
const ROLLBACK = Symbol('weir.dry-run.rollback');

/**
 * Run `fn` in a store transaction and roll it back. Returns what `fn` returned; a refusal thrown by `fn` (an
 * ObjectError) passes through exactly as from the real write.
 */
export function rehearse<T>(store: Store, dry: DryRun, fn: () => T): T {
  let result: { value: T } | null = null;
  try {
    store.transaction(() => {
      dry.capture?.('before');
      const value = fn();
      dry.capture?.('after');
      result = { value };
      throw ROLLBACK;
    });
  } catch (err) {
    if (err !== ROLLBACK) throw err;
  }
  return (result as { value: T } | null)!.value;
}
