// APISIX t/stream-node/mtls.t against weir (table: test/apisix/README.md). APISIX's client is its own HTTP
// proxy (a route to https://127.0.0.1:2005 with a client certificate) or openssl s_client; here it is a
// node:tls client connecting to weir's TLS listener directly, with the same SNI and certificates.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN, Harness, certs } from '../harness';
import { detectRuntime } from '../../../src/runtime/index';

// Deno's node:tls hands out no session to resume, so TEST 8-9 have nothing to replay there (.ci/run).
const NO_SESSIONS = detectRuntime() === 'deno' ? 'node:tls under Deno gives no TLS session to resume' : false;

describe('t/stream-node/mtls.t', () => {
  let h: Harness;
  before(async () => (h = await Harness.start()));
  after(() => h.close());

  const ROUTE = { upstream: { type: 'roundrobin', nodes: { '127.0.0.1:1995': 1 } } };
  /** A TLS client with SNI localhost; it must reach the hello server (true) or be turned away (false). */
  const reaches = async (expected: boolean, client?: { cert: string; key: string }) => {
    const before = { ...h.hello.accepted };
    const r = await h.streamTls({ sni: 'localhost', ...client });
    assert.deepEqual([r.data, h.hits(before)], expected ? ['hello world\n', { '127.0.0.1': 1 }] : ['', {}]);
  };

  it('TEST 1: set client certificate', async () => {
    await h.ok(`${ADMIN}/stream_routes/1`, 'PUT', ROUTE);
    await h.ok(`${ADMIN}/ssls/1`, 'PUT', { ...certs.mtlsClient, sni: 'localhost', client: { ca: certs.mtlsCa, depth: 2 } });
  });

  it('TEST 2: hit', () => reaches(true, certs.mtlsClient));

  // TEST 3 and 5 change APISIX's HTTP route, which is the client side; here the client changes in TEST 4
  // and 6, and these blocks check that the server side is still the mTLS SSL of TEST 1.
  const stillMtls = async () => {
    const r = await h.ok(`${ADMIN}/ssls/1`, 'GET');
    assert.deepEqual([r.body.value.sni, r.body.value.client?.depth], ['localhost', 2]);
  };

  it('TEST 3: reject client without cetificate', stillMtls);

  it('TEST 4: hit', () => reaches(false));

  it('TEST 5: reject client with bad cetificate', stillMtls);

  it('TEST 6: hit', () => reaches(false, certs.untrustedClient));

  it('TEST 7: 2 ssl objects, both have mTLS and with different CA', async () => {
    await h.ok(`${ADMIN}/stream_routes/1`, 'PUT', ROUTE);
    await h.ok(`${ADMIN}/ssls/1`, 'PUT', { ...certs.mtlsClient, sni: 'localhost', client: { ca: certs.mtlsCa, depth: 2 } });
    await h.ok(`${ADMIN}/ssls/2`, 'PUT', { ...certs.mtlsClient, sni: 'test.com', client: { ca: certs.apisix.cert, depth: 2 } });
  });

  let session: Buffer | null = null;

  it('TEST 8: request localhost and save tls session to reuse', { skip: NO_SESSIONS }, async () => {
    const r = await h.streamTls({ sni: 'localhost', ...certs.mtlsClient });
    assert.equal(r.data, 'hello world\n');
    session = r.session;
    assert.ok(session !== null, 'the server issued a session');
  });

  // APISIX rejects the resumption ("sni in client hello mismatch hostname of ssl session"); the visible
  // effect: the session verified for localhost does not let a client without a certificate into test.com.
  it('TEST 9: request test.com with saved tls session', { skip: NO_SESSIONS }, async () => {
    const before = { ...h.hello.accepted };
    const r = await h.streamTls({ sni: 'test.com', session });
    assert.deepEqual([r.data, r.reused, h.hits(before)], ['', false, {}]);
  });
});
