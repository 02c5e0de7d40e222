// APISIX t/stream-node/tls.t against weir (table: test/apisix/README.md). t/certs/* are weir's fixtures.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN, Harness, certs } from '../harness';

describe('t/stream-node/tls.t', () => {
  let h: Harness;
  before(async () => {
    // APISIX's BEGIN block: the certificate and key in the environment, for the $ENV:// references
    process.env.APISIX_STREAM_ENV_CERT = certs.apisix.cert;
    process.env.APISIX_STREAM_ENV_KEY = certs.apisix.key;
    h = await Harness.start();
  });
  after(async () => {
    await h.close();
    delete process.env.APISIX_STREAM_ENV_CERT;
    delete process.env.APISIX_STREAM_ENV_KEY;
  });

  const ROUTE = '{"upstream": {"nodes": {"127.0.0.1:1995": 1}, "type": "roundrobin"}}';
  const hit = async () => {
    const r = await h.streamTls({ sni: 'test.com' });
    assert.deepEqual([r.handshake, r.data], [true, 'hello world\n']);
  };
  /** APISIX greps its log for the reason; the visible effect is a failed handshake that reaches no upstream. */
  const refused = async (sni?: string) => {
    const before = { ...h.hello.accepted };
    const r = await h.streamTls({ sni });
    assert.deepEqual([r.handshake, r.data, h.hits(before)], [false, '', {}]);
  };

  it('TEST 1: set stream / ssl', async () => {
    await h.ok(`${ADMIN}/ssls/1`, 'PUT', { ...certs.apisix, sni: 'test.com' });
    await h.ok(`${ADMIN}/stream_routes/1`, 'PUT', ROUTE);
  });

  it('TEST 2: hit route', hit);

  it('TEST 3: wrong sni', () => refused('xx.com'));

  it('TEST 4: missing sni', () => refused());

  // APISIX also greps the table-pool calls of the handshake (an internal); the visible part is the answer.
  it('TEST 5: ensure table is reused in TLS handshake', hit);

  it('TEST 6: stream tls supports $ENV certificate reference', async () => {
    await h.ok(`${ADMIN}/ssls/1`, 'PUT', { cert: '$ENV://APISIX_STREAM_ENV_CERT', key: '$ENV://APISIX_STREAM_ENV_KEY', sni: 'test.com' });
    await h.ok(`${ADMIN}/stream_routes/1`, 'PUT', ROUTE);
  });

  it('TEST 7: hit stream route with $ENV cert reference', hit);

  // TEST 8-11 (certificates from Vault through $secret://): see the README.
});
