// watchStore: commits by another connection are seen, the watcher's own connection's commits are not.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { openSqlite } from '../../src/runtime/index';
import type { SqlDb } from '../../src/runtime/types';
import { watchStore, type StoreWatcher } from '../../src/store/watch';
import { tempDir } from '../helpers/weir';

describe('watchStore', () => {
  const dir = tempDir('weir-watch-');
  let mine: SqlDb;
  let other: SqlDb;
  let watcher: StoreWatcher;
  let calls = 0;

  before(() => {
    const path = join(dir.path, 'w.db');
    mine = openSqlite(path);
    other = openSqlite(path);
    mine.exec('CREATE TABLE t (n INTEGER)');
    // A long interval: the test drives poll() itself, so no timer races the assertions.
    watcher = watchStore(mine, () => void (calls += 1), { intervalMs: 60_000 });
  });
  after(() => {
    watcher.stop();
    other.close();
    mine.close();
    dir.remove();
  });

  it('reports nothing while nobody commits', () => {
    assert.equal(watcher.poll(), false);
    assert.equal(calls, 0);
  });

  it('ignores commits made on the watched connection itself', () => {
    mine.prepare('INSERT INTO t VALUES (1)').run();
    assert.equal(watcher.poll(), false);
    assert.equal(calls, 0);
  });

  it('sees one commit by another connection exactly once', () => {
    other.prepare('INSERT INTO t VALUES (2)').run();
    assert.equal(watcher.poll(), true);
    assert.equal(watcher.poll(), false);
    assert.equal(calls, 1);
  });

  it('coalesces several commits between polls into one call', () => {
    for (let i = 0; i < 3; i++) other.prepare('INSERT INTO t VALUES (?)').run(i);
    assert.equal(watcher.poll(), true);
    assert.equal(calls, 2);
  });

  it('a throwing callback is contained and polling goes on', () => {
    const noisy = watchStore(mine, () => {
      throw new Error('rebuild failed');
    }, { intervalMs: 60_000 });
    other.prepare('INSERT INTO t VALUES (9)').run();
    assert.equal(noisy.poll(), true);
    noisy.stop();
    assert.equal(noisy.poll(), false);
  });
});
