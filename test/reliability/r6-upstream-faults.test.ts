// R6 short version: the seven upstream faults (same code as the full run; timings checked loosely here).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runR6 } from './r6-upstream-faults';

describe('R6 upstream faults (short)', () => {
  it('tries = retries + 1, the right end reasons, half-close kept, timeouts fire, no fd leaked', async () => {
    const f = await runR6('short');
    const failed = Object.entries(f.checks).filter(([, [, ok]]) => !ok);
    assert.deepEqual(failed, [], JSON.stringify(f.figures));
  });
});
