// Keeps every worker's listeners equal to what the config and the stored stream_listeners objects ask for.
// Worker 0 owns it: after each snapshot swap that changed the stored rows (its own Admin API write, or a commit
// by the CLI or the sqlite3 shell noticed by the store watcher; the rows travel in the snapshot) and on config
// reload it computes the lists once and applies them to every worker (itself and, over IPC, the others), one
// change at a time.

import type { Config, TcpListenSpec, UdpListenSpec } from '../config/types';
import type { JsonObject } from '../lib/json';
import { logger } from '../log/logger';
import type { ListenerError } from '../proxy/listener/manager';
import type { TcpProxy } from '../proxy/listener/tcp';
import type { UdpProxy } from '../proxy/listener/udp';
import type { StoredObject } from '../store/types';
import { type DesiredListeners, type ListenerLists, desiredListeners, objectIdOf, objectOrigin, servedPorts } from './listener-specs';

/** A listener a worker could not bind: its origin and the kernel's reason. */
export interface ApplyFailure {
  origin: string;
  message: string;
}

/** One process whose listeners follow the lists: worker 0 itself, or another worker over IPC. */
export interface ListenerTarget {
  /** "worker 1 (pid 4242)": named in errors. */
  readonly name: string;
  /**
   * Make the process's listeners equal `lists`. A listener whose origin `mustBind` accepts must bind, else the
   * call rejects (nothing changed); the others that fail are left out and reported.
   */
  apply(lists: ListenerLists, mustBind: readonly string[]): Promise<ApplyFailure[]>;
}

/** A write the Admin API must refuse: the listener could not be bound (message names address, origin, worker). */
export class ListenerBindError extends Error {
  readonly code = 'ERR_LISTEN';
}

/** Config listeners always must bind: they were bound at start, or a reload that adds them fails without them. */
function isConfigOrigin(origin: string): boolean {
  return objectIdOf(origin) === null;
}

/**
 * Apply lists to one proxy, leaving out listeners that fail unless they must bind. Each failed try changes
 * nothing (ListenerSet.apply rolls its own binds back), so the next try starts from the same set.
 */
export async function applyTolerant<S extends { origin: string }>(
  apply: (specs: S[]) => Promise<unknown>,
  specs: readonly S[],
  mustBind: (origin: string) => boolean,
): Promise<ApplyFailure[]> {
  const failures: ApplyFailure[] = [];
  let rest = [...specs];
  for (let attempt = 0; attempt <= specs.length; attempt++) {
    try {
      await apply(rest);
      return failures;
    } catch (err) {
      const origin = (err as Partial<ListenerError>).origin;
      if (origin === undefined || mustBind(origin)) throw err;
      failures.push({ origin, message: (err as Error).message });
      rest = rest.filter((s) => s.origin !== origin);
    }
  }
  throw new Error('ERR_LISTEN: listener apply did not settle');
}

/** This process's own proxies as a target. */
export function localTarget(name: string, tcp: TcpProxy, udp: UdpProxy): ListenerTarget {
  return {
    name,
    async apply(lists, mustBind) {
      const must = (origin: string): boolean => isConfigOrigin(origin) || mustBind.includes(origin);
      const failures = await applyTolerant((specs: TcpListenSpec[]) => tcp.applyListeners(specs), lists.tcp, must);
      return [...failures, ...(await applyTolerant((specs: UdpListenSpec[]) => udp.applyListeners(specs), lists.udp, must))];
    },
  };
}

export interface ListenerSyncOptions {
  /** The stored stream_listeners rows as of the snapshot in force (Snapshot.listenerRows). */
  rows: () => readonly StoredObject[];
  /** The config in force (a reload replaces it). */
  config: () => Config;
  /** Every worker serving now, worker 0 first. */
  targets: () => readonly ListenerTarget[];
}

/**
 * The listener side of "change weir without a restart". Every operation runs alone, in call order, so two
 * applies never interleave on a ListenerSet. Problems of stored rows (invalid, duplicate address, cannot bind)
 * are logged once per row text and the row is left out until it changes; the rest keeps serving.
 */
export class ListenerSync {
  private chain: Promise<unknown> = Promise.resolve();
  /** A write the Admin API is binding before it stores it. */
  private overlay: { id: string; value: JsonObject } | null = null;
  /** Rows that could not be bound, by id: the row text then. Left out until the text changes (or a reload). */
  private readonly failing = new Map<string, string>();
  /** Problems already logged, by id: the row text and the problem. */
  private readonly reported = new Map<string, string>();
  private last: DesiredListeners | null = null;

  constructor(private readonly opts: ListenerSyncOptions) {}

  /** Ports some listener serves after the last apply (config ones included). */
  servesPort(port: number): boolean {
    return servedPorts(this.specs()).has(port);
  }

