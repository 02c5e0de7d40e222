// control_plane: an Admin API write goes to etcd, not to SQLite. The Admin API's own operation runs on the local
// copy (caught up with etcd first) inside a transaction that is rolled back, so bodies, ids, timestamps,
// reference checks and errors are exactly those of a local write; what it would have written is then written to
// etcd in one transaction, each key only if its mod_revision is still the one the local copy holds. A race with
// another writer is a 409, never a lost update. The sync loop then brings the write back into SQLite.

import type { ObjectResult } from '../objects/index';
import { ObjectError } from '../objects/errors';
import type { JsonObject, Resource, Store } from '../store/types';
import type { EtcdClient } from './etcd-client';
import { EtcdError } from './gateway';
import { encodeObject, keyOfObject } from './objects';
import type { FleetSync } from './sync';

interface RecordedWrite {
  res: Resource;
  id: string;
  /** null: a delete */
  value: JsonObject | null;
  expectedMod: number;
}

/** How long a write waits for the local copy to catch up with etcd (before) and to see the write (after). */
const CATCH_UP_MS = 5000;
const POST_ID_DIGITS = 20;

/** A store that records the puts and deletes made through it (and makes them, inside the rehearsal). */
function recordingStore(store: Store, writes: RecordedWrite[], postId: string | null): Store {
  const expected = (res: Resource, id: string): number => {
    const seen = writes.find((w) => w.res === res && w.id === id);
    return seen ? seen.expectedMod : (store.get(res, id)?.modifiedIndex ?? 0);
  };
  return {
    ...store,
    put(res, id, value, indexes) {
      writes.push({ res, id, value, expectedMod: expected(res, id) });
      return store.put(res, id, value, indexes);
    },
    delete(res, id) {
      writes.push({ res, id, value: null, expectedMod: expected(res, id) });
      return store.delete(res, id);
    },
    nextId() {
      if (postId === null) throw new Error('nextId outside POST');
      return postId;
    },
  };
}

function unavailable(message: string): ObjectError {
  return new ObjectError(503, { error_msg: message });
}

export class ControlPlaneWriter {
  constructor(
    private readonly client: EtcdClient,
    private readonly sync: FleetSync,
    private readonly prefix: string,
    private readonly keyring: readonly string[],
  ) {}

  /**
   * Run one Admin API write through etcd. `rehearse(store)` runs the Admin API's operation with that store, in
   * a transaction that is rolled back (ObjectContext.dryRun), and returns its answer. Runs per admin write.
   */
  async write(method: string, rehearse: (store: Store) => ObjectResult, store: Store): Promise<ObjectResult> {
    try {
      // the local copy must hold what etcd holds now: the checks (ids, references, create_time) read it
      const latest = await this.client.lastModRevision(`${this.prefix}/`);
      if (!(await this.sync.waitForRevision(latest, CATCH_UP_MS))) {
        throw unavailable(`the local copy has not caught up with etcd (revision ${latest}) within ${CATCH_UP_MS} ms; retry`);
      }
      // POST ids come from etcd itself, as APISIX makes them: the revision of a put to <prefix>/gen_id
      const postId = method === 'POST' ? String((await this.client.put(`${this.prefix}/gen_id`, '0')).revision).padStart(POST_ID_DIGITS, '0') : null;
      const writes: RecordedWrite[] = [];
      const result = rehearse(recordingStore(store, writes, postId));
      if (writes.length === 0) return result;
      const ops = writes.map((w) => ({
        key: keyOfObject(this.prefix, w.res, w.id),
        value: w.value === null ? null : encodeObject(w.res, w.value, this.keyring),
        expectedMod: w.expectedMod,
      }));
      const { ok, header } = await this.client.writeIfUnchanged(ops);
      if (!ok) {
        const w = writes[0]!;
        throw new ObjectError(409, {
          error_msg: `${w.res}/${w.id} was changed by another writer since it was read (mod_revision ${w.expectedMod}); read it again and retry`,
        });
      }
      await this.sync.waitForRevision(header.revision, CATCH_UP_MS); // so that a GET right after sees the write
      return result;
    } catch (err) {
      if (err instanceof EtcdError) throw unavailable(`etcd: ${err.message}`);
      throw err;
    }
  }
}
