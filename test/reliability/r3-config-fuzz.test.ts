// R3 short version: 400 mutated configs through weir check, 30 through start, 2 real processes (same code as the
// full run), and the replay of every saved config (corpus/config) through weir check.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { runCli } from '../../src/cli/run';
import { readCorpus } from './harness';
import { runR3 } from './r3-config-fuzz';

describe('R3 config and CLI fuzz (short)', () => {
  it('exit 0 or one error line, no stack trace, no hang, nothing left bound', async () => {
    const f = await runR3('short');
    const failed = Object.entries(f.checks).filter(([, [, ok]]) => !ok);
    assert.deepEqual(failed, [], JSON.stringify(f.figures));
  });

  it('replays every saved config', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weir-r3-replay-'));
    const cwd = process.cwd();
    process.chdir(dir); // a config without sqlite.path reads data/weir.db: the temp dir's, not the work tree's
    try {
      for (const { name, bytes } of readCorpus('config')) {
        writeFileSync(join(dir, 'config.yaml'), bytes);
        let err = '';
        const code = await runCli(['check', '-c', join(dir, 'config.yaml')], { out: () => undefined, err: (t) => void (err += t), readStdin: async () => '', env: {} }, { signals: false });
        const errors = err.split('\n').filter((l) => l !== '' && !l.startsWith('weir: warning: '));
        assert.ok(code === 0 || errors.length === 1, `${name}: ${err}`);
      }
    } finally {
      process.chdir(cwd);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
