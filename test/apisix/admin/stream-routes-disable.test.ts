// APISIX t/admin/stream-routes-disable.t against weir (table: test/apisix/README.md).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN, Harness } from '../harness';

describe('t/admin/stream-routes-disable.t', () => {
  let h: Harness;
  before(async () => (h = await Harness.start({ apisixYaml: '  proxy_mode: http' })));
  after(() => h.close());

  it('TEST 1: set route(disabled stream model)', async () => {
    const r = await h.t(`${ADMIN}/stream_routes/1`, 'PUT', `{
      "remote_addr": "127.0.0.1",
      "upstream": {"nodes": {"127.0.0.1:8080": 1}, "type": "roundrobin"},
      "desc": "new route"
    }`);
    assert.equal(r.status, 400);
  });
});
