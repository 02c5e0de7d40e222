// R7 short version: 200 slow clients (silent and dripping) on a plain and a TLS passthrough listener while real
// traffic runs (same code as the full 2,000-client run; the p99 ratio is only checked there).

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
