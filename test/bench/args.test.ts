// `npm run bench` command line: --help and unknown options are answered before anything starts.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkBenchArgs } from '../../bench/args';

describe('checkBenchArgs', () => {
  const cases: Array<[string[], ReturnType<typeof checkBenchArgs>]> = [
    [[], { kind: 'run' }],
    [['--help'], { kind: 'help' }],
    [['--quick', '-h'], { kind: 'help' }],
    [['--quick', '--reps', '5', '--only', 'conn,rr', '--src'], { kind: 'run' }],
    [['--bogus'], { kind: 'error', message: 'unknown option "--bogus" (try --help)' }],
    [['--reps'], { kind: 'error', message: '--reps needs a value' }],
    [['--reps', 'x'], { kind: 'error', message: '--reps: expected a positive whole number, got "x"' }],
    [['--only', '--quick'], { kind: 'error', message: '--only needs a value' }],
    [['stray'], { kind: 'error', message: 'unknown option "stray" (try --help)' }],
  ];
  for (const [argv, expected] of cases) {
    it(`${JSON.stringify(argv)} -> ${expected.kind}`, () => assert.deepEqual(checkBenchArgs(argv), expected));
  }
});
