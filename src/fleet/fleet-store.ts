// The fleet's side of the SQLite file: applies a full load or one watch batch to the object tables in ONE
// transaction each, and keeps the sync position (revision, cluster id) and which rows came from etcd.
// Runs on the sync loop's turns only; the proxy keeps reading snapshots, which the holder rebuilds after.

import type { SqlDb, SqlStatement } from '../runtime/types';
import type { JsonObject, Resource, Store } from '../store/types';
import { FLEET_RESOURCES } from './objects';

export interface FleetState {
  /** The last etcd revision applied (0: never synced). */
  revision: number;
  clusterId: string;
  prefix: string;
  /** Unix ms of the last full load, or null (this file never synced). */
  lastFullSync: number | null;
}

/** An object read from etcd, already decoded and checked. */
export interface FleetItem {
  res: Resource;
  id: string;
  value: JsonObject;
  createRevision: number;
  modRevision: number;
}

/** One watch event for a store row: the new object, or null for a delete. */
export interface FleetChange {
  res: Resource;
  id: string;
  item: FleetItem | null;
}

export interface FullLoadResult {
  written: number;
  deleted: number;
  /** Rows written locally (Admin API before fleet mode, CLI --force) that the load replaced or removed. */
  droppedLocal: number;
}

const rowKey = (res: string, id: string): string => `${res}\0${id}`;

export class FleetStore {
  private readonly readState: SqlStatement;
  private readonly writeState: SqlStatement;
  private readonly allFleet: SqlStatement;
  private readonly getFleet: SqlStatement;
  private readonly putFleet: SqlStatement;
  private readonly delFleet: SqlStatement;
  private readonly rowIds: Record<Resource, SqlStatement>;

  constructor(
    private readonly store: Store,
    db: SqlDb,
  ) {
    this.readState = db.prepare('SELECT key, value FROM fleet_state');
    this.writeState = db.prepare('INSERT INTO fleet_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
    this.allFleet = db.prepare('SELECT resource, id, mod_revision FROM fleet_objects');
    this.getFleet = db.prepare('SELECT mod_revision FROM fleet_objects WHERE resource = ? AND id = ?');
    this.putFleet = db.prepare(
      'INSERT INTO fleet_objects (resource, id, mod_revision) VALUES (?, ?, ?) ON CONFLICT (resource, id) DO UPDATE SET mod_revision = excluded.mod_revision',
    );
    this.delFleet = db.prepare('DELETE FROM fleet_objects WHERE resource = ? AND id = ?');
    // table names come from the fixed resource list
    this.rowIds = Object.fromEntries(FLEET_RESOURCES.map((r) => [r, db.prepare(`SELECT id FROM ${r}`)])) as Record<Resource, SqlStatement>;
  }

  state(): FleetState {
    const kv = new Map(this.readState.all().map((r) => [String(r.key), String(r.value)]));
    const full = kv.get('last_full_sync');
    return {
      revision: Number(kv.get('revision') ?? 0),
      clusterId: kv.get('cluster_id') ?? '',
      prefix: kv.get('prefix') ?? '',
      lastFullSync: full === undefined ? null : Number(full),
    };
  }

  /** Was this file filled from etcd under `prefix` (then it serves before etcd answers)? */
  hasSynced(prefix: string): boolean {
    const s = this.state();
    return s.lastFullSync !== null && s.prefix === prefix;
  }

  /** 'etcd' when the row is the one the sync wrote (any other write drops the mark: a trigger, 0005_fleet.sql). */
  originOf(res: Resource, id: string): 'etcd' | 'local' {
    return this.getFleet.get(res, id) !== undefined ? 'etcd' : 'local';
  }

  private write(item: FleetItem): void {
    this.store.put(item.res, item.id, item.value, { created: item.createRevision, modified: item.modRevision });
    this.putFleet.run(item.res, item.id, item.modRevision);
  }

  /**
   * A full load at `revision`: write what changed, delete every row etcd does not have (local rows too),
   * except `keep` (keys whose etcd value was invalid: the last valid copy stays, as in APISIX). One transaction.
   */
  replaceAll(items: readonly FleetItem[], keep: ReadonlySet<string>, at: { revision: number; clusterId: string; prefix: string; now: number }): FullLoadResult {
    return this.store.transaction(() => {
      const fleet = new Map(this.allFleet.all().map((r) => [rowKey(String(r.resource), String(r.id)), Number(r.mod_revision)]));
      const result: FullLoadResult = { written: 0, deleted: 0, droppedLocal: 0 };
      const loaded = new Set<string>();
      const existing = new Set<string>();
      for (const res of FLEET_RESOURCES) {
        for (const r of this.rowIds[res].all()) existing.add(rowKey(res, String(r.id)));
      }
      for (const item of items) {
        const k = rowKey(item.res, item.id);
        loaded.add(k);
        const mine = fleet.get(k);
        const present = existing.has(k);
        if (mine === item.modRevision && present) continue; // unchanged since the last sync
        if (present && mine === undefined) result.droppedLocal++;
        this.write(item);
        result.written++;
      }
      for (const k of existing) {
        if (loaded.has(k) || keep.has(k)) continue;
        const [res, id] = k.split('\0') as [Resource, string];
        if (!fleet.has(k)) result.droppedLocal++;
        this.store.delete(res, id);
        result.deleted++;
      }
      // rows kept for an invalid etcd value keep their mark; every loaded one has it (write() set it)
      this.setStateRows({ revision: String(at.revision), cluster_id: at.clusterId, prefix: at.prefix, last_full_sync: String(at.now) });
      return result;
    });
  }

  /** One watch batch, in one transaction; the revision moves to `revision`. Returns how many rows changed. */
  applyBatch(changes: readonly FleetChange[], revision: number): number {
    return this.store.transaction(() => {
      let n = 0;
      for (const c of changes) {
        if (c.item !== null) {
          this.write(c.item);
          n++;
        } else {
          if (this.store.delete(c.res, c.id)) n++;
          this.delFleet.run(c.res, c.id);
        }
      }
      this.setStateRows({ revision: String(revision) });
      return n;
    });
  }

  private setStateRows(rows: Record<string, string>): void {
    for (const [k, v] of Object.entries(rows)) this.writeState.run(k, v);
  }
}

/** The key FleetStore.replaceAll's `keep` set uses for a row. */
export function fleetRowKey(res: Resource, id: string): string {
  return rowKey(res, id);
}
