// APISIX t/admin/ssls.t against weir (table: test/apisix/README.md). t/certs/* are weir's fixtures (harness.ts).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN, Harness, certs } from '../harness';

describe('t/admin/ssls.t', () => {
  let h: Harness;
  before(async () => (h = await Harness.start()));
  after(() => h.close());

  it('TEST 1: test /apisix/admin/ssls/{id}', async () => {
    await h.ok(`${ADMIN}/ssls/1`, 'PUT', { ...certs.apisix, sni: 'test.com' }, '{"value": {"sni": "test.com"}, "key": "/apisix/ssls/1"}');
    const stored = h.w.weir.store.get('ssls', '1')!.value;
    assert.deepEqual([typeof stored.create_time, typeof stored.update_time], ['number', 'number']);
  });
});
