// R4 short version: the same parser fuzz and live listener check with smaller counts, and the replay of every
// saved input (corpus/client-hello, corpus/proxy-protocol, corpus/proxy-datagram) at every split point.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readCorpus } from './harness';
import { checkInput, PARSERS, runR4 } from './r4-wire-fuzz';
import { prng } from '../helpers/random';

describe('R4 wire-parser fuzz (short)', () => {
  it('0 throws, only listed verdicts, splits agree, the live listener stays healthy', async () => {
    const f = await runR4('short');
    const failed = Object.entries(f.checks).filter(([, [, ok]]) => !ok);
    assert.deepEqual(failed, [], JSON.stringify(f.figures));
  });

  it('replays every saved input', () => {
    for (const name of Object.keys(PARSERS)) {
      for (const { name: file, bytes } of readCorpus(name)) assert.equal(checkInput(name, bytes, true, prng(1)), null, `${name}/${file}`);
    }
  });
});
