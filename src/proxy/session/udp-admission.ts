// Admission of new UDP sessions under a flood: a cap on the sessions one source address may hold, a listener's
// own cap (max_connections on a UDP listener item), and a token bucket on new sessions for the whole process that
// narrows while weir's event loop runs late (load shedding). Only a datagram that finds no session asks;
// datagrams of open sessions never reach this module, so nothing here can refuse them. Pure: the caller passes
// the time, the source's and the listener's session counts and the clock tick's lateness; the warning sink is
// injected (at most one line per reason per second). A config reload changes the limits in place (reconfigure).

import { RateLimitedWarn } from '../../log/rate-limit';

/**
 * Why a new session was refused: the label of weir_stream_udp_refused_sessions_total{reason}. `rate`: over
 * udp_session_rate; `overload`: over the narrowed rate while the event loop runs late; `listener_max_sessions`:
 * the listener holds its max_connections sessions.
 */
export type SessionRefusal = 'per_source' | 'listener_max_sessions' | 'rate' | 'overload';

export const SESSION_REFUSALS: readonly SessionRefusal[] = ['per_source', 'listener_max_sessions', 'rate', 'overload'];

/** A UDP listener's own cap on its sessions, as the listener set keeps it (read on new-session admission only). */
export interface ListenerSessionCap {
  /** The cap now (a reload may change it in place); null = none. */
  readonly max: number | null;
  /** The listener as the config names it ("apisix.stream_proxy.udp[0]", "stream_listeners/dns"), for the log line. */
  readonly origin: string;
}

/** The limits, as nginx_config.stream sets them; 0 turns one off. */
export interface UdpAdmissionSettings {
  /** udp_max_sessions_per_source: sessions one client address may hold at once (all its ports, all listeners). */
  maxPerSource: number;
  /** udp_session_rate: new sessions per second, process-wide (HAProxy's `rate-limit sessions`). */
  rate: number;
  /** udp_session_burst: new sessions that may start at once after a quiet spell (0: a fifth of a second's worth). */
  burst: number;
}

/**
 * Defaults: one address holds at most a tenth of the default table (10,000), so a spoofer on one address (random
 * ports) cannot fill it; 5,000 new sessions per second, and a burst of 1,000. A new session costs a socket
 * (R9 measured about 2,700 a second on a loaded 2-core machine); a refused datagram costs a lookup.
 */
export const DEFAULT_UDP_ADMISSION: Readonly<UdpAdmissionSettings> = { maxPerSource: 1000, rate: 5000, burst: 1000 };

/** The error-log lines of refusals: one per reason and second, with the count held back. */
export const REFUSAL_WARN_PERIOD_MS = 1000;

/**
 * A clock tick this late, or a loop busy this share of the time since the last tick, means the event loop is
 * behind: datagrams wait in the kernel's buffer, and past it are dropped, the open sessions' with the flood's
 * (a saturated loop can keep its timers on time: busyness is the signal that catches it). When new clients
 * also arrive at FLOOD_ATTEMPTS_PER_S or more (else fewer new sessions would not help), the rate is halved; a
 * tick that finds the loop keeping up lets it grow back by a quarter. The least it narrows to is RATE_FLOOR.
 */
export const LATE_TICK_MS = 50;
export const BUSY_SHARE = 0.9;
export const FLOOD_ATTEMPTS_PER_S = 1000;
export const RATE_FLOOR = 1 / 64;
const RECOVER = 1.25;

/**
 * Decides, for each datagram that finds no session, whether a session may start. Runs per such datagram (a
 * flood's every datagram): two comparisons and, with a rate, one bucket step; no allocation.
 */
export class SessionAdmission {
  private readonly refusedBy: Record<SessionRefusal, number> = { per_source: 0, listener_max_sessions: 0, rate: 0, overload: 0 };
  private settingsNow: Readonly<UdpAdmissionSettings>;
  private burst = 1;
  private tokens: number;
  private last: number;
  /** The share of the configured rate allowed now: 1, or less while the event loop runs late. */
  private scale = 1;
  /** Datagrams that asked for a new session since the last tick (past the per-source cap). */
  private attempts = 0;
  private fields: Record<SessionRefusal, Record<string, unknown>> = { per_source: {}, listener_max_sessions: {}, rate: {}, overload: {} };
  /** The listener of the last listener_max_sessions refusal: its line reads the cap and origin from it when written. */
  private capped: ListenerSessionCap = { max: null, origin: '' };

  constructor(
    settings: Readonly<UdpAdmissionSettings>,
    now: number,
    private readonly warnings: RateLimitedWarn = new RateLimitedWarn({ periodMs: REFUSAL_WARN_PERIOD_MS }),
  ) {
    this.settingsNow = settings;
    this.tokens = 0;
    this.last = now;
    this.reconfigure(settings);
    this.tokens = this.burst;
  }

  /** The limits in force (the config's, or the last reload's). */
  get settings(): Readonly<UdpAdmissionSettings> {
    return this.settingsNow;
  }

