// Fleet mode over TLS, as APISIX configures it: an https etcd verified with apisix.ssl.ssl_trusted_certificate and
// deployment.etcd.tls.sni, and mTLS with deployment.etcd.tls.cert/key when etcd requires client certificates.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startWeir, type Weir } from '../../src/cli/start';
import { AccessLog } from '../../src/log/logger';
import { DOC_KEY, adminCall, tempDir } from '../helpers/weir';
import { exchange, freePort, startEchoServer, type TestServer } from '../helpers/net';
import { missingServers } from '../helpers/servers';
import { startEtcd, type EtcdServer } from '../helpers/etcd';

const skip = missingServers('etcd', 'etcdctl') ?? false;
const FIX = join(import.meta.dirname, '..', 'fixtures');
const CA = join(FIX, 'tls', 'ca.crt');
const SERVER = { cert: join(FIX, 'fleet', 'etcd.crt'), key: join(FIX, 'fleet', 'etcd.key') };
const CLIENT = { cert: join(FIX, 'tls', 'client.crt'), key: join(FIX, 'tls', 'client.key') };

async function startPlane(dir: string, etcdUrl: string, tlsYaml: string, trusted: string): Promise<{ weir: Weir; port: number; adminPort: number }> {
  const [port, adminPort] = [await freePort(), await freePort()];
  const configPath = join(dir, 'config.yaml');
  writeFileSync(configPath, [
    'apisix:',
    `  stream_proxy: {tcp: ["127.0.0.1:${port}"]}`,
    `  ssl: {ssl_trusted_certificate: ${JSON.stringify(trusted)}}`,
    'deployment:',
    '  role: data_plane',
    '  role_data_plane: {config_provider: etcd}',
    `  etcd: {host: ["${etcdUrl}"], timeout: 2, tls: ${tlsYaml}}`,
    `  admin: {admin_key: [{name: admin, key: ${DOC_KEY}, role: admin}], admin_listen: {ip: 127.0.0.1, port: ${adminPort}}}`,
    `  sqlite: {path: ${JSON.stringify(join(dir, 'weir.db'))}}`,
    'nginx_config: {worker_shutdown_timeout: 1s, stream: {enable_access_log: false}}',
  ].join('\n'));
  return { weir: await startWeir({ configPath, accessLog: new AccessLog({ disabled: true }) }), port, adminPort };
}

async function reachesWithin(port: number, tag: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while ((await exchange(port, 'ping', { timeoutMs: 1000 })).data.toString() !== `${tag}ping`) {
    if (Date.now() > deadline) throw new Error(`no route through ${port} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

for (const mtls of [false, true]) {
  describe(`fleet data plane over ${mtls ? 'mTLS' : 'TLS'}`, { skip }, () => {
    const dir = tempDir('weir-fleet-tls-');
    let etcd: EtcdServer;
    let echo: TestServer;
    const planes: Weir[] = [];

    before(async () => {
      etcd = await startEtcd(dir.path, { ...SERVER, ca: CA, ...(mtls ? { clientCa: CA, clientCert: CLIENT.cert, clientKey: CLIENT.key } : {}) });
      echo = await startEchoServer('T:');
      etcd.ctl('put', '/apisix/upstreams/1', JSON.stringify({ nodes: { [`127.0.0.1:${echo.port}`]: 1 } }));
      etcd.ctl('put', '/apisix/stream_routes/1', JSON.stringify({ upstream_id: '1' }));
    });
    after(async () => {
      for (const p of planes) await p.stop(0);
      etcd?.kill();
      await echo?.close();
      dir.remove();
    });

    it('syncs with the CA and SNI configured', async () => {
      const tls = mtls ? `{sni: etcd.test, cert: ${JSON.stringify(CLIENT.cert)}, key: ${JSON.stringify(CLIENT.key)}}` : '{sni: etcd.test}';
      const p = await startPlane(join(dir.path), etcd.url, tls, CA);
      planes.push(p.weir);
      await reachesWithin(p.port, 'T:', 5000);
    });

    it('refuses an etcd whose certificate the trusted CA did not sign, and says why', async () => {
      const other = tempDir('weir-fleet-tls-');
      let weir: Weir | null = null;
      try {
        const p = await startPlane(other.path, etcd.url, '{sni: etcd.test}', join(FIX, 'tls', 'other-ca.crt'));
        weir = p.weir;
        const deadline = Date.now() + 5000;
        let fleet: { last_error: string | null; last_full_sync: string | null } = { last_error: null, last_full_sync: null };
        while (fleet.last_error === null && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 50));
          fleet = (await adminCall(`http://127.0.0.1:${p.adminPort}`, 'GET', '/v1/fleet')).body;
        }
        assert.match(String(fleet.last_error), /certificate/i);
        assert.equal(fleet.last_full_sync, null);
      } finally {
        await weir?.stop(0);
        other.remove();
      }
    });
  });
}
