// R11 short version, and the one `npm test` run of bench/soak.ts (it replaces test/e2e/soak.test.ts): while new
// connections open at 300/s and long ones are held, Admin API changes, reloads (2 of them with an invalid config)
// and then 2 binary upgrades fail no new connection and cut no long one; the one change of an on_change close
// route cuts exactly its sessions; every weir process has exited at the end.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { COUNTS, runR11 } from './r11-live-changes';

describe('R11 live changes, reloads and upgrades (short)', { skip: process.platform !== 'linux' && 'signals and /proc' }, () => {
  it('fails no connection and cuts only what a close policy names', { timeout: 120_000 }, async () => {
    const f = await runR11('short');
    const [a, b] = [f.phases[0]!, f.phases[1]!];
    const failedChecks = Object.entries(f.checks).filter(([, [, ok]]) => !ok);
    assert.deepEqual(failedChecks, [], JSON.stringify(f.figures));
    assert.deepEqual([a.errors, b.errors], [[], []]);
    // the campaign only reports failures during upgrades; with one worker weir claims none, so npm test holds it to 0
    assert.deepEqual([a.shortFailed, b.shortFailed], [[], []]);
    assert.ok(a.shortOk > 600 && b.shortOk > 450, `only ${a.shortOk} + ${b.shortOk} new connections`);
    assert.deepEqual([a.changesOk, a.reloadsOk, a.badReloadsRefused, a.badReloadsServedOn], [40, 4, 2, 2]);
    assert.deepEqual([a.closeCut, a.routeChangedLines], [COUNTS.short.changes.closeLong, COUNTS.short.changes.closeLong]);
    assert.deepEqual([a.longCut, b.longCut], [0, 0]);
    assert.equal(b.upgradesOk, 2);
    assert.deepEqual([a.pids.length, b.pids.length], [1, 3], 'one weir, then the first and one per upgrade');
    assert.deepEqual([a.allExited, b.allExited], [true, true]);
  });
});
