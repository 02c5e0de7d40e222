// APISIX t/stream-node/upstream-tls.t against weir (table: test/apisix/README.md). APISIX's extra stream
// server on 8765 is a node:tls server here, answering "hello <the SNI it was sent>" after one byte.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type tls from 'node:tls';
import { ADMIN, Harness, certs, portOf, startTlsAnswer } from '../harness';

describe('t/stream-node/upstream-tls.t', () => {
  let h: Harness;
  let upstream: tls.Server;
  before(async () => {
    upstream = await startTlsAnswer({ ...certs.apisix }, (s) => `hello ${s.servername || ''}\n`);
    h = await Harness.start({}, { 8765: portOf(upstream) });
  });
  after(async () => {
    await h.close();
    await new Promise((r) => upstream.close(r));
  });

  it('TEST 1: set upstream & stream_routes (id: 1)', async () => {
    await h.ok(`${ADMIN}/upstreams/1`, 'PUT', '{"scheme": "tls", "nodes": {"localhost:8765": 1}, "type": "roundrobin"}');
    await h.ok(`${ADMIN}/stream_routes/1`, 'PUT', '{"remote_addr": "127.0.0.1", "upstream_id": "1"}');
  });

  it('TEST 2: hit route', async () => {
    assert.equal((await h.stream()).data, 'hello apisix_backend\n');
  });

  it('TEST 3: set ssl', async () => {
    await h.ok(`${ADMIN}/ssls/1`, 'PUT', { ...certs.apisix, sni: 'test.com' });
  });

  it('TEST 4: hit route', async () => {
    assert.equal((await h.streamTls({ sni: 'test.com' })).data, 'hello test.com\n');
  });
});
