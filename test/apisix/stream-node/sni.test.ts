// APISIX t/stream-node/sni.t against weir (table: test/apisix/README.md). APISIX greps its log for
// "proxy request to 127.0.0.N:1995"; here the hello server on 127.0.0.N counts the connection.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN, Harness, certs } from '../harness';

describe('t/stream-node/sni.t', () => {
  let h: Harness;
  before(async () => (h = await Harness.start()));
  after(() => h.close());

  const node = (n: number) => `"upstream": {"nodes": {"127.0.0.${n}:1995": 1}, "type": "roundrobin"}`;
  /** One TLS connection (or plain, without `sni`); it must get hello world from 127.0.0.`n` alone. */
  const hits = async (n: number, opts: { sni?: string; tls?: boolean } = {}) => {
    const before = { ...h.hello.accepted };
    const r = opts.tls === false ? await h.stream() : await h.streamTls({ sni: opts.sni });
    assert.equal(r.data, 'hello world\n');
    assert.deepEqual(h.hits(before), { [`127.0.0.${n}`]: 1 });
  };

  it('TEST 1: set stream / ssl', async () => {
    await h.ok(`${ADMIN}/ssls/1`, 'PUT', { ...certs.apisix, sni: '*.test.com' });
    await h.ok(`${ADMIN}/stream_routes/1`, 'PUT', `{"sni": "a.test.com", ${node(1)}}`);
    await h.ok(`${ADMIN}/stream_routes/2`, 'PUT', `{"sni": "*.test.com", ${node(2)}}`);
    await h.ok(`${ADMIN}/stream_routes/3`, 'PUT', `{${node(3)}}`);
  });

  it('TEST 2: hit route', () => hits(1, { sni: 'a.test.com' }));

  it('TEST 3: hit route (session reuse)', async () => {
    const before = { ...h.hello.accepted };
    const first = await h.streamTls({ sni: 'a.test.com' });
    const second = await h.streamTls({ sni: 'a.test.com', session: first.session });
    assert.deepEqual([first.data, second.data], ['hello world\n', 'hello world\n']);
    assert.deepEqual(h.hits(before), { '127.0.0.1': 2 });
  });

  it('TEST 4: hit route, wildcard SNI', () => hits(2, { sni: 'b.test.com' }));

  it('TEST 5: hit route, no TLS', () => hits(3, { tls: false }));

  it('TEST 6: set different stream route with the same sni', async () => {
    await h.ok(`${ADMIN}/stream_routes/1`, 'PUT', `{"sni": "a.test.com", "remote_addr": "127.0.0.2", ${node(1)}}`);
    await h.ok(`${ADMIN}/stream_routes/4`, 'PUT', `{"sni": "a.test.com", "remote_addr": "127.0.0.1", ${node(4)}}`);
  });

  it('TEST 7: hit route', () => hits(4, { sni: 'a.test.com' }));

  it('TEST 8: change a.test.com route to fall back to wildcard route', async () => {
    await h.ok(`${ADMIN}/stream_routes/4`, 'PUT', `{"sni": "a.test.com", "remote_addr": "127.0.0.3", ${node(4)}}`);
  });

  it('TEST 9: hit route', () => hits(2, { sni: 'a.test.com' }));

  // APISIX's yaml_config: apisix.ssl.fallback_sni (its stream_proxy.tcp 9100 is the harness's listeners here).
  it('TEST 10: use fallback sni to match route', async () => {
    await h.restart({ apisixYaml: '  ssl:\n    fallback_sni: a.test.com' });
    await hits(2);
  });

  it('TEST 11: no sni matched, fall back to non-sni route', async () => {
    await h.restart();
    assert.equal((await h.t(`${ADMIN}/stream_routes/2`, 'DELETE')).status, 200);
  });

  it('TEST 12: hit route', () => hits(3, { sni: 'b.test.com' }));

  it('TEST 13: clean up routes', async () => {
    for (let i = 1; i <= 4; i++) await h.t(`${ADMIN}/stream_routes/${i}`, 'DELETE');
    assert.equal((await h.ok(`${ADMIN}/stream_routes`, 'GET')).body.total, 0);
  });

  it('TEST 14: set SSL with wildcard * SNI and test route matching', async () => {
    await h.ok(`${ADMIN}/ssls/100`, 'PUT', { ...certs.apisix, sni: '*' });
    await h.ok(`${ADMIN}/stream_routes/100`, 'PUT', `{"sni": "unknown-domain.com", ${node(1)}}`);
  });

  it('TEST 15: hit route with unknown domain using wildcard SSL', () => hits(1, { sni: 'unknown-domain.com' }));

  it('TEST 16: test SSL priority - exact match over partial wildcard', async () => {
    await h.ok(`${ADMIN}/ssls/101`, 'PUT', { ...certs.apisix, sni: 'specific.api7.dev' });
    await h.ok(`${ADMIN}/ssls/102`, 'PUT', { ...certs.apisix, sni: '*.api7.dev' });
    await h.ok(`${ADMIN}/stream_routes/101`, 'PUT', `{"sni": "specific.api7.dev", ${node(1)}}`);
    await h.ok(`${ADMIN}/stream_routes/102`, 'PUT', `{"sni": "*.api7.dev", ${node(2)}}`);
  });

  it('TEST 17: verify exact domain takes priority over partial wildcard', () => hits(1, { sni: 'specific.api7.dev' }));

  it('TEST 18: test SSL priority - partial match over wildcard', async () => {
    await h.ok(`${ADMIN}/ssls/101`, 'PUT', { ...certs.apisix, sni: 'specific.api7.dev' });
    await h.ok(`${ADMIN}/ssls/102`, 'PUT', { ...certs.apisix, sni: '*' });
    await h.ok(`${ADMIN}/stream_routes/101`, 'PUT', `{"sni": "*.api7.dev", ${node(1)}}`);
    await h.ok(`${ADMIN}/stream_routes/102`, 'PUT', `{"sni": "*", ${node(2)}}`);
  });

  it('TEST 19: verify partial match takes priority over wildcard', () => hits(1, { sni: 'specific.api7.dev' }));
});
