// Connection counts by key (limit-conn's `conn + burst` admission): in one process a Map, decided synchronously;
// with several workers every count lives in worker 0 and the others ask it over the IPC channel (shared-counters.ts),
// so the limit holds for the host, not per worker.

/** Counts shared by every limit-conn instance of a process. Keys carry the route and conf, so routes never mix. */
export interface ConnCounters {
  /**
   * Count one connection in under `key`, unless the count would pass `max`. Returns the count including this
   * connection, or 0 when it was refused (and not counted). A promise when the count lives in another process.
   */
  acquire(key: string, max: number): number | Promise<number>;
  /** Count one connection out: once per acquire() that returned a positive count. */
  release(key: string): void;
  /** The count now, changing nothing (explain); null when it lives in another process and is not known here. */
  peek(key: string): number | null;
}

/** The counts of one process; also worker 0's, which serves the other workers. Exact: one thread decides. */
export class LocalConnCounters implements ConnCounters {
  private readonly counts = new Map<string, number>();

  acquire(key: string, max: number): number {
    const n = (this.counts.get(key) ?? 0) + 1;
    if (n > max) return 0;
    this.counts.set(key, n);
    return n;
  }

  release(key: string): void {
    const n = this.counts.get(key);
    if (n === undefined) return;
    if (n <= 1) this.counts.delete(key);
    else this.counts.set(key, n - 1);
  }

  /** The current count (tests, diagnostics). */
  count(key: string): number {
    return this.counts.get(key) ?? 0;
  }

  peek(key: string): number {
    return this.counts.get(key) ?? 0;
  }

  /** Keys with a connection counted in (a leak shows up here). */
  get size(): number {
    return this.counts.size;
  }
}
