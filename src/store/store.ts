// The SQLite store: open + migrate once, prepared statements, row <-> StoredObject. No HTTP, no APISIX rules.

import { MIGRATIONS } from '../embedded.gen';
import { openSqlite } from '../runtime/index';
import type { SqlDb, SqlStatement } from '../runtime/types';
import { applyMigrations, type Migration } from './migrate';
import { applyConnectionPragmas } from './pragmas';
import { ENCRYPTED_PREFIX, type Keyring, KeyringError } from './keyring';
import { checkSecrets, openSecrets, sealSecrets } from './secrets';
import {
  RESOURCES,
  type JsonObject,
  type PutResult,
  type Resource,
  type RowChange,
  type Store,
  type StoreChanges,
  type StoreContents,
  type StoredObject,
  type UnreadableRow,
} from './types';

export type { Store, StoreContents, StoreChanges, RowChange, StoredObject, Resource, PutResult } from './types';

/** A row that is not what weir writes (e.g. edited by hand into invalid JSON). */
export class StoreError extends Error {
  constructor(
    readonly code: 'ERR_STORE_BAD_ROW' | 'ERR_STORE_ID_EXHAUSTED',
    message: string,
  ) {
    super(`${code}: ${message}`);
    this.name = 'StoreError';
  }
}

export interface OpenStoreOptions {
  /** An already open connection (tests, other runtimes). The store closes it on close(). */
  db?: SqlDb;
  /** Opens the connection when `db` is not given; default: this runtime's driver (runtime/index.ts). */
  openDb?: (path: string) => SqlDb;
  /** Default: the migrations embedded at build time. */
  migrations?: readonly Migration[];
  /**
   * apisix.data_encryption.keyring: private keys are encrypted with its first key on write and
   * decrypted with any of its keys on read. null = stored in clear. A key no entry opens stays sealed
   * in the value read (src/store/secrets.ts); the store still opens.
   */
  keyring?: Keyring | null;
  /**
   * 'sample': refuse to open when this keyring cannot decrypt one row per key id in use (the CLI's commands,
   * which must not seal new keys with the wrong keyring). Default: no check (`weir start` serves what it can).
   */
  keyringCheck?: 'none' | 'sample';
}

interface TableStatements {
  count: SqlStatement;
  get: SqlStatement;
  list: SqlStatement;
  insert: SqlStatement;
  update: SqlStatement;
  replace: SqlStatement;
  delete: SqlStatement;
}

const POST_ID_DIGITS = 20;
/** Bound on skipping ids already taken by PUT; far more than any real collision run. */
const MAX_ID_SKIPS = 10000;

function prepareTable(db: SqlDb, table: Resource): TableStatements {
  // `table` comes from the fixed RESOURCES list, never from a request.
  const cols = 'id, value, created_index, modified_index';
  return {
    get: db.prepare(`SELECT ${cols} FROM ${table} WHERE id = ?`),
    list: db.prepare(`SELECT ${cols} FROM ${table} ORDER BY id`),
    count: db.prepare(`SELECT count(*) AS n FROM ${table}`),
    insert: db.prepare(
      `INSERT INTO ${table} (id, value, create_time, update_time, created_index, modified_index) VALUES (?, ?, ?, ?, ?, ?)`,
    ),
    update: db.prepare(`UPDATE ${table} SET value = ?, create_time = ?, update_time = ?, modified_index = ? WHERE id = ?`),
    replace: db.prepare(`UPDATE ${table} SET value = ?, create_time = ?, update_time = ?, created_index = ?, modified_index = ? WHERE id = ?`),
    delete: db.prepare(`DELETE FROM ${table} WHERE id = ?`),
  };
}

function toStored(table: Resource, row: Record<string, unknown>, ring: Keyring | null): StoredObject {
  const id = String(row.id);
  const raw = String(row.value);
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new StoreError('ERR_STORE_BAD_ROW', `${table} row "${id}": value is not valid JSON`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new StoreError('ERR_STORE_BAD_ROW', `${table} row "${id}": value is not a JSON object`);
  }
  // Rows written by hand have no indexes; 0 says "unknown" without breaking the integer contract.
  return {
    id,
    value: openSecrets(ring, table, id, value as JsonObject),
    createdIndex: Number(row.created_index ?? 0),
    modifiedIndex: Number(row.modified_index ?? 0),
    raw,
  };
}

/** All readable rows of one table; a row that cannot be read is reported, not fatal (hand edits happen). */
function readTolerant(res: Resource, rows: Record<string, unknown>[], unreadable: UnreadableRow[], ring: Keyring | null): StoredObject[] {
  const out: StoredObject[] = [];
  for (const row of rows) {
    try {
      out.push(toStored(res, row, ring));
    } catch (err) {
      unreadable.push({ res, id: String(row.id), message: (err as Error).message });
    }
  }
  return out;
}

function intOrNull(v: unknown): number | null {
  return typeof v === 'number' && Number.isInteger(v) ? v : null;
}

