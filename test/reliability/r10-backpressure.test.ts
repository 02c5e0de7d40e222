// R10 short version: 300 idle connections, then 50 fast senders to a 10 KiB/s upstream for 6 s (same code as the
// full run): weir's own buffering per slow connection stays within 64 KiB and its RSS does not grow.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { hasCommand } from '../helpers/servers';
import { runR10 } from './r10-backpressure';

describe('R10 backpressure memory (short)', { skip: hasCommand('ss') ? false : 'needs ss (iproute2)' }, () => {
  it('at most 64 KiB buffered in weir per slow connection, RSS not growing', async () => {
    const f = await runR10('short');
    const failed = Object.entries(f.checks).filter(([, [, ok]]) => !ok);
    assert.deepEqual(failed, [], JSON.stringify(f.figures));
  });
});