  /**
   * New limits (a config reload): they apply from the next new session on. Open sessions are not touched; what
   * the bucket saved up is kept, within the new burst; a narrowing under load keeps its share of the new rate.
   * Throws a RangeError (and changes nothing) on a negative limit. Never runs per datagram.
   */
  reconfigure(settings: Readonly<UdpAdmissionSettings>): void {
    const { maxPerSource, rate, burst } = settings;
    if (!(maxPerSource >= 0) || !(rate >= 0) || !(burst >= 0)) throw new RangeError(`UDP admission limits must be >= 0, got ${JSON.stringify(settings)}`);
    const wasOff = this.settingsNow.rate === 0;
    this.settingsNow = { maxPerSource, rate, burst };
    // a burst below 1 would refuse every session: at least one may always start
    this.burst = Math.max(1, burst || Math.ceil(rate / 5));
    // a rate turned on starts with a full bucket, as at start
    this.tokens = wasOff ? this.burst * this.scale : Math.min(this.tokens, this.burst * this.scale);
    // built here, not per refusal: a refused datagram only counts (the limiter adds `suppressed` to the line it writes)
    const capped = (): ListenerSessionCap => this.capped;
    this.fields = {
      per_source: { cap: maxPerSource, setting: 'nginx_config.stream.udp_max_sessions_per_source' },
      // getters: read only when a line is written, from the listener that refused last
      listener_max_sessions: {
        get cap() {
          return capped().max;
        },
        get setting() {
          return `${capped().origin}.max_connections`;
        },
      },
      rate: { rate, burst: this.burst, setting: 'nginx_config.stream.udp_session_rate' },
      overload: { rate, narrowed_to: Math.round(rate * this.scale), setting: 'nginx_config.stream.udp_session_rate' },
    };
  }

  /**
   * May a session start for a source that holds `sourceSessions` sessions now, on a listener that holds
   * `listenerSessions` under its own cap `listener` (null: no cap)? null = yes (a token was taken); else the reason
   * it may not, counted and warned about (at most once a second per reason).
   */
  admit(sourceSessions: number, now: number, listener: ListenerSessionCap | null = null, listenerSessions = 0): SessionRefusal | null {
    const cap = this.settingsNow.maxPerSource;
    if (cap > 0 && sourceSessions >= cap) return this.refuse('per_source');
    if (listener !== null) {
      const max = listener.max;
      if (max !== null && listenerSessions >= max) {
        this.capped = listener;
        return this.refuse('listener_max_sessions');
      }
    }
    if (this.settingsNow.rate === 0) return null;
    this.attempts++;
    if (now > this.last) {
      this.tokens = Math.min(this.burst * this.scale, this.tokens + ((now - this.last) * this.settingsNow.rate * this.scale) / 1000);
      this.last = now;
    }
    if (this.tokens < 1) return this.refuse(this.scale < 1 ? 'overload' : 'rate');
    this.tokens--;
    return null;
  }

  /**
   * The flow's clock ticked `intervalMs` after its previous tick, `lateMs` later than due, with the loop busy
   * `busy` (0..1) of that time (null: unknown): narrow the rate while the event loop is behind and new clients
   * pour in, widen it again while the loop keeps up. Runs once per tick, never per datagram.
   */
  observeTick(intervalMs: number, lateMs: number, busy: number | null): void {
    if (this.settingsNow.rate === 0) return;
    const flooding = this.attempts * 1000 >= FLOOD_ATTEMPTS_PER_S * Math.max(1, intervalMs);
    this.attempts = 0;
    const behind = lateMs >= LATE_TICK_MS || (busy !== null && busy >= BUSY_SHARE);
    if (behind && flooding) {
      this.scale = Math.max(RATE_FLOOR, this.scale / 2);
      // what was saved up at the old rate would let a burst through just when the loop cannot take it
      this.tokens = Math.min(this.tokens, this.burst * this.scale);
    } else {
      this.scale = Math.min(1, this.scale * RECOVER);
    }
    this.fields.overload.narrowed_to = Math.round(this.settingsNow.rate * this.scale);
  }

  /** The share of udp_session_rate allowed now (1 unless the event loop runs late). */
  rateScale(): number {
    return this.scale;
  }

  /** Refusals so far, per reason (metrics, stats, tests). */
  refused(): Readonly<Record<SessionRefusal, number>> {
    return this.refusedBy;
  }

  /** Write the held-back counts and stop the summary timer (shutdown). */
  close(): void {
    this.warnings.close();
  }

  private refuse(reason: SessionRefusal): SessionRefusal {
    this.refusedBy[reason]++;
    this.warnings.warn(reason, REFUSAL_LINES[reason], this.fields[reason]);
    return reason;
  }
}

const REFUSAL_LINES: Record<SessionRefusal, string> = {
  per_source: 'udp session refused: sessions per source address reached',
  listener_max_sessions: 'udp session refused: listener session cap reached',
  rate: 'udp session refused: new-session rate reached',
  overload: 'udp session refused: event loop behind, new-session rate narrowed',
};
