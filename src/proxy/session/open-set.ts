// The connections (or sessions) of one flow that are still open, and a way to wait until there are none:
// what shutdown and listener drains wait on. Shared by the TCP and UDP flows.

/** Promises waiting for "nothing is open any more", each with its own deadline. */
export class EmptyWaiters {
  private waiters: Array<() => void> = [];

  /** Resolves at the next wake(), or after `ms`, whichever comes first. */
  wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  wake(): void {
    if (this.waiters.length === 0) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

export class OpenSet<T> {
  private readonly items = new Set<T>();
  private readonly waiters = new EmptyWaiters();

  get size(): number {
    return this.items.size;
  }

  add(item: T): void {
    this.items.add(item);
  }

  /** False when it was not open. Wakes the waiters once the set is empty. */
  delete(item: T): boolean {
    if (!this.items.delete(item)) return false;
    if (this.items.size === 0) this.waiters.wake();
    return true;
  }

  has(item: T): boolean {
    return this.items.has(item);
  }

  /** Visit every item without copying; `fn` must not add or end items. */
  forEach(fn: (item: T) => void): void {
    this.items.forEach(fn);
  }

  /** A copy, for loops that end items while they walk. */
  snapshot(): T[] {
    return [...this.items];
  }

  /** Resolves when the set is empty, or after `ms`, whichever comes first. */
  waitEmpty(ms: number): Promise<void> {
    if (this.items.size === 0) return Promise.resolve();
    return this.waiters.wait(ms);
  }
}
