// Rate-limited warnings: at most one error-log line per reason per period, with the number of lines
// suppressed since. A scanner or a broken client hammering a port cannot flood the error log this way;
// the access log still has one line per connection.

import { logger } from './logger';

/** One error-log line: the message and its fields (the limiter adds `suppressed` when lines were held back). */
export type WarnEmit = (message: string, fields: Record<string, unknown>) => void;

interface ReasonState {
  /** When the line that opened the current period was written. */
  since: number;
  /** Hits within the current period that were not written. */
  suppressed: number;
  /** Message of the last suppressed hit, for the summary line. */
  message: string;
}

export interface RateLimitedWarnOptions {
  /** Length of one period in ms (default 10 s, like the UDP no-route summary). */
  periodMs?: number;
  /** Where lines go (default logger.warn). */
  emit?: WarnEmit;
  /** Clock (tests pin it). */
  now?: () => number;
  /** Summarise suppressed hits when their period ends even if no new hit comes (default true; unref'd timer). */
  flushTimer?: boolean;
}

export const DEFAULT_WARN_PERIOD_MS = 10_000;

/**
 * Per-reason limiter. `warn(reason, message, fields)` writes the line when `reason` has had no line in
 * the current period, else counts it. The next written line of that reason carries
 * `suppressed=N`; a reason that goes quiet gets one summary line when its period ends.
 * Runs per failed connection: a map lookup and a counter, no line built when suppressed.
 */
export class RateLimitedWarn {
  private readonly reasons = new Map<string, ReasonState>();
  private readonly periodMs: number;
  private readonly emit: WarnEmit;
  private readonly now: () => number;
  private readonly useTimer: boolean;
  private timer: NodeJS.Timeout | null = null;

  constructor(opts: RateLimitedWarnOptions = {}) {
    this.periodMs = opts.periodMs ?? DEFAULT_WARN_PERIOD_MS;
    this.emit = opts.emit ?? logger.warn;
    this.now = opts.now ?? Date.now;
    this.useTimer = opts.flushTimer ?? true;
  }

  /** Log or count one occurrence of `reason`. `fields` is only read when the line is written. */
  warn(reason: string, message: string, fields: Record<string, unknown>): void {
    const now = this.now();
    const state = this.reasons.get(reason);
    if (state !== undefined && now - state.since < this.periodMs) {
      state.suppressed++;
      state.message = message;
      this.armTimer();
      return;
    }
    const suppressed = state?.suppressed ?? 0;
    this.reasons.set(reason, { since: now, suppressed: 0, message });
    this.emit(message, suppressed > 0 ? { ...fields, suppressed } : fields);
  }

  /** Write one summary line for every reason whose period ended with suppressed hits; forget quiet reasons. */
  flush(): void {
    const now = this.now();
    for (const [reason, state] of this.reasons) {
      if (now - state.since < this.periodMs) continue;
      if (state.suppressed > 0) this.emit(state.message, { reason, suppressed: state.suppressed });
      this.reasons.delete(reason);
    }
  }

  /** Stop the summary timer (shutdown, tests). Pending counts are written now. */
  close(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    for (const [reason, state] of this.reasons) {
      if (state.suppressed > 0) this.emit(state.message, { reason, suppressed: state.suppressed });
    }
    this.reasons.clear();
  }

  /** One timer for all reasons, armed only while something is suppressed. */
  private armTimer(): void {
    if (!this.useTimer || this.timer !== null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.flush();
      for (const state of this.reasons.values()) if (state.suppressed > 0) return this.armTimer();
    }, this.periodMs);
    this.timer.unref?.();
  }
}
