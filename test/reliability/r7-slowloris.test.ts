// R7 short version: 200 slow clients (silent and dripping) on the plain, TLS, TLS passthrough and PROXY protocol
// listeners of a child weir under Bun while real traffic runs (same code as the full 2,000-client run; deadlines
// and the p99 ratio are only checked there).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runR7 } from './r7-slowloris';

describe('R7 slowloris (short)', () => {
  it('every slow client closed by its deadline, real traffic all ok, concurrency within the cap', async () => {
    const f = await runR7('short');
    const failed = Object.entries(f.checks).filter(([, [, ok]]) => !ok);
    assert.deepEqual(failed, [], JSON.stringify(f.figures));
  });
});
