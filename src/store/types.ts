// Shapes the store hands out. Values are the objects as the user sent them, plus id and timestamps.

import type { JsonObject } from '../lib/json';
import type { Keyring } from './keyring';

/** Re-exported for the store's own users; other layers import it from lib/json. */
export type { JsonObject } from '../lib/json';

export type Resource = 'stream_routes' | 'upstreams' | 'ssls' | 'services' | 'plugin_metadata' | 'stream_listeners';

/** [weir] stream_listeners come last: export and import list them after APISIX's resources. */
export const RESOURCES: readonly Resource[] = ['stream_routes', 'upstreams', 'ssls', 'services', 'plugin_metadata', 'stream_listeners'];

export interface StoredObject {
  id: string;
  value: JsonObject;
  /** Store revision at creation / last modification (APISIX's createdIndex / modifiedIndex). */
  createdIndex: number;
  modifiedIndex: number;
  /**
   * The JSON text as stored. Equal text means an equal object, whoever wrote the row (rows edited by hand
   * keep their old indexes), so the snapshot build keys its compile cache on it.
   */
  raw: string;
  /** Fleet mode only (src/fleet/): where the object came from; shown beside `value` by the Admin API. */
  origin?: 'etcd' | 'local';
}

/** A row that could not be read (not JSON, not an object, a private key the keyring cannot open). */
export interface UnreadableRow {
  res: Resource;
  id: string;
  /** e.g. `ERR_STORE_BAD_ROW: upstreams row "7": value is not valid JSON` */
  message: string;
}

/** Everything the data plane needs to build a snapshot, read in one transaction. */
export interface StoreContents {
  /** Monotonic store revision; changes whenever any object changes. */
  revision: number;
  streamRoutes: StoredObject[];
  upstreams: StoredObject[];
  ssls: StoredObject[];
  /** Absent in hand-built contents (tests): none. */
  services?: StoredObject[];
  pluginMetadata?: StoredObject[];
  /** [weir] Listener objects (readAll fills it; hand-built contents may leave it out). */
  streamListeners?: StoredObject[];
  /** Rows that could not be read; they are left out of the lists above. */
  unreadable: UnreadableRow[];
}

/** One row that changed: as it is now, or gone (deleted, or unreadable now: then `unreadable` says why). */
export interface RowChange {
  res: Resource;
  id: string;
  row: StoredObject | null;
  unreadable: string | null;
}

/** The rows changed after a revision, read in one transaction (Store.readChanges). */
export interface StoreChanges {
  /** The store revision the rows were read at. */
  revision: number;
  /** Each changed row once, whatever number of times it changed; no order promised. */
  changes: RowChange[];
}

/** One object that uses an upstream, and how. */
export interface UpstreamUser {
  res: 'stream_routes' | 'services';
  id: string;
  via: 'upstream_id' | 'plugin';
}

/** What put() did: `created` is false when an existing row was replaced. */
export interface PutResult {
  object: StoredObject;
  created: boolean;
}

/**
 * The SQLite-backed object store (src/store/store.ts). Synchronous; knows nothing about HTTP or APISIX
 * rules (those live in src/objects/). Every write bumps the revision.
 */
export interface Store {
  /** The database file path (for messages). */
  readonly path: string;
  /** Everything, read in one transaction; rows ordered by id in byte order (the route precedence order). */
  readAll(): StoreContents;
  /**
   * The rows changed after revision `since`, read (and decrypted) in one transaction; nothing else is read.
   * null when the change log does not reach back to `since` (pruned, or the file was replaced) or when
   * more than `maxChanges` revisions passed: then readAll() is the way.
   */
  readChanges(since: number, maxChanges: number): StoreChanges | null;
  revision(): number;
  get(res: Resource, id: string): StoredObject | undefined;
  /** All rows of one resource, ordered by id in byte order. */
  list(res: Resource): StoredObject[];
  /** How many rows one resource has (no row is read or decrypted). */
  count(res: Resource): number;
  /**
   * Insert or replace the row `id`; `value` is stored as given (it should already hold id and timestamps).
   * `indexes` sets createdIndex/modifiedIndex (a fleet data plane stores etcd's revisions); default: the
   * next store revision, createdIndex kept on replace.
   */
  put(res: Resource, id: string, value: JsonObject, indexes?: { created: number; modified: number }): PutResult;
  /** False when there was no such row. */
  delete(res: Resource, id: string): boolean;
  /** The next POST id: a 20-digit zero-padded increasing decimal string not used by any object. */
  nextId(): string;
  /**
   * What uses upstream `upstreamId` (compared as text): stream routes, then services, each in id order, by
   * their upstream_id or by an upstream_id in their traffic-split plugin.
   */
  upstreamUsers(upstreamId: string): UpstreamUser[];
  /** Ids of the stream routes whose service_id is `serviceId` (as text), ordered by id. */
  routesUsingService(serviceId: string): string[];
  /** Upstreams, then stream routes (inline upstream), whose tls.client_cert_id is `sslId` (as text), each ordered by id. */
  objectsUsingSsl(sslId: string): Array<{ res: 'upstreams' | 'stream_routes'; id: string }>;
  /** Run fn in one write transaction (BEGIN IMMEDIATE); store calls inside it join it. Not reentrant. */
  transaction<T>(fn: () => T): T;
  /** Config reload: throws KeyringError when `ring` cannot decrypt every stored private key. */
  verifyKeyring(ring: Keyring | null): void;
  /** Config reload: seal and open private keys with `ring` from now on (verified first; throws like verifyKeyring). */
  setKeyring(ring: Keyring | null): void;
  close(): void;
}
