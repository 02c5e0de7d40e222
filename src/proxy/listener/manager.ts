// The listen phase's bookkeeping: apply a list of listeners (today the config's; later objects from the store)
// by binding the new ones and unbinding the removed ones, without touching the others. Protocol-neutral:
// the TCP and UDP listeners each run one ListenerSet with their own binder.

import { formatHostPort } from '../../lib/ip';
import { listenError } from '../../lib/listen-error';

/** What every listener spec has: an address and where it came from (for messages). */
export interface ListenerSpec {
  host: string;
  port: number;
  /** "apisix.stream_proxy.tcp[1]", or an object id once listeners are objects. */
  origin: string;
}

/** A bound listener as the manager keeps it. `spec` is replaced in place when only non-binding fields change. */
export interface ListenerEntry<S extends ListenerSpec, H> {
  spec: S;
  handle: H;
  /** Small integer unique among the set's live entries (UDP uses it in the session key). */
  readonly scope: number;
}

/** How one protocol binds and unbinds. */
export interface ListenerBinder<S extends ListenerSpec, H extends { host: string; port: number }> {
  /** Bind; rejects with the kernel's error (`code` e.g. EADDRINUSE). `entry` is filled in once it resolves. */
  bind(spec: S, scope: number, entry: () => ListenerEntry<S, H>): Promise<H>;
  /**
   * Stop accepting (TCP) or receiving (UDP) and release the address. Open connections are the flow's business:
   * `why` is 'apply' when a list left the listener out (its session policy applies), 'close' on shutdown.
   */
  unbind(entry: ListenerEntry<S, H>, why: 'apply' | 'close'): Promise<void>;
  /** Fields whose change needs a new socket (e.g. TLS on or off); others are swapped in place. */
  bindKey(spec: S): string;
}

/** The address actually bound (port 0 in a spec becomes the real port). */
export interface BoundListener {
  host: string;
  port: number;
  origin: string;
}

/** A failed apply(): the message names the address and origin; `origin` says which spec could not be bound. */
export interface ListenerError extends Error {
  code: string;
  origin: string;
}

function failed(err: unknown, spec: ListenerSpec): ListenerError {
  return Object.assign(listenError(err, spec.host, spec.port, spec.origin), { origin: spec.origin }) as ListenerError;
}

/** What apply() did. */
export interface ApplyResult {
  added: BoundListener[];
  removed: BoundListener[];
  changed: BoundListener[];
}

/** Above this many listeners, UDP's session keys (scope * 65536 + port) would leave small integers. */
export const MAX_LISTENERS = 4096;

/** Identity of a spec across applies: its address (port 0 asks for a fresh port each time, so it is unique per spec). */
function addressKey(spec: ListenerSpec, index: number): string {
  return spec.port === 0 ? `${spec.host}|0|${spec.origin}|${index}` : `${spec.host}|${spec.port}`;
}

export class ListenerSet<S extends ListenerSpec, H extends { host: string; port: number }> {
  private readonly entries = new Map<string, ListenerEntry<S, H>>();
  private readonly freeScopes: number[] = [];
  private nextScope = 0;

  constructor(private readonly binder: ListenerBinder<S, H>) {}

  /** The bound listeners, in the order they were first applied. */
  list(): BoundListener[] {
    return [...this.entries.values()].map((e) => ({ host: e.handle.host, port: e.handle.port, origin: e.spec.origin }));
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * Make the bound set equal `specs`. New addresses are bound first, in order; if one fails, the ones bound
   * by this call are released again and the call rejects with a ListenerError naming the address and its
   * origin, leaving the previous set serving. Then removed addresses are unbound, and kept ones take their new spec.
   */
  async apply(specs: readonly S[]): Promise<ApplyResult> {
    const wanted = new Map<string, S>();
    specs.forEach((spec, i) => {
      const key = addressKey(spec, i);
      if (wanted.has(key)) throw failed(Object.assign(new Error('listed twice'), { code: 'ERR_LISTEN_TWICE' }), spec);
      wanted.set(key, spec);
    });
    const result: ApplyResult = { added: [], removed: [], changed: [] };
    const rebind: Array<[string, S]> = [];
    const fresh: Array<[string, S]> = [];
    for (const [key, spec] of wanted) {
      const old = this.entries.get(key);
      if (old === undefined) fresh.push([key, spec]);
      else if (this.binder.bindKey(old.spec) !== this.binder.bindKey(spec)) rebind.push([key, spec]);
      else if (old.spec !== spec) {
        old.spec = spec;
        result.changed.push(this.bound(old));
      }
    }
    // a changed socket option needs the address free first: unbind, then bind with the new spec
    for (const [key] of rebind) await this.release(key, result.removed, 'apply');
    const added: string[] = [];
    for (const [key, spec] of [...rebind, ...fresh]) {
      try {
        await this.add(key, spec);
      } catch (err) {
        for (const k of added) await this.release(k, [], 'close');
        throw failed(err, spec);
      }
      added.push(key);
      result.added.push(this.bound(this.entries.get(key)!));
    }
    for (const key of [...this.entries.keys()]) if (!wanted.has(key)) await this.release(key, result.removed, 'apply');
    return result;
  }

  /** Unbind everything (shutdown). */
  async closeAll(): Promise<void> {
    const removed: BoundListener[] = [];
    for (const key of [...this.entries.keys()]) await this.release(key, removed, 'close');
  }

  /** The bound entries with their handles (e.g. to pass their sockets on to a new process). */
  listEntries(): ReadonlyArray<ListenerEntry<S, H>> {
    return [...this.entries.values()];
  }

  private async add(key: string, spec: S): Promise<void> {
    const scope = this.freeScopes.pop() ?? this.nextScope++;
    if (scope >= MAX_LISTENERS) {
      this.nextScope--;
      throw Object.assign(new Error(`more than ${MAX_LISTENERS} listeners`), { code: 'ERR_TOO_MANY_LISTENERS' });
    }
    let entry: ListenerEntry<S, H> | undefined;
    try {
      const handle = await this.binder.bind(spec, scope, () => entry!);
      entry = { spec, handle, scope };
      this.entries.set(key, entry);
    } catch (err) {
      this.freeScopes.push(scope);
      throw err;
    }
  }

  private async release(key: string, removed: BoundListener[], why: 'apply' | 'close'): Promise<void> {
    const entry = this.entries.get(key);
    if (entry === undefined) return;
    this.entries.delete(key);
    removed.push(this.bound(entry));
    await this.binder.unbind(entry, why);
    this.freeScopes.push(entry.scope);
  }

  private bound(e: ListenerEntry<S, H>): BoundListener {
    return { host: e.handle.host, port: e.handle.port, origin: e.spec.origin };
  }
}

/** "127.0.0.1:9100 (apisix.stream_proxy.tcp[0])", for log lines. */
export function describeListener(l: BoundListener): string {
  return `${formatHostPort(l.host, l.port)} (${l.origin})`;
}