/** The prefix of an encrypted field as SQL text (a fixed constant: no quote to escape). */
const SQL_PREFIX = `'${ENCRYPTED_PREFIX}'`;

/**
 * One row per key id in use (the id after the prefix of a row's first encrypted field): what the sampling
 * keyring check decrypts. SQLite scans the text without parsing it; bare columns of a GROUP BY come from
 * one row of the group.
 */
function prepareKeySample(db: SqlDb): SqlStatement {
  const part = (res: Resource) =>
    `SELECT '${res}' AS res, id, value, substr(value, instr(value, ${SQL_PREFIX}) + ${ENCRYPTED_PREFIX.length}, 8) AS kid
     FROM ${res} WHERE instr(value, ${SQL_PREFIX}) > 0`;
  return db.prepare(`SELECT res, id, value FROM (${RESOURCES.map(part).join(' UNION ALL ')}) GROUP BY kid`);
}

/**
 * Refuse to open a file whose private keys this keyring cannot decrypt, decrypting one row per key id in
 * use (a wrong or incomplete keyring shows; a single damaged value may not). The CLI asks for it; `weir
 * start` does not: as in APISIX, it serves everything else and fails only the certificates it cannot open.
 */
function checkKeyring(db: SqlDb, ring: Keyring | null, path: string): void {
  const failures: string[] = [];
  for (const row of prepareKeySample(db).all()) {
    const res = row.res as Resource;
    try {
      checkSecrets(ring, res, String(row.id), JSON.parse(String(row.value)) as JsonObject);
    } catch (err) {
      if (err instanceof KeyringError) failures.push(err.message.replace(/^ERR_KEYRING: /, ''));
    }
  }
  if (failures.length === 0) return;
  const more = failures.length > 1 ? ` (and ${failures.length - 1} more)` : '';
  throw new KeyringError(`cannot decrypt the private keys in ${path}: ${failures[0]}${more}`);
}

/**
 * Open the store at `path`: open the connection (or take opts.db), set its pragmas, apply pending migrations,
 * prepare statements. Runs once at start (and per CLI command). Throws MigrationError (ERR_DB_TOO_NEW) for a newer file.
 */
