// Host-wide connection counts for limit-conn with several worker processes: worker 0 holds every count (its own
// LocalConnCounters, decided in one thread, so exact) and the other workers ask it over the IPC channel the
// workers are started with (src/cli/worker-counters.ts wires the processes). A worker that exits gives back
// everything it held; a worker that loses worker 0 counts by itself from then on (it is about to exit anyway).
// Pure message handling: the transport is a `send` function, so tests drive both ends in one process.

import type { ConnCounters, LocalConnCounters } from './conn-counters';

/** Messages on the IPC channel; `ch` keeps them apart from other users of the channel. */
export type CounterMessage =
  | { ch: 'limit-conn'; op: 'acquire'; id: number; key: string; max: number }
  | { ch: 'limit-conn'; op: 'acquired'; id: number; n: number }
  | { ch: 'limit-conn'; op: 'release'; key: string };

export const COUNTER_CHANNEL = 'limit-conn';

export function isCounterMessage(msg: unknown): msg is CounterMessage {
  return typeof msg === 'object' && msg !== null && (msg as { ch?: unknown }).ch === COUNTER_CHANNEL;
}

/** Worker 0's side: serves the other workers from its own counts. */
export class CounterHost {
  constructor(readonly local: LocalConnCounters) {}

  /**
   * One worker's link. `send` reaches that worker; the returned handlers take its messages and its end
   * (exit or a closed channel: everything it still held is counted out).
   */
  connect(send: (msg: CounterMessage) => void): { onMessage(msg: CounterMessage): void; close(): void } {
    const held = new Map<string, number>();
    let open = true;
    return {
      onMessage: (msg) => {
        if (!open) return;
        if (msg.op === 'acquire') {
          const n = this.local.acquire(msg.key, msg.max);
          if (n > 0) held.set(msg.key, (held.get(msg.key) ?? 0) + 1);
          send({ ch: COUNTER_CHANNEL, op: 'acquired', id: msg.id, n });
        } else if (msg.op === 'release') {
          const count = held.get(msg.key);
          if (count === undefined) return; // not this worker's: ignore rather than undercount another's
          if (count <= 1) held.delete(msg.key);
          else held.set(msg.key, count - 1);
          this.local.release(msg.key);
        }
      },
      close: () => {
        if (!open) return;
        open = false;
        for (const [key, count] of held) for (let i = 0; i < count; i++) this.local.release(key);
        held.clear();
      },
    };
  }
}

/** An extra worker's counts: every acquire is decided by worker 0 (one round trip on the IPC channel). */
export class RemoteConnCounters implements ConnCounters {
  private nextId = 1;
  private readonly pending = new Map<number, { key: string; max: number; resolve: (n: number) => void }>();
  /** Counts taken here after worker 0 went away, so their releases stay here. */
  private readonly localHeld = new Map<string, number>();
  private connected = true;

  constructor(
    private readonly send: (msg: CounterMessage) => void,
    private readonly fallback: LocalConnCounters,
  ) {}

  acquire(key: string, max: number): number | Promise<number> {
    if (!this.connected) return this.acquireHere(key, max);
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, { key, max, resolve });
      try {
        this.send({ ch: COUNTER_CHANNEL, op: 'acquire', id, key, max });
      } catch {
        this.close();
      }
    });
  }

  release(key: string): void {
    const here = this.localHeld.get(key);
    if (here !== undefined) {
      if (here <= 1) this.localHeld.delete(key);
      else this.localHeld.set(key, here - 1);
      this.fallback.release(key);
      return;
    }
    if (!this.connected) return;
    try {
      this.send({ ch: COUNTER_CHANNEL, op: 'release', key });
    } catch {
      this.close();
    }
  }

  /** Worker 0 holds the counts (explain runs there, with the Admin API); here only after it went away. */
  peek(key: string): number | null {
    return this.connected ? null : this.fallback.count(key);
  }

  /** A reply from worker 0. */
  onMessage(msg: CounterMessage): void {
    if (msg.op !== 'acquired') return;
    const p = this.pending.get(msg.id);
    if (p === undefined) return;
    this.pending.delete(msg.id);
    p.resolve(msg.n);
  }

  /** Worker 0 is gone: what is still waiting, and everything after, is decided here. */
  close(): void {
    if (!this.connected) return;
    this.connected = false;
    const waiting = [...this.pending.values()];
    this.pending.clear();
    for (const p of waiting) p.resolve(this.acquireHere(p.key, p.max));
  }

  private acquireHere(key: string, max: number): number {
    const n = this.fallback.acquire(key, max);
    if (n > 0) this.localHeld.set(key, (this.localHeld.get(key) ?? 0) + 1);
    return n;
  }
}
