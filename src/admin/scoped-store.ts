// The store as a scoped admin key sees it: objects outside the key's scope do not exist (reads, lists, and the
// reference checks the object operations run), and writes outside it are refused as if the object were missing.
// Wrapping the store keeps the object operations themselves unaware of scopes: they answer a scoped key exactly
// as they would answer anyone about a store that lacks the other tenants' objects.

import { badRequest, keyNotFound } from '../objects/errors';
import type { Resource, Store, StoreContents } from '../store/types';
import type { KeyScope } from './scope';

/** What a scoped key reads where a user's id would name an object it does not see. */
export const HIDDEN_ID = '(outside this key\'s scope)';

export function scopedStore(store: Store, scope: KeyScope, method: string): Store {
  const sees = (res: Resource, id: string) => scope.sees(res, id);
  const mayWrite = (res: Resource, id: string): void => {
    if (scope.allows(res, id, method)) return;
    // POST ids are generated: saying so leaks nothing, and "not found" would make no sense for a create
    if (method === 'POST') throw badRequest(`the key's scope does not cover the generated id ${id}; PUT an id within the scope instead`);
    throw keyNotFound();
  };
  const readAll = (): StoreContents => {
    const all = store.readAll();
    return {
      ...all,
      streamRoutes: all.streamRoutes.filter((r) => sees('stream_routes', r.id)),
      upstreams: all.upstreams.filter((r) => sees('upstreams', r.id)),
      ssls: all.ssls.filter((r) => sees('ssls', r.id)),
      ...(all.services === undefined ? {} : { services: all.services.filter((r) => sees('services', r.id)) }),
      ...(all.pluginMetadata === undefined ? {} : { pluginMetadata: all.pluginMetadata.filter((r) => sees('plugin_metadata', r.id)) }),
      ...(all.streamListeners === undefined ? {} : { streamListeners: all.streamListeners.filter((r) => sees('stream_listeners', r.id)) }),
    };
  };
  return {
    path: store.path,
    readAll,
    revision: () => store.revision(),
    // the snapshot's reader, not the object operations' (they never call it): filtered all the same
    readChanges: (since, max) => {
      const got = store.readChanges(since, max);
      return got === null ? null : { ...got, changes: got.changes.filter((c) => sees(c.res, c.id)) };
    },
    get: (res, id) => (sees(res, id) ? store.get(res, id) : undefined),
    list: (res) => store.list(res).filter((r) => sees(res, r.id)),
    // the rows this key sees (a count of every row would tell other tenants' objects exist)
    count: (res) => store.list(res).filter((r) => sees(res, r.id)).length,
    put: (res, id, value) => {
      mayWrite(res, id);
      return store.put(res, id, value);
    },
    delete: (res, id) => {
      mayWrite(res, id);
      return store.delete(res, id);
    },
    nextId: () => store.nextId(),
    // a delete must still be refused while another tenant's route uses the object; its id is not shown
    // (the ones it sees first, so the message names one of those when there is one)
    upstreamUsers: (upstreamId) => {
      const users = store.upstreamUsers(upstreamId);
      return [...users.filter((u) => sees(u.res, u.id)), ...users.filter((u) => !sees(u.res, u.id)).map((u) => ({ ...u, id: HIDDEN_ID }))];
    },
    routesUsingService: (serviceId) => {
      const ids = store.routesUsingService(serviceId);
      return [...ids.filter((id) => sees('stream_routes', id)), ...ids.filter((id) => !sees('stream_routes', id)).map(() => HIDDEN_ID)];
    },
    objectsUsingSsl: (sslId) => {
      const users = store.objectsUsingSsl(sslId);
      return [...users.filter((u) => sees(u.res, u.id)), ...users.filter((u) => !sees(u.res, u.id)).map((u) => ({ ...u, id: HIDDEN_ID }))];
    },
    transaction: (fn) => store.transaction(fn),
    // the process's keyring is not a key's to change: a scoped call never reloads it
    verifyKeyring: () => {
      throw new Error('a scoped store cannot check the keyring');
    },
    setKeyring: () => {
      throw new Error('a scoped store cannot change the keyring');
    },
    close: () => {
      // the wrapper does not own the store
    },
  };
}
