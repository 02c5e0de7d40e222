// APISIX t/stream-node/upstream-mtls.t against weir (table: test/apisix/README.md). APISIX's mTLS upstream
// on 8765 (ssl_verify_client on, mtls_ca) is a node:tls server demanding a client certificate of that CA.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type tls from 'node:tls';
import { ADMIN, Harness, certs, portOf, startTlsAnswer } from '../harness';
import { waitFor } from '../../helpers/weir';

describe('t/stream-node/upstream-mtls.t', () => {
  let h: Harness;
  let upstream: tls.Server;
  let handshakes = { ok: 0, refused: 0 };
  before(async () => {
    upstream = await startTlsAnswer(
      { ...certs.mtlsServer, ca: certs.mtlsCa, requestCert: true, rejectUnauthorized: true },
      () => 'hello mtls upstream\n',
    );
    upstream.on('secureConnection', () => handshakes.ok++);
    upstream.on('tlsClientError', () => handshakes.refused++);
    h = await Harness.start({}, { 8765: portOf(upstream) });
  });
  after(async () => {
    await h.close();
    await new Promise((r) => upstream.close(r));
  });

  const hit = async () => assert.equal((await h.stream()).data, 'hello mtls upstream\n');
  const UPSTREAM = { scheme: 'tls', type: 'roundrobin', nodes: { '127.0.0.1:8765': 1 } };

  it('TEST 1: set upstream (with client cert) & stream_route', async () => {
    await h.ok(`${ADMIN}/upstreams/1`, 'PUT', { ...UPSTREAM, tls: { client_cert: certs.mtlsClient.cert, client_key: certs.mtlsClient.key } });
    await h.ok(`${ADMIN}/stream_routes/1`, 'PUT', '{"remote_addr": "127.0.0.1", "upstream_id": "1"}');
  });

  it('TEST 2: hit route, upstream mTLS succeeds with client cert', hit);

  it('TEST 3: set upstream WITHOUT client cert', async () => {
    await h.ok(`${ADMIN}/upstreams/1`, 'PUT', '{"scheme": "tls", "type": "roundrobin", "nodes": {"127.0.0.1:8765": 1}}');
  });

  // APISIX: an empty answer, and the upstream logs "client sent no required SSL certificate"; here the
  // upstream counts the refused handshake.
  it('TEST 4: hit route, upstream rejects connection without client cert', async () => {
    handshakes = { ok: 0, refused: 0 };
    const r = await h.stream();
    assert.equal(r.data, '');
    await waitFor(() => handshakes.refused > 0, 10_000, 'the refused handshake');
    assert.deepEqual(handshakes, { ok: 0, refused: 1 });
  });

  it('TEST 5: set upstream client cert via client_cert_id (ssl object)', async () => {
    await h.ok(`${ADMIN}/ssls/1`, 'PUT', { ...certs.mtlsClient, type: 'client' });
    await h.ok(`${ADMIN}/upstreams/1`, 'PUT', '{"scheme": "tls", "type": "roundrobin", "nodes": {"127.0.0.1:8765": 1}, "tls": {"client_cert_id": "1"}}');
  });

  it('TEST 6: hit route, upstream mTLS succeeds with client_cert_id', hit);

  it('TEST 7: set stream_route with an inline upstream carrying the client cert', async () => {
    await h.ok(`${ADMIN}/stream_routes/1`, 'PUT', {
      remote_addr: '127.0.0.1',
      upstream: { ...UPSTREAM, tls: { client_cert: certs.mtlsClient.cert, client_key: certs.mtlsClient.key } },
    });
  });

  it('TEST 8: hit route, the encrypted inline client key still completes the handshake', hit);
});
