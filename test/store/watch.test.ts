// watchStore: commits by another connection are seen, the watcher's own connection's commits are not.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { openSqlite } from '../../src/runtime/index';
import type { SqlDb } from '../../src/runtime/types';
import { configureErrorLog } from '../../src/log/logger';
import { watchStore, type StoreWatcher } from '../../src/store/watch';
import { tempDir, waitFor } from '../helpers/weir';

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

  it('a throwing callback is contained and logged, and polling goes on: the timer sees the next commit too', async () => {
    const lines: string[] = [];
    let thrown = 0;
    configureErrorLog({ sink: (text) => lines.push(text) });
    // Driven by its own timer this time: a throw must neither escape poll() nor end the polling.
    const noisy = watchStore(mine, () => {
      thrown += 1;
      throw new Error('rebuild failed');
    }, { intervalMs: 10 });
    try {
      other.prepare('INSERT INTO t VALUES (9)').run();
      await waitFor(() => thrown === 1, 5000, 'the first external commit');
      other.prepare('INSERT INTO t VALUES (10)').run();
      await waitFor(() => thrown === 2, 5000, 'the commit after the throw');
    } finally {
      noisy.stop();
      configureErrorLog({ sink: (text) => process.stderr.write(text) });
    }
    assert.equal(lines.length, 2);
    for (const line of lines) {
      assert.match(line, / error store watch: rebuilding after an external change failed error="rebuild failed"\n$/);
    }
    assert.equal(noisy.poll(), false);
  });
});