export function openStore(path: string, opts: OpenStoreOptions = {}): Store {
  const db = applyConnectionPragmas(opts.db ?? (opts.openDb ?? openSqlite)(path));
  try {
    applyMigrations(db, opts.migrations ?? MIGRATIONS, path);
  } catch (err) {
    db.close();
    throw err;
  }
  let ring = opts.keyring ?? null;
  const tables = Object.fromEntries(RESOURCES.map((r) => [r, prepareTable(db, r)])) as Record<Resource, TableStatements>;
  const readRevision = db.prepare(`SELECT value FROM meta WHERE key = 'revision'`);
  const readPostId = db.prepare(`SELECT value FROM meta WHERE key = 'post_id'`);
  const oldestChange = db.prepare(`SELECT MIN(revision) AS revision FROM changes`);
  const changedRows = db.prepare(`SELECT DISTINCT resource, id FROM changes WHERE revision > ?`);
  const writePostId = db.prepare(`UPDATE meta SET value = ? WHERE key = 'post_id'`);
  // by upstream_id (indexed), or inside traffic-split's rules (a scan, but only an upstream delete asks)
  const splitUses = (table: string): string => `EXISTS (SELECT 1 FROM json_each(${table}.value, '$.plugins."traffic-split".rules') r,
      json_each(r.value, '$.weighted_upstreams') w WHERE CAST(json_extract(w.value, '$.upstream_id') AS TEXT) = ?)`;
  const upstreamUsers = db.prepare(
    `SELECT 0 AS t, 'stream_routes' AS res, id, upstream_id IS ? AS direct FROM stream_routes WHERE upstream_id = ? OR ${splitUses('stream_routes')}
     UNION ALL
     SELECT 1 AS t, 'services' AS res, id, upstream_id IS ? AS direct FROM services WHERE upstream_id = ? OR ${splitUses('services')}
     ORDER BY t, id`,
  );
  const byService = db.prepare(`SELECT id FROM stream_routes WHERE service_id = ? ORDER BY id`);
  // a scan, not an index: only an SSL delete asks, and client_cert_id may be a JSON number (compare as text)
  const bySsl = db.prepare(
    `SELECT 'upstreams' AS res, id FROM upstreams WHERE CAST(json_extract(value, '$.tls.client_cert_id') AS TEXT) = ?
     UNION ALL
     SELECT 'stream_routes' AS res, id FROM stream_routes WHERE CAST(json_extract(value, '$.upstream.tls.client_cert_id') AS TEXT) = ?
     ORDER BY res DESC, id`,
  );
  let inTx = false;

  const revision = (): number => Number(readRevision.get()?.value ?? 0);
  const list = (res: Resource): StoredObject[] => tables[res].list.all().map((row) => toStored(res, row, ring));
  const get = (res: Resource, id: string): StoredObject | undefined => {
    const row = tables[res].get.get(id);
    return row ? toStored(res, row, ring) : undefined;
  };

  /** Writes made outside store.transaction() still get their own transaction (read revision + write). */
  const write = <T>(fn: () => T): T => (inTx ? fn() : transaction(fn));
  const transaction = <T>(fn: () => T): T => {
    return db.transaction(() => {
      inTx = true;
      try {
        return fn();
      } finally {
        inTx = false;
      }
    });
  };

  /** A deferred read transaction: one consistent view, without taking the write lock. */
  const read = <T>(fn: () => T): T => {
    if (inTx) return fn();
    db.exec('BEGIN');
    try {
      return fn();
    } finally {
      db.exec('COMMIT');
    }
  };

  /** Rows changed after `since` (see Store.readChanges); runs inside read(). */
  const changesSince = (since: number, maxChanges: number): StoreChanges | null => {
    const now = revision();
    if (now === since) return { revision: now, changes: [] };
    if (now < since || now - since > maxChanges) return null;
    // Every revision bump logs its row in the same trigger, so the log is gap-free from its oldest entry on.
    const oldest = oldestChange.get()?.revision;
    if (typeof oldest !== 'number' || oldest > since + 1) return null;
    const changes: RowChange[] = [];
    for (const entry of changedRows.all(since)) {
      const res = entry.resource as Resource;
      if (!RESOURCES.includes(res) || entry.id === null) continue;
      const id = String(entry.id);
      try {
        changes.push({ res, id, row: get(res, id) ?? null, unreadable: null });
      } catch (err) {
        changes.push({ res, id, row: null, unreadable: (err as Error).message });
      }
    }
    return { revision: now, changes };
  };

  try {
    if (opts.keyringCheck === 'sample') checkKeyring(db, ring, path);
  } catch (err) {
    db.close();
    throw err;
  }

  const idTaken = (id: string): boolean => RESOURCES.some((r) => tables[r].get.get(id) !== undefined);

  return {
    path,
    readAll: (): StoreContents =>
      read(() => {
        const unreadable: UnreadableRow[] = [];
        const rows = (res: Resource) => readTolerant(res, tables[res].list.all(), unreadable, ring);
        return {
          revision: revision(),
          streamRoutes: rows('stream_routes'),
          upstreams: rows('upstreams'),
          ssls: rows('ssls'),
          services: rows('services'),
          pluginMetadata: rows('plugin_metadata'),
          streamListeners: rows('stream_listeners'),
          unreadable,
        };
      }),
    readChanges: (since, maxChanges) => read(() => changesSince(since, maxChanges)),
    revision,
    get,
    list: (res) => read(() => list(res)),
    count: (res) => Number(tables[res].count.get()?.n ?? 0),
    put: (res, id, value, indexes): PutResult =>
      write(() => {
        // Each changed row bumps the revision by one (trigger), so the row's index is the next revision.
        const index = indexes?.modified ?? revision() + 1;
        const text = JSON.stringify(sealSecrets(ring, res, id, value));
        const ct = intOrNull(value.create_time);
        const ut = intOrNull(value.update_time);
        const old = tables[res].get.get(id);
        if (old && indexes === undefined) tables[res].update.run(text, ct, ut, index, id);
        else if (old) tables[res].replace.run(text, ct, ut, indexes!.created, index, id);
        else tables[res].insert.run(id, text, ct, ut, indexes?.created ?? index, index);
        const createdIndex = indexes?.created ?? (old ? Number(old.created_index ?? 0) : index);
        return { created: !old, object: { id, value, createdIndex, modifiedIndex: index, raw: text } };
      }),
    delete: (res, id) => write(() => tables[res].delete.run(id).changes > 0),
    nextId: () =>
      write(() => {
        let n = Number(readPostId.get()?.value ?? 0);
        for (let i = 0; i < MAX_ID_SKIPS; i++) {
          n += 1;
          const id = String(n).padStart(POST_ID_DIGITS, '0');
          if (!idTaken(id)) {
            writePostId.run(n);
            return id;
          }
        }
        throw new StoreError('ERR_STORE_ID_EXHAUSTED', `no free POST id after ${MAX_ID_SKIPS} tries`);
      }),
    upstreamUsers: (upstreamId) =>
      upstreamUsers.all(upstreamId, upstreamId, upstreamId, upstreamId, upstreamId, upstreamId).map((row) => ({
        res: row.res === 'services' ? 'services' : 'stream_routes',
        id: String(row.id),
        via: Number(row.direct) === 1 ? 'upstream_id' : 'plugin',
      })),
    routesUsingService: (serviceId) => byService.all(serviceId).map((row) => String(row.id)),
    objectsUsingSsl: (sslId) =>
      bySsl.all(sslId, sslId).map((row) => ({ res: row.res === 'upstreams' ? 'upstreams' : 'stream_routes', id: String(row.id) })),
    transaction,
    verifyKeyring: (next) => read(() => checkKeyring(db, next, path)),
    setKeyring: (next) => {
      read(() => checkKeyring(db, next, path));
      ring = next;
    },
    close: () => db.close(),
  };
}
