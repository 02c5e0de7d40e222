// The UDP session table: find a client's session per datagram, bound the table, expire idle sessions.
// Pure data structure (no sockets, no timers): the caller owns the clock tick and closes what comes out.

/**
 * A table entry. Subclass it with the session's own state; the table links entries into intrusive
 * lists, so keeping one in order costs a few pointer writes per datagram and no allocation.
 */
export class SessionEntry {
  /** Links of the recency list the entry is on. */
  prev: SessionEntry | null = null;
  next: SessionEntry | null = null;
  /** 0: not in the table, 1: unproven (fresh), 2: assured. */
  list: 0 | 1 | 2 = 0;
  /** Table clock when the session last carried a datagram either way. */
  lastActive = 0;
  constructor(
    /** Which listener the client sent to: part of the key, so one client may talk to several ports. */
    readonly scope: number,
    readonly address: string,
    readonly port: number,
    /** Idle time after which the sweep ends the session (set again once a UDP session's upstream is known). */
    public idleMs: number,
  ) {}
}

/** A doubly linked list in recency order: head = least recently active. */
class RecencyList {
  head: SessionEntry | null = null;
  tail: SessionEntry | null = null;
  size = 0;

  push(e: SessionEntry): void {
    e.prev = this.tail;
    e.next = null;
    if (this.tail !== null) this.tail.next = e;
    else this.head = e;
    this.tail = e;
    this.size++;
  }

  unlink(e: SessionEntry): void {
    if (e.prev !== null) e.prev.next = e.next;
    else this.head = e.next;
    if (e.next !== null) e.next.prev = e.prev;
    else this.tail = e.prev;
    e.prev = e.next = null;
    this.size--;
  }
}

/** Listener scopes are below MAX_LISTENERS (4096), so scope * 65536 + port fits a small integer key. */
function slotOf(scope: number, port: number): number {
  return scope * 65536 + port;
}

/**
 * Sessions keyed by (listener scope, client address, client port), at most `maxSessions` of them.
 *
 * Eviction at the cap takes the least recently active *fresh* session first, and an assured one only
 * when no fresh session is left. A session becomes assured when the client sends again after the
 * upstream has answered (the rule Linux conntrack uses): a flood of spoofed source addresses creates
 * fresh sessions only, so it evicts its own entries and never an established conversation.
 */
export class SessionTable<S extends SessionEntry> {
  /** Coarse clock (ms) set by the caller's tick; read per datagram instead of Date.now(). */
  now: number;
  /**
   * The caller's tick period (ms). Activity is stamped with the last tick, up to one step before it happened, so
   * the sweep waits that much longer: a session ends between its idle time and one step after, never before.
   */
  clockStepMs = 0;
  private readonly byAddress = new Map<string, Map<number, S>>();
  private readonly fresh = new RecencyList();
  private readonly assured = new RecencyList();
  /** Sessions per listener scope (a listener's max_connections); kept on add and remove, never per datagram. */
  private readonly perScope: number[] = [];

  constructor(
    /** The cap; a config reload may change it (a lower cap evicts one session per new one until it holds). */
    public maxSessions: number,
    now: number,
  ) {
    if (!Number.isInteger(maxSessions) || maxSessions < 1) throw new RangeError(`maxSessions must be a positive integer, got ${maxSessions}`);
    this.now = now;
  }

  get size(): number {
    return this.fresh.size + this.assured.size;
  }

  get assuredCount(): number {
    return this.assured.size;
  }

  /** The session of this client on this listener. Per datagram: two map lookups, no allocation. */
  get(scope: number, address: string, port: number): S | undefined {
    return this.byAddress.get(address)?.get(slotOf(scope, port));
  }

  /** Sessions the client address holds now, all its ports on every listener (the per-source cap). One map lookup. */
  countOf(address: string): number {
    return this.byAddress.get(address)?.size ?? 0;
  }

  /** Sessions of the listener `scope` now (its max_connections). One array read. */
  countIn(scope: number): number {
    return this.perScope[scope] ?? 0;
  }

  /**
   * Insert a new session (its key must not be in the table). At the cap, one session is evicted first
   * and returned, already removed: the caller closes it. Returns null when nothing was evicted.
   */
  add(s: S): S | null {
    let victim: S | null = null;
    if (this.size >= this.maxSessions) {
      victim = (this.fresh.head ?? this.assured.head) as S;
      this.remove(victim);
    }
    let ports = this.byAddress.get(s.address);
    if (ports === undefined) {
      ports = new Map();
      this.byAddress.set(s.address, ports);
    }
    ports.set(slotOf(s.scope, s.port), s);
    this.perScope[s.scope] = (this.perScope[s.scope] ?? 0) + 1;
    s.lastActive = this.now;
    s.list = 1;
    this.fresh.push(s);
    return victim;
  }

  /** Record activity: the session moves to the recent end of its list. */
  touch(s: S): void {
    s.lastActive = this.now;
    if (s.list === 0) return;
    const list = s.list === 1 ? this.fresh : this.assured;
    if (list.tail === s) return;
    list.unlink(s);
    list.push(s);
  }

  /** Mark a session as an established two-way conversation (see the class comment). */
  assure(s: S): void {
    if (s.list !== 1) return;
    this.fresh.unlink(s);
    s.list = 2;
    this.assured.push(s);
  }

  /** Take a session out of the table. Returns false when it was not in it. */
  remove(s: S): boolean {
    if (s.list === 0) return false;
    (s.list === 1 ? this.fresh : this.assured).unlink(s);
    s.list = 0;
    this.perScope[s.scope]!--;
    const ports = this.byAddress.get(s.address);
    if (ports !== undefined) {
      ports.delete(slotOf(s.scope, s.port));
      if (ports.size === 0) this.byAddress.delete(s.address);
    }
    return true;
  }

  /**
   * Set the clock to `now`, remove every session idle for at least its idleMs + clockStepMs (or `capMs` if shorter:
   * draining on shutdown), and append them to `out`. Runs once per tick, not per datagram; it visits
   * every session because idle times differ per upstream.
   */
  sweep(now: number, out: S[], capMs = Infinity): void {
    this.now = now;
    for (const list of [this.fresh, this.assured]) {
      let e = list.head;
      while (e !== null) {
        const next = e.next;
        if (now - e.lastActive >= Math.min(e.idleMs + this.clockStepMs, capMs)) {
          this.remove(e as S);
          out.push(e as S);
        }
        e = next;
      }
    }
  }

  /** Every session, least recently active first (fresh ones before assured ones). For shutdown and tests. */
  entries(): S[] {
    const all: S[] = [];
    for (const list of [this.fresh, this.assured]) {
      for (let e = list.head; e !== null; e = e.next) all.push(e as S);
    }
    return all;
  }
}
