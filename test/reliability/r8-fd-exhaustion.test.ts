// R8 short version: weir under prlimit --nofile=256 with its default cap (96) and 40 connections over it, then a
// cap above the fd limit (the runtime meets EMFILE). Same code as the full run.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { hasCommand } from '../helpers/servers';
import { runR8 } from './r8-fd-exhaustion';

describe('R8 fd exhaustion (short)', { skip: hasCommand('prlimit') ? false : 'needs prlimit (util-linux)' }, () => {
  it('refuses past the cap at once, keeps flowing, admin answers, accept resumes, logs stay rate-limited', async () => {
    const f = await runR8('short');
    const failed = Object.entries(f.checks).filter(([, [, ok]]) => !ok);
    assert.deepEqual(failed, [], JSON.stringify(f.figures));
  });
});
