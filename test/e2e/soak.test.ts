// The issue-15 soak, bounded to a few seconds for `npm test` (bench/soak.ts runs the full one: 1,000 new
// connections per second, 200 long ones, 200 changes, 20 reloads, 3 upgrades). While new connections open at a
// steady rate and long ones are held, Admin API changes, SIGHUP reloads and binary upgrades fail no new
// connection and cut no long one (policy keep); the one change of a route with on_change close cuts exactly its
// sessions; every weir process has exited at the end.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { runSoak } from '../../bench/soak';

describe('soak: changes, reloads and upgrades under load', { skip: process.platform !== 'linux' && 'signals and /proc' }, () => {
  it('fails no connection and cuts only what a close policy names', { timeout: 90_000 }, async () => {
    const closeLong = 8;
    const r = await runSoak({
      seconds: 4,
      rate: 300,
      long: 40,
      closeLong,
      changes: 40,
      reloads: 4,
      upgrades: 2,
      workers: 1,
      root: resolve(import.meta.dirname, '../..'),
    });
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.shortFailed, []);
    assert.ok(r.shortOk > 600, `only ${r.shortOk} new connections`);
    assert.equal(r.longCut, 0);
    assert.equal(r.closeCut, closeLong);
    assert.equal(r.routeChangedLines, closeLong);
    assert.deepEqual([r.changesOk, r.reloadsOk, r.upgradesOk], [40, 4, 2]);
    assert.equal(r.pids.length, 3, 'the first weir and one per upgrade');
    assert.equal(r.allExited, true);
  });
});
