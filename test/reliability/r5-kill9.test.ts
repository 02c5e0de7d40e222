// R5 short version: 2 rounds of kill -9 during admin and CLI writes (same code as the full 100 rounds).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runR5 } from './r5-kill9';

describe('R5 kill -9 during writes (short)', () => {
  it('no acknowledged write lost or stale, integrity_check ok every round, WAL + synchronous FULL', async () => {
    const f = await runR5('short', 2);
    const failed = Object.entries(f.checks).filter(([, [, ok]]) => !ok);
    assert.deepEqual(failed, [], JSON.stringify(f.figures));
    assert.ok((f.figures.acknowledged_writes as number) > 20);
  });
});
