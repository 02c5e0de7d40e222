// Shapes the store hands out. Values are the objects as the user sent them, plus id and timestamps.

export type Resource = 'stream_routes' | 'upstreams' | 'ssls';

export const RESOURCES: readonly Resource[] = ['stream_routes', 'upstreams', 'ssls'];

/** A JSON object as stored: what the user sent, plus `id`, `create_time`, `update_time`. */
export type JsonObject = { [key: string]: unknown };

export interface StoredObject {
  id: string;
  value: JsonObject;
  /** Store revision at creation / last modification (APISIX's createdIndex / modifiedIndex). */
  createdIndex: number;
  modifiedIndex: number;
}

/** Everything the data plane needs to build a snapshot, read in one transaction. */
export interface StoreContents {
  /** Monotonic store revision; changes whenever any object changes. */
  revision: number;
  streamRoutes: StoredObject[];
  upstreams: StoredObject[];
  ssls: StoredObject[];
}
