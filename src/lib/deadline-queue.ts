// Many deadlines of the same length with one timer instead of a setTimeout (and a clearTimeout) each, e.g. the
// connect timeouts of a data plane (the Bun one uses it per timeout value). Items with the same timeout expire in
// the order they started, so a FIFO is exact. Plain timers only: nothing here differs by runtime.

/** Something waiting for its deadline (a dial in flight). `slot` is owned by the queue. */
export interface Deadlined {
  deadline: number;
  slot: number;
}

/**
 * FIFO of items that all wait `ms`. A settled item is removed by nulling its slot (no search, no timer call);
 * the head skips nulls, and the array is compacted once the consumed prefix is half of it, so memory follows
 * the dials in flight, not the dials per timeout. One timer, armed for the head's deadline; when it fires
 * early (its item settled) it re-arms for the new head.
 */
export class DeadlineQueue<T extends Deadlined> {
  private items: Array<T | null> = [];
  /** Absolute index of items[0] (slots keep counting up across compactions). */
  private base = 0;
  /** Absolute index of the oldest slot that may still be waiting. */
  private head = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** Items still waiting (non-null slots from the head on). */
  private live = 0;

  constructor(
    readonly ms: number,
    private readonly expire: (item: T) => void,
  ) {}

  /** Start waiting: `expire(item)` runs `ms` from now unless remove(item) runs first. */
  add(item: T, now: number): void {
    item.deadline = now + this.ms;
    item.slot = this.base + this.items.length;
    this.items.push(item);
    this.live++;
    if (this.timer === null) this.arm(this.ms);
  }

  /** The item settled (connected or failed). Safe to call twice, or after it expired. */
  remove(item: T): void {
    const i = item.slot - this.base;
    if (i < 0 || i >= this.items.length || this.items[i] !== item) return;
    this.items[i] = null;
    this.live--;
    if (item.slot === this.head) this.skipSettled();
    else if (this.items.length >= 1024 && this.live * 4 < this.items.length) this.pack();
  }

  /**
   * A head that waits long (an upstream that never answers) while later dials settle leaves nulls behind it:
   * keep only the waiting items once they are under a quarter of the slots.
   */
  private pack(): void {
    const kept: Array<T | null> = [];
    for (let i = this.head - this.base; i < this.items.length; i++) {
      const it = this.items[i];
      if (it == null) continue;
      it.slot = this.head + kept.length;
      kept.push(it);
    }
    this.items = kept;
    this.base = this.head;
  }

  /** Slots held, settled ones included (tests: memory follows the dials in flight). */
  held(): number {
    return this.items.length;
  }

  /** Items waiting now. */
  size(): number {
    return this.live;
  }

  private skipSettled(): void {
    const items = this.items;
    let i = this.head - this.base;
    while (i < items.length && items[i] === null) i++;
    this.head = this.base + i;
    if (i === items.length) {
      items.length = 0;
      this.base = this.head;
    } else if (i >= 64 && i * 2 >= items.length) {
      items.splice(0, i);
      this.base = this.head;
    }
  }

  private arm(delay: number): void {
    // clamped: setTimeout treats more than 2^31-1 ms as 1 ms; an early fire just re-arms
    this.timer = setTimeout(fire, Math.min(Math.max(1, delay), 0x7fffffff), this);
    // a pending connect keeps the process alive by its socket; the timer alone must not
    (this.timer as { unref?: () => void }).unref?.();
  }

  /** @internal the timer's callback */
  onTimer(): void {
    this.timer = null;
    const now = Date.now();
    // expire() may add (a retry with the same timeout) or remove items: re-read the array each step
    for (;;) {
      const i = this.head - this.base;
      if (i >= this.items.length) break;
      const item = this.items[i] ?? null;
      if (item === null) {
        this.head++;
        continue;
      }
      if (item.deadline > now) break;
      this.items[i] = null;
      this.live--;
      this.head++;
      this.expire(item);
    }
    this.skipSettled();
    const i = this.head - this.base;
    if (i < this.items.length && this.timer === null) this.arm(this.items[i]!.deadline - now);
  }
}

function fire<T extends Deadlined>(q: DeadlineQueue<T>): void {
  q.onTimer();
}
