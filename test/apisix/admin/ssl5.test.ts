// APISIX t/admin/ssl5.t against weir (table: test/apisix/README.md). t/certs/* are weir's fixtures (harness.ts).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN, Harness, certs } from '../harness';

describe('t/admin/ssl5.t', () => {
  let h: Harness;
  before(async () => (h = await Harness.start()));
  after(() => h.close());

  it('TEST 1: Not supported set TLSv1.0 for ssl_protocols', async () => {
    const r = await h.t(`${ADMIN}/ssls/1`, 'PUT', { ...certs.apisix, sni: 'test.com', ssl_protocols: ['TLSv1.0', 'TLSv1.2'] });
    assert.deepEqual([r.status, r.body], [400, JSON.parse(
      '{"error_msg":"invalid configuration: property \\"ssl_protocols\\" validation failed: failed to validate item 1: matches none of the enum values"}')]);
  });

  it('TEST 2: The default value for the ssl_protocols is null', async () => {
    // APISIX's pattern {"value": {"sni": "test.com", "ssl_protocols": null}}: no ssl_protocols filled in
    await h.ok(`${ADMIN}/ssls/1`, 'PUT', { ...certs.apisix, sni: 'test.com' },
      { value: { sni: 'test.com', ssl_protocols: null }, key: '/apisix/ssls/1' });
  });
});
