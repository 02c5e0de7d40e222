// A batch processor for logger plugins, with APISIX's settings (batch_max_size, inactive_timeout,
// buffer_duration, max_retry_count, retry_delay): entries are collected into a batch that is sent when it is
// full, when no entry came for inactive_timeout, or when its oldest entry is buffer_duration old; a batch
// that fails is retried, then dropped. One batch is in flight at a time, in order.
//
// Never in the way of proxying: push() is a few field updates, sending is asynchronous, and everything
// waiting (the batch being filled, full batches, the one in flight) is bounded by `maxPendingBytes`
// (drop_limit): an entry that does not fit is dropped and counted, never queued. An idle processor holds no
// timer and no socket of its own. drain() (the plugin's dispose: its route changed, or weir is stopping) sends
// what waits at once, and from then on every entry as soon as the batch before it is out.

/** Sends one batch; rejects when it did not get through. */
export type BatchSender = (entries: string[]) => Promise<void>;

export interface BatchOptions {
  batchMaxSize: number;
  inactiveTimeoutMs: number;
  bufferDurationMs: number;
  maxRetryCount: number;
  retryDelayMs: number;
  /** Bound of everything waiting, in characters (about bytes for log lines). */
  maxPendingBytes: number;
}

export interface BatchHooks {
  /** Entries lost: the buffer was full ('full'), or a batch failed after its retries ('failed'). */
  dropped(count: number, why: 'full' | 'failed', error?: string): void;
  /** A batch failed and will be retried. */
  retrying?(attempt: number, error: string): void;
  /** After drain(): nothing waits any more (the sender may close its socket). Called each time that happens. */
  idle?(): void;
  /** Clock (tests stop it). */
  now?: () => number;
}

export interface BatchStats {
  /** Entries that went out. */
  sent: number;
  /** Entries dropped (full buffer, or retries exhausted). */
  dropped: number;
  batches: number;
  failures: number;
}

/** Lengths of a batch's entries added up (what it counts against maxPendingBytes). */
function sizeOf(entries: readonly string[]): number {
  let n = 0;
  for (const e of entries) n += e.length;
  return n;
}

export class BatchProcessor {
  readonly stats: BatchStats = { sent: 0, dropped: 0, batches: 0, failures: 0 };
  private current: string[] = [];
  private firstAt = 0;
  private lastAt = 0;
  private readonly ready: string[][] = [];
  private sending = false;
  /** Characters waiting in the current batch, the ready batches and the one in flight. */
  private pending = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly now: () => number;
  /** drain() was called: no batch waits for its timers any more. */
  private draining = false;
  private waiters: Array<() => void> = [];

  constructor(
    private readonly opts: BatchOptions,
    private readonly send: BatchSender,
    private readonly hooks: BatchHooks,
  ) {
    this.now = hooks.now ?? Date.now;
  }

  /** Characters waiting to be sent (tests, and the bound's proof). */
  get pendingBytes(): number {
    return this.pending;
  }

  /** Add an entry. False when it was dropped because the buffer is full. Runs once per log entry. */
  push(entry: string): boolean {
    if (this.pending + entry.length > this.opts.maxPendingBytes) {
      this.stats.dropped++;
      this.hooks.dropped(1, 'full');
      return false;
    }
    this.pending += entry.length;
    const now = this.now();
    if (this.current.length === 0) this.firstAt = now;
    this.lastAt = now;
    this.current.push(entry);
    if (this.draining || this.current.length >= this.opts.batchMaxSize) this.seal();
    else if (this.timer === null) this.arm(Math.min(this.opts.inactiveTimeoutMs, this.opts.bufferDurationMs));
    return true;
  }

  /** Send what is being collected now, without waiting for its timers. */
  flush(): void {
    if (this.current.length > 0) this.seal();
  }

  /**
   * Send everything waiting now, and every later entry at once. Resolves when nothing waits (sent, or dropped
   * after its retries); never rejects. The caller bounds the wait (weir's shutdown grace period).
   */
  drain(): Promise<void> {
    this.draining = true;
    this.flush();
    if (this.isIdle()) {
      this.hooks.idle?.();
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private isIdle(): boolean {
    return !this.sending && this.ready.length === 0 && this.current.length === 0;
  }

  private arm(ms: number): void {
    this.timer = setTimeout(() => this.onTimer(), Math.max(1, ms));
    (this.timer as { unref?(): void }).unref?.();
  }

  /** The batch timer: send when idle for inactive_timeout or when the oldest entry is buffer_duration old. */
  private onTimer(): void {
    this.timer = null;
    if (this.current.length === 0) return;
    const now = this.now();
    const idleDue = this.lastAt + this.opts.inactiveTimeoutMs;
    const ageDue = this.firstAt + this.opts.bufferDurationMs;
    if (now >= idleDue || now >= ageDue) return this.seal();
    this.arm(Math.min(idleDue, ageDue) - now);
  }

  private seal(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.ready.push(this.current);
    this.current = [];
    this.pump();
  }

  private pump(): void {
    if (this.sending) return;
    const batch = this.ready.shift();
    if (batch === undefined) return;
    this.sending = true;
    this.attempt(batch, 0);
  }

  private attempt(batch: string[], retries: number): void {
    this.stats.batches++;
    let settled = false;
    const done = (err: unknown): void => {
      if (settled) return;
      settled = true;
      if (err === null) {
        this.stats.sent += batch.length;
        return this.release(batch);
      }
      this.stats.failures++;
      const message = (err as Error)?.message ?? String(err);
      if (retries < this.opts.maxRetryCount) {
        this.hooks.retrying?.(retries + 1, message);
        const t = setTimeout(() => this.attempt(batch, retries + 1), this.opts.retryDelayMs);
        (t as { unref?(): void }).unref?.();
        return;
      }
      this.stats.dropped += batch.length;
      this.hooks.dropped(batch.length, 'failed', message);
      this.release(batch);
    };
    let sending: Promise<void>;
    try {
      sending = this.send(batch);
    } catch (err) {
      return done(err ?? new Error('send failed'));
    }
    sending.then(
      () => done(null),
      (err: unknown) => done(err ?? new Error('send failed')),
    );
  }

  private release(batch: string[]): void {
    this.pending -= sizeOf(batch);
    this.sending = false;
    this.pump();
    if (this.draining && this.isIdle()) {
      const waiters = this.waiters;
      this.waiters = [];
      this.hooks.idle?.();
      for (const resolve of waiters) resolve();
    }
  }
}
