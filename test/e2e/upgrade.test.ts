// Binary upgrade as an operator does it: weir under Bun as a child process, then `weir upgrade -c FILE` (SIGUSR2).
// The new process takes over the listening sockets (config listeners, a stream_listeners object, UDP) while a
// client keeps opening connections: none fails; a long connection opened before stays with the old process,
// which exits once it is done. A new process that fails to start leaves the old one serving, Admin API included.
// The prometheus export's and the apisix.status listener's ports move like the Admin API's.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, startEchoServer, connect, readUntil, exchange, type TestServer } from '../helpers/net';
import { adminCall, configYaml, spawnBunWeir, tempDir, waitFor, type ChildWeir } from '../helpers/weir';
import { isRunning } from '../helpers/proc';
import { startUdpEcho, udpClient, type UdpEcho } from '../helpers/udp';
import { cli } from '../cli/harness';
import { prometheusYaml, scrape } from '../helpers/metrics';

const linux = process.platform === 'linux';

/** Open connections back to back until stopped; each must echo its byte. Counts successes and failures. */
function hammer(port: number): { stop(): Promise<{ ok: number; failed: string[] }> } {
  let running = true;
  let ok = 0;
  const failed: string[] = [];
  const loop = (async () => {
    while (running) {
      const r = await exchange(port, 'x', { timeoutMs: 3000 });
      if (r.data.toString() === 'x') ok++;
      else failed.push(`${r.closedBy} after ${r.data.length} bytes`);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { ok, failed };
    },
  };
}

describe('binary upgrade (weir upgrade, SIGUSR2)', { skip: !linux && 'signals and /proc' }, () => {
  const dir = tempDir('weir-upgrade-');
  const configPath = join(dir.path, 'config.yaml');
  const dbPath = join(dir.path, 'weir.db');
  const pids = new Set<number>();
  let first: ChildWeir;
  let echo: TestServer;
  let udpEcho: UdpEcho;
  let adminPort: number, tcpPort: number, udpPort: number, objPort: number, metricsPort: number, statusPort: number;
  let admin: string;

  before(async () => {
    echo = await startEchoServer();
    udpEcho = await startUdpEcho('u:');
    [adminPort, tcpPort, udpPort, objPort, metricsPort, statusPort] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
    admin = `http://127.0.0.1:${adminPort}`;
    // the prometheus export's port moves to the new process like the Admin API's
    const extraYaml = prometheusYaml(metricsPort);
    writeFileSync(configPath, configYaml({ tcp: [`"127.0.0.1:${tcpPort}"`], udp: [`"127.0.0.1:${udpPort}"`], adminPort, dbPath, extraYaml, apisixYaml: `  status:\n    ip: 127.0.0.1\n    port: ${statusPort}` }).replace('worker_shutdown_timeout: 2s', 'worker_shutdown_timeout: 20s'));
    first = spawnBunWeir(['start', '-c', configPath]);
    pids.add(first.child.pid!);
    await waitFor(() => first.stderr().includes('weir started') || first.child.exitCode !== null, 20000, 'weir to start');
    assert.equal(first.child.exitCode, null, first.stderr());
    assert.equal((await adminCall(admin, 'PUT', '/apisix/admin/stream_routes/a-udp', { server_port: udpPort, upstream: { nodes: { [`127.0.0.1:${udpEcho.port}`]: 1 } } })).status, 201);
    assert.equal((await adminCall(admin, 'PUT', '/apisix/admin/stream_routes/tcp', { upstream: { nodes: { [`127.0.0.1:${echo.port}`]: 1 } } })).status, 201);
    assert.equal((await adminCall(admin, 'PUT', '/apisix/admin/stream_listeners/obj', { addr: `127.0.0.1:${objPort}` })).status, 201);
  });
  after(async () => {
    for (const pid of pids) if (isRunning(pid)) process.kill(pid, 'SIGKILL');
    first.child.stdout?.destroy();
    first.child.stderr?.destroy();
    await echo.close();
    await udpEcho.close();
    dir.remove();
  });

  let second = 0;

  it('hands every listening socket to the new process without one failed connection', async () => {
    const long = await connect(tcpPort);
    long.write('before');
    await readUntil(long, (d) => d.toString() === 'before');
    const load = hammer(tcpPort);
    await new Promise((r) => setTimeout(r, 100));
    const r = await cli(['upgrade', '-c', configPath]);
    await new Promise((r2) => setTimeout(r2, 200));
    const { ok, failed } = await load.stop();
    assert.equal(r.code, 0, r.err);
    second = Number(readFileSync(join(dir.path, 'weir.pid'), 'utf8'));
    pids.add(second);
    assert.notEqual(second, first.child.pid);
    assert.equal(r.out, `upgraded: pid ${second} serves now; pid ${first.child.pid} drains its open connections and exits\n`);
    assert.deepEqual(failed, [], `${ok} connections succeeded`);
    assert.ok(ok > 20, `only ${ok} connections during the upgrade`);
    // the new process serves everything: config TCP, the listener object, UDP, the Admin API
    assert.equal((await exchange(objPort, 'obj')).data.toString(), 'obj');
    const client = await udpClient();
    client.send('ping', udpPort);
    assert.deepEqual(await client.waitReplies(1), ['u:ping']);
    await client.close();
    assert.equal((await adminCall(admin, 'GET', '/apisix/admin/stream_listeners/obj')).status, 200);
    assert.match(await scrape(metricsPort), /^weir_stream_workers 1$/m);
    const status = await fetch(`http://127.0.0.1:${statusPort}/status`);
    assert.deepEqual([status.status, await status.json()], [200, { status: 'ok' }], 'the status listener moved too');
    // the old one still carries the long connection, and exits once it is done
    assert.equal(isRunning(first.child.pid!), true);
    long.write('after');
    await readUntil(long, (d) => d.toString() === 'after');
    long.end();
    assert.equal(await first.exited, 0);
    assert.match(first.stderr(), new RegExp(`upgrade: the new process serves; draining new_pid=${second} open_connections=\\d+`));
  });

  it('a new process that fails to start leaves the old one serving, Admin API included', async () => {
    // the new process reads the config again: an Admin API port that is taken makes it fail after the old
    // process released its own, so the old one has to bind it back
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const taken = (blocker.address() as net.AddressInfo).port;
    const good = readFileSync(configPath, 'utf8');
    writeFileSync(configPath, good.replace(`port: ${adminPort}`, `port: ${taken}`));
    try {
      const r = await cli(['upgrade', '-c', configPath]); // the CLI reads the file only for the database path
      assert.equal(r.code, 1, r.out);
      assert.equal(r.err, `weir: upgrade failed: the new process exited (code 1) before it served; its log lines say why; pid ${second} keeps serving\n`);
      assert.equal(Number(readFileSync(join(dir.path, 'weir.pid'), 'utf8')), second);
      assert.equal((await adminCall(admin, 'GET', '/apisix/admin/stream_routes')).status, 200);
      assert.match(await scrape(metricsPort), /^weir_stream_workers 1$/m, 'the metrics export is bound again too');
      assert.equal((await exchange(tcpPort, 'still')).data.toString(), 'still');
    } finally {
      blocker.close();
      writeFileSync(configPath, good);
    }
  });

  it('stops on SIGTERM like any weir', async () => {
    process.kill(second, 'SIGTERM');
    await waitFor(() => !isRunning(second), 5000, 'the upgraded weir to exit');
  });
});
