// quick_check at start: a healthy file passes, a file with damaged pages is refused with SQLite's findings.

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, openSync, rmSync, writeSync, closeSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { openSqlite } from '../../src/runtime/index';
import { openStore } from '../../src/store/store';
import { checkDatabase, DatabaseDamagedError } from '../../src/store/integrity';

describe('checkDatabase', () => {
  const dir = mkdtempSync(join(tmpdir(), 'weir-integrity-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('passes a healthy store', () => {
    const path = join(dir, 'ok.db');
    const db = openSqlite(path);
    const store = openStore(path, { db });
    try {
      checkDatabase(db, path);
    } finally {
      store.close();
    }
  });

  it('refuses a file whose table pages were overwritten', () => {
    const path = join(dir, 'bad.db');
    const db = openSqlite(path);
    db.exec('PRAGMA page_size = 1024; CREATE TABLE t (a TEXT); CREATE INDEX ti ON t(a)');
    const ins = db.prepare('INSERT INTO t VALUES (?)');
    for (let i = 0; i < 400; i++) ins.run(`row ${i} ${'x'.repeat(40)}`);
    db.close();
    // garble the middle pages (not page 1: the header must stay readable for the check to run)
    const fd = openSync(path, 'r+');
    const size = statSync(path).size;
    writeSync(fd, Buffer.alloc(4096, 0x5a), 0, 4096, Math.floor(size / 2 / 1024) * 1024);
    closeSync(fd);
    const again = openSqlite(path);
    try {
      assert.throws(() => checkDatabase(again, path), (err) => err instanceof DatabaseDamagedError && err.message.startsWith(`ERR_STORE_DAMAGED: ${path} failed PRAGMA quick_check: `));
    } finally {
      again.close();
    }
  });
});
