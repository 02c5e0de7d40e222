// HTTPS probes through weir against openssl s_server -www: with https_verify_certificate the node's
// certificate must chain to apisix.ssl.ssl_trusted_certificate and carry checks.active.host; without it,
// any certificate passes.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { freePort } from '../helpers/net';
import { missingServers, startOpenSslWww, type OpenSslServer } from '../helpers/servers';
import { startTestWeir, type TestWeir } from '../helpers/weir';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'tls');
const skip = missingServers('openssl');

describe('HTTPS probes against openssl s_server', { skip: skip ?? false }, () => {
  let server: OpenSslServer;
  let w: TestWeir;

  before(async () => {
    server = await startOpenSslWww(await freePort(), join(FIXTURES, 'a.test.com.crt'), join(FIXTURES, 'a.test.com.key'));
    w = await startTestWeir([`"127.0.0.1:${await freePort()}"`], {
      apisixYaml: `  ssl:\n    ssl_trusted_certificate: ${JSON.stringify(join(FIXTURES, 'ca.crt'))}`,
    });
    const cases: Record<string, Record<string, unknown>> = {
      trusted: { host: 'a.test.com' },
      'wrong-name': { host: 'b.test.com' },
      unverified: { host: 'b.test.com', https_verify_certificate: false },
    };
    for (const [id, active] of Object.entries(cases)) {
      const put = await w.admin('PUT', `/apisix/admin/upstreams/${id}`, {
        nodes: { [`127.0.0.1:${server.port}`]: 1 },
        checks: { active: { type: 'https', timeout: 2, ...active, healthy: { interval: 1, successes: 1 }, unhealthy: { interval: 1, tcp_failures: 1 } } },
      });
      assert.equal(put.status, 201, JSON.stringify(put.body));
    }
  });
  after(async () => {
    await w?.stop();
    await server?.close();
  });

  it('verify on: healthy with the trusted CA and the right name, down with another name; verify off: healthy', async () => {
    const status = async (id: string) => (await w.admin('GET', `/v1/healthcheck/upstreams/${id}`)).body.nodes[0];
    const want = { trusted: 'healthy', 'wrong-name': 'unhealthy', unverified: 'healthy' };
    let seen: Record<string, string> = {};
    for (let i = 0; i < 200; i++) {
      seen = {};
      for (const id of Object.keys(want)) {
        const n = await status(id);
        seen[id] = n.last_probe === null ? 'unprobed' : n.status;
      }
      if (JSON.stringify(seen) === JSON.stringify(want)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.deepEqual(seen, want);
    assert.equal((await w.admin('GET', '/v1/healthcheck/upstreams/trusted')).body.type, 'https');
  });
});
