// R1 short version (same code as `npm run test:reliability`, smaller counts), and the replay of every admin input
// that ever failed (corpus/admin).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readCorpus } from './harness';
import { replayAdmin, runR1 } from './r1-admin-fuzz';

describe('R1 admin fuzz (short)', () => {
  it('no throw, no 5xx, no store change on a 4xx, every 2xx reads back equal', async () => {
    const f = await runR1('short');
    const failed = Object.entries(f.checks).filter(([, [, ok]]) => !ok);
    assert.deepEqual(failed, [], JSON.stringify(f.figures));
    assert.ok((f.figures.writes_2xx as number) > 50, 'the generator reaches the success paths');
  });

  it('replays every saved admin input below 500', async () => {
    for (const { name, bytes } of readCorpus('admin')) {
      const status = await replayAdmin(bytes);
      assert.ok(status < 500, `${name}: ${status}`);
    }
  });
});
