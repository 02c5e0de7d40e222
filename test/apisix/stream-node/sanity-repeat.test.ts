// APISIX t/stream-node/sanity-repeat.t against weir (table: test/apisix/README.md):
// `--- stream_request` blocks are real TCP connections to weir's listener, proxied to the hello server.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN, Harness, certs } from '../harness';

describe('t/stream-node/sanity-repeat.t', () => {
  let h: Harness;
  before(async () => (h = await Harness.start()));
  after(() => h.close());

  // TEST 1-2 (a stream route through a service) need services: see the README.

  it('TEST 3: set stream / ssl', async () => {
    await h.ok(`${ADMIN}/ssls/1`, 'PUT', { ...certs.apisix, sni: '*.test.com' });
    await h.ok(`${ADMIN}/stream_routes/1`, 'PUT', `{
      "sni": "a.test.com",
      "remote_addr": "127.0.0.1",
      "upstream": {"nodes": {"127.0.0.1:1995": 1}, "type": "roundrobin"}
    }`);
  });

  // repeat_each(2): the block runs twice; APISIX logs "proxy request to 127.0.0.1:1995", here the hello
  // server on 127.0.0.1 counts the connections.
  it('TEST 4: hit route', async () => {
    const before = { ...h.hello.accepted };
    for (let i = 0; i < 2; i++) {
      const r = await h.streamTls({ sni: 'a.test.com' });
      assert.equal(r.data, 'hello world\n');
    }
    assert.deepEqual(h.hits(before), { '127.0.0.1': 2 });
  });
});
