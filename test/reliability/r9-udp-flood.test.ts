// R9 short version: 3,000 spoofed sources against a 200-session table while 10 sessions echo (same code as the full run).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runR9 } from './r9-udp-flood';

describe('R9 UDP flood (short)', () => {
  it('table within its cap, real sessions lose no echo, the table drains', async () => {
    const f = await runR9('short');
    const failed = Object.entries(f.checks).filter(([, [, ok]]) => !ok);
    assert.deepEqual(failed, [], JSON.stringify(f.figures));
  });
});
