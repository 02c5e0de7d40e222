// stream_plugins and plugin_attr reloaded live, as APISIX's plugin reload does: weir in-process on real sockets, the
// config file edited, then a config reload (what SIGHUP and `weir reload` run) or PUT /apisix/admin/plugins/reload.
// Adding prometheus starts the export server and lets routes name it; moving export_addr moves the server with its
// counts; an export address that cannot be bound refuses the reload; removing plugins stops the export, refuses new
// routes naming them (APISIX's 400) and leaves stored routes serving without them. Several workers: workers.test.ts.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { exchange, freePort, startEchoServer, type TestServer } from '../helpers/net';
import { startTestWeir, waitFor, type TestWeir } from '../helpers/weir';
import { prometheusYaml, sample, scrape } from '../helpers/metrics';

/** Whether anything accepts on 127.0.0.1:port. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

/** Poll `accepts` until it answers `want` (an old export server closes gracefully, a moment after the reload). */
async function waitAccepts(port: number, want: boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while ((await accepts(port)) !== want) {
    if (Date.now() > deadline) throw new Error(`127.0.0.1:${port} still ${want ? 'refuses' : 'accepts'}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('stream_plugins and plugin_attr reloaded live', () => {
  let w: TestWeir;
  let up: TestServer;
  let port: number, blockedPort: number, m1: number, m2: number;
  const START = 'stream_plugins: [limit-conn, ip-restriction]';
  let original = '';
  /** Write the config file with `top` in place of the start-up plugin keys (and `more` replaced in the rest). */
  const writePlugins = (top: string, more: [string, string] = ['', '']): void => writeFileSync(w.configPath, original.replace(START, top).replace(more[0], more[1]));
  const prometheusAt = (p: number) => prometheusYaml(p, ['limit-conn', 'ip-restriction']);
  const plainRoute = (plugins: object) => ({ server_port: port, plugins, upstream: { nodes: { [`127.0.0.1:${up.port}`]: 1 } } });

  before(async () => {
    up = await startEchoServer();
    [port, blockedPort, m1, m2] = [await freePort(), await freePort(), await freePort(), await freePort()];
    w = await startTestWeir([`"127.0.0.1:${port}"`, `"127.0.0.1:${blockedPort}"`], { extraYaml: START });
    original = readFileSync(w.configPath, 'utf8');
    assert.equal((await w.admin('PUT', '/apisix/admin/stream_routes/plain', plainRoute({}))).status, 201);
    const blacklist = { server_port: blockedPort, plugins: { 'ip-restriction': { blacklist: ['127.0.0.1'] } }, upstream: { nodes: { [`127.0.0.1:${up.port}`]: 1 } } };
    assert.equal((await w.admin('PUT', '/apisix/admin/stream_routes/blocked', blacklist)).status, 201);
  });
  after(async () => {
    await w?.stop();
    await up?.close();
  });

  it('before: a route naming prometheus gets APISIX\'s 400, no export server listens, ip-restriction refuses', async () => {
    const r = await w.admin('PUT', '/apisix/admin/stream_routes/plain', plainRoute({ prometheus: {} }));
    assert.deepEqual(r, { status: 400, body: { error_msg: 'unknown plugin [prometheus]' } });
    assert.equal(await accepts(m1), false);
    assert.deepEqual(await exchange(blockedPort, 'x'), { data: Buffer.alloc(0), closedBy: 'end' });
  });

  it('a reload adding prometheus starts the export at export_addr; routes may name it and are counted', async () => {
    writePlugins(prometheusAt(m1));
    assert.deepEqual(await w.weir.reload(), { ok: true, errors: [], live: ['stream_plugins', 'plugin_attr'], kept: [] });
    assert.equal(w.weir.metricsServer?.port, m1);
    assert.equal((await w.admin('PUT', '/apisix/admin/stream_routes/plain', plainRoute({ prometheus: {} }))).status, 200);
    assert.deepEqual((await w.admin('GET', '/apisix/admin/plugins/list?subsystem=stream')).body, ['ip-restriction', 'limit-conn', 'prometheus']);
    for (let i = 0; i < 3; i++) assert.equal((await exchange(port, `hello ${i}`)).data.toString(), `hello ${i}`);
    await waitFor(() => w.access.filter((r) => r.route === 'plain').length === 3, 5000, 'three access records');
    const text = await scrape(m1);
    assert.equal(sample(text, 'apisix_stream_connection_total', { route: 'plain' }), 3);
  });

  it('a new plugin_attr.prometheus port moves the export server; the counts go on', async () => {
    writePlugins(prometheusAt(m2));
    assert.deepEqual(await w.weir.reload(), { ok: true, errors: [], live: ['plugin_attr'], kept: [] });
    assert.equal(sample(await scrape(m2), 'apisix_stream_connection_total', { route: 'plain' }), 3);
    await waitAccepts(m1, false);
  });

  it('an export_addr that cannot be bound refuses the reload: nothing changes, the export serves on', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const taken = (blocker.address() as net.AddressInfo).port;
    try {
      writePlugins(prometheusAt(taken).replace('prometheus]', 'prometheus, syslog]'));
      assert.deepEqual(await w.weir.reload(), {
        ok: false,
        errors: [`cannot listen on 127.0.0.1:${taken} (plugin_attr.prometheus.export_addr): address already in use`],
        live: [],
        kept: [],
      });
      assert.equal(w.weir.config.metrics?.exportAddr.port, m2);
      assert.equal(w.weir.plugins.plugins.get('syslog'), undefined, 'the list is the old one');
      assert.equal(sample(await scrape(m2), 'apisix_stream_connection_total', { route: 'plain' }), 3);
    } finally {
      blocker.close();
    }
  });

  it('PUT /apisix/admin/plugins/reload removing plugins: "done"; new routes naming them get 400, stored ones serve without them, the export stops', async () => {
    // the file also changes worker_shutdown_timeout: the plugin reload leaves that to a config reload
    writePlugins('stream_plugins: [limit-conn]', ['worker_shutdown_timeout: 2s', 'worker_shutdown_timeout: 3s']);
    assert.deepEqual(await w.admin('PUT', '/apisix/admin/plugins/reload'), { status: 200, body: 'done' });
    const again = await w.admin('PUT', '/apisix/admin/stream_routes/other', { ...plainRoute({ prometheus: {} }), server_port: 1 });
    assert.deepEqual(again, { status: 400, body: { error_msg: 'unknown plugin [prometheus]' } });
    // the stored routes are as written (the store stays as it was), and serve without the plugins
    assert.deepEqual((await w.admin('GET', '/apisix/admin/stream_routes/plain')).body.value.plugins, { prometheus: {} });
    assert.equal((await exchange(port, 'still')).data.toString(), 'still');
    assert.equal((await exchange(blockedPort, 'open now')).data.toString(), 'open now', 'ip-restriction no longer runs');
    await waitAccepts(m2, false);
    assert.deepEqual([w.weir.metrics, w.weir.metricsServer, w.weir.config.shutdownGraceMs], [null, null, 2000]);
    assert.deepEqual((await w.admin('GET', '/apisix/admin/plugins/list?subsystem=stream')).body, ['limit-conn']);
    // a config reload then applies the rest of the file, and finds the plugin keys already in force
    assert.deepEqual(await w.weir.reload(), { ok: true, errors: [], live: ['nginx_config.worker_shutdown_timeout'], kept: [] });
  });

  it('listing ip-restriction again: the stored route refuses again (its chain compiled anew)', async () => {
    writePlugins(START, ['worker_shutdown_timeout: 2s', 'worker_shutdown_timeout: 3s']);
    assert.deepEqual(await w.weir.reload(), { ok: true, errors: [], live: ['stream_plugins'], kept: [] });
    assert.deepEqual(await exchange(blockedPort, 'x'), { data: Buffer.alloc(0), closedBy: 'end' });
    assert.equal((await exchange(port, 'plain')).data.toString(), 'plain');
  });
});
