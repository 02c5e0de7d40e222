// APISIX t/admin/ssl3.t against weir (table: test/apisix/README.md).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN, Harness } from '../harness';

describe('t/admin/ssl3.t', () => {
  let h: Harness;
  before(async () => (h = await Harness.start()));
  after(() => h.close());

  it('TEST 1: list empty resources', async () => {
    const r = await h.ok(`${ADMIN}/ssls`, 'GET');
    assert.deepEqual(r.body, JSON.parse('{"list":[],"total":0}'));
  });
});