  /** The listener specs of the last apply (config items, then objects); the config's before the first. */
  specs(): ListenerLists {
    return this.last ?? { tcp: this.opts.config().stream.tcp, udp: this.opts.config().stream.udp };
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Follow the store (and the config in force). Never rejects: what cannot be bound is logged and left out. */
  sync(): Promise<void> {
    return this.serial(async () => {
      try {
        await this.applyEverywhere(this.opts.config(), []);
      } catch (err) {
        logger.error('listeners: could not apply the listeners', { error: (err as Error).message });
      }
    });
  }

  /**
   * Bind `value` as object `id` on every worker before it is stored (Admin API PUT/POST/PATCH). Rejects with a
   * ListenerBindError naming the address, the reason and (with several workers) the worker; every worker then
   * serves what it did before. On success the object stays bound until finish() (call it after the write).
   */
  prepare(id: string, value: JsonObject): Promise<void> {
    return this.serial(async () => {
      this.overlay = { id, value };
      this.failing.delete(id);
      try {
        await this.applyEverywhere(this.opts.config(), [objectOrigin(id)]);
      } catch (err) {
        this.overlay = null;
        await this.applyEverywhere(this.opts.config(), []).catch(() => undefined);
        throw err instanceof ListenerBindError ? err : new ListenerBindError((err as Error).message);
      }
    });
  }

  /** The write is stored (or failed): follow the store again, on every worker, before the Admin API answers. */
  finish(): Promise<void> {
    this.overlay = null;
    return this.sync();
  }

  /**
   * Config reload: bind the new config's listeners (and unbind the ones it dropped) on every worker. Rejects
   * with the first listener that cannot be bound; every worker then serves the old config's listeners again.
   * On success `commit` runs before any other listener change may start (it makes `next` the config in force,
   * so the next sync does not undo this one). Rows that could not be bound before are tried again.
   */
  applyConfig(next: Config, commit: () => void): Promise<void> {
    return this.serial(async () => {
      this.failing.clear();
      try {
        await this.applyEverywhere(next, []);
      } catch (err) {
        await this.applyEverywhere(this.opts.config(), []).catch(() => undefined);
        throw err;
      }
      commit();
    });
  }

  /** Compute the lists and apply them to every target; a second pass when a row failed somewhere, so all agree. */
  private async applyEverywhere(config: Config, mustBind: string[]): Promise<void> {
    for (let pass = 0; pass < 2; pass++) {
      const rows = this.readRows();
      const desired = desiredListeners(config, rows, { overlay: this.overlay, exclude: (row) => this.failing.get(row.id) === row.raw });
      // a write being bound must not be skipped silently (e.g. its address is already listed)
      const candidate = this.overlay === null ? undefined : desired.skipped.find((s) => s.id === this.overlay!.id);
      if (candidate !== undefined && mustBind.includes(objectOrigin(candidate.id))) {
        throw new ListenerBindError(`cannot listen on ${String(this.overlay!.value.addr)} (${objectOrigin(candidate.id)}): ${candidate.problem}`);
      }
      this.reportSkipped(desired);
      const targets = this.opts.targets();
      const results = await Promise.allSettled(targets.map((t) => t.apply(desired, mustBind)));
      const many = targets.length > 1;
      let failedRows = false;
      results.forEach((r, i) => {
        const where = many ? ` (${targets[i]!.name})` : '';
        if (r.status === 'rejected') throw new ListenerBindError(`${(r.reason as Error).message}${where}`);
        for (const f of r.value) {
          const id = objectIdOf(f.origin);
          const row = id === null ? undefined : rows.find((x) => x.id === id);
          if (row === undefined) continue;
          failedRows = true;
          this.failing.set(row.id, row.raw);
          logger.error('stream listener cannot be bound; skipped until it changes', { id: row.id, error: `${f.message}${where}` });
        }
      });
      this.last = desired;
      if (!failedRows) return;
    }
  }

  private readRows(): readonly StoredObject[] {
    const rows = this.opts.rows();
    // forget rows that changed or went away: they are tried (and reported) afresh
    for (const [id, raw] of this.failing) if (!rows.some((r) => r.id === id && r.raw === raw)) this.failing.delete(id);
    return rows;
  }

  /** Log each skipped row once per (row text, problem); a row no longer skipped is forgotten. */
  private reportSkipped(desired: DesiredListeners): void {
    const now = new Map(desired.skipped.map((s) => [s.id, `${s.raw}\n${s.problem}`]));
    for (const id of [...this.reported.keys()]) if (!now.has(id)) this.reported.delete(id);
    for (const s of desired.skipped) {
      const key = now.get(s.id)!;
      if (this.reported.get(s.id) === key) continue;
      this.reported.set(s.id, key);
      logger.warn('stream listener skipped', { id: s.id, problem: s.problem });
    }
  }
}
