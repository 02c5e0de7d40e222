// weir as an operator runs it: a child process with a config file, signals, exit codes, restarts on the same DB;
// syslog entries still queued at SIGTERM reach their collectors before the process exits.

import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import net from 'node:net';
import dgram from 'node:dgram';
import { freePort, startEchoServer, startServer, exchange, connect, readUntil, type TestServer } from '../helpers/net';
import { configYaml, spawnWeir, tempDir, waitFor, adminCall, type ChildWeir } from '../helpers/weir';

const children: ChildWeir[] = [];
const dirs: Array<{ remove(): void }> = [];
after(async () => {
  for (const c of children) if (c.child.exitCode === null) c.child.kill('SIGKILL');
  for (const d of dirs) d.remove();
});

function started(c: ChildWeir): Promise<void> {
  return waitFor(() => c.stderr().includes('weir started') || c.child.exitCode !== null, 20000, 'weir to start').then(() => {
    if (c.child.exitCode !== null) throw new Error(`weir exited early: ${c.stderr()}`);
  });
}

describe('weir command line', () => {
  it('--help prints usage and exits 0', async () => {
    const c = spawnWeir(['--help']);
    assert.equal(await c.exited, 0);
    assert.match(c.stdout(), /Usage:/);
    assert.match(c.stdout(), /-c, --config FILE/);
  });

  it('--version prints the package version', async () => {
    const c = spawnWeir(['--version']);
    assert.equal(await c.exited, 0);
    assert.match(c.stdout(), /^weir \d+\.\d+\.\d+\n$/);
  });

  it('an unknown option is bad input: exit 2 with one line', async () => {
    const c = spawnWeir(['start', '--bogus']);
    assert.equal(await c.exited, 2);
    assert.match(c.stderr(), /^weir: .*bogus/);
  });

  it('a config error names the key and exits 2', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const file = join(dir.path, 'bad.yaml');
    writeFileSync(file, 'apisix:\n  stream_proxy:\n    tcp:\n      - 9100\n      - "127.0.0.1:99999"\n');
    const c = spawnWeir(['start', '-c', file]);
    assert.equal(await c.exited, 2);
    assert.match(c.stderr(), /apisix\.stream_proxy\.tcp\[1\]: "127\.0\.0\.1:99999" is not a valid port/);
    assert.doesNotMatch(c.stderr(), /\n\s+at /, 'no stack trace');
  });

  it('a port already in use is a clear error, not a stack trace', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const busy = (blocker.address() as net.AddressInfo).port;
    try {
      const file = join(dir.path, 'c.yaml');
      writeFileSync(file, configYaml({ tcp: [`"127.0.0.1:${busy}"`], adminPort: await freePort(), dbPath: join(dir.path, 'w.db') }));
      const c = spawnWeir(['start', '-c', file]);
      assert.equal(await c.exited, 1);
      assert.match(c.stderr(), new RegExp(`cannot listen on 127\\.0\\.0\\.1:${busy} \\(apisix\\.stream_proxy\\.tcp\\[0\\]\\): address already in use`));
      assert.doesNotMatch(c.stderr(), /\n\s+at /, 'no stack trace');
    } finally {
      blocker.close();
    }
  });
});

describe('routes survive a restart; SIGTERM drains open connections', () => {
  let upstream: TestServer;
  after(async () => upstream?.close());

  it('keeps routes in the SQLite file across restarts and exits 0 on SIGTERM after open connections finish', async () => {
    upstream = await startEchoServer();
    const dir = tempDir();
    dirs.push(dir);
    const proxyPort = await freePort();
    const adminPort = await freePort();
    const file = join(dir.path, 'config.yaml');
    writeFileSync(file, configYaml({ tcp: [`"127.0.0.1:${proxyPort}"`], adminPort, dbPath: join(dir.path, 'weir.db') }));
    const admin = `http://127.0.0.1:${adminPort}`;

    const first = spawnWeir(['start', '-c', file]);
    children.push(first);
    await started(first);
    const put = await adminCall(admin, 'PUT', '/apisix/admin/stream_routes/r1', {
      upstream: { nodes: { [`127.0.0.1:${upstream.port}`]: 1 }, type: 'roundrobin' },
    });
    assert.equal(put.status, 201);
    assert.equal((await exchange(proxyPort, 'one')).data.toString(), 'one');

    // an open connection at SIGTERM may finish its work within the grace period
    const open = await connect(proxyPort);
    open.write('before ');
    await readUntil(open, (d) => d.toString() === 'before ');
    first.child.kill('SIGTERM');
    await waitFor(() => first.stderr().includes('SIGTERM'), 5000, 'SIGTERM to be logged');
    open.end('after');
    const rest = await readUntil(open, (d) => d.toString() === 'after');
    assert.equal(rest.toString(), 'after');
    assert.equal(await first.exited, 0);

    const second = spawnWeir(['start', '-c', file]);
    children.push(second);
    await started(second);
    assert.equal((await exchange(proxyPort, 'two')).data.toString(), 'two');
    const got = await adminCall(admin, 'GET', '/apisix/admin/stream_routes/r1');
    assert.equal(got.status, 200);
    assert.equal(got.body.value.id, 'r1');
    second.child.kill('SIGINT');
    assert.equal(await second.exited, 0);
  });
});

describe('SIGTERM sends the syslog entries still queued', () => {
  let upstream: TestServer;
  let tcpCollector: TestServer;
  let udpCollector: dgram.Socket;
  after(async () => {
    await upstream?.close();
    await tcpCollector?.close();
    udpCollector?.close();
  });

  it('entries of connections that ended just before SIGTERM, and of one ending during the drain, reach a UDP and a TCP collector', async () => {
    upstream = await startEchoServer();
    const tcpLines: string[] = [];
    let tcpText = '';
    tcpCollector = await startServer((s) => s.on('data', (d) => {
      tcpText += d;
      const lines = tcpText.split('\n');
      tcpText = lines.pop()!;
      tcpLines.push(...lines);
    }));
    const udpLines: string[] = [];
    udpCollector = dgram.createSocket('udp4');
    udpCollector.on('message', (m) => void udpLines.push(m.toString()));
    await new Promise<void>((r) => udpCollector.bind(0, '127.0.0.1', () => r()));
    const dir = tempDir();
    dirs.push(dir);
    const [pu, pt, adminPort] = [await freePort(), await freePort(), await freePort()];
    const file = join(dir.path, 'config.yaml');
    writeFileSync(file, configYaml({ tcp: [`"127.0.0.1:${pu}"`, `"127.0.0.1:${pt}"`], adminPort, dbPath: join(dir.path, 'weir.db'), extraYaml: 'stream_plugins: [syslog]' }));
    const admin = `http://127.0.0.1:${adminPort}`;
    const c = spawnWeir(['start', '-c', file]);
    children.push(c);
    await started(c);
    const upstreamConf = { nodes: { [`127.0.0.1:${upstream.port}`]: 1 } };
    // batches that nothing would send for a minute
    const slow = { host: '127.0.0.1', batch_max_size: 1000, inactive_timeout: 60, buffer_duration: 60 };
    const udpPort = (udpCollector.address() as net.AddressInfo).port;
    assert.equal((await adminCall(admin, 'PUT', '/apisix/admin/stream_routes/u', { server_port: pu, upstream: upstreamConf, plugins: { syslog: { ...slow, port: udpPort, sock_type: 'udp' } } })).status, 201);
    assert.equal((await adminCall(admin, 'PUT', '/apisix/admin/stream_routes/t', { server_port: pt, upstream: upstreamConf, plugins: { syslog: { ...slow, port: tcpCollector.port } } })).status, 201);
    for (let i = 0; i < 3; i++) {
      assert.equal((await exchange(pu, `u${i}`)).data.toString(), `u${i}`);
      assert.equal((await exchange(pt, `t${i}`)).data.toString(), `t${i}`);
    }
    const open = await connect(pu);
    open.write('open');
    await readUntil(open, (d) => d.toString() === 'open');
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual([udpLines.length, tcpLines.length], [0, 0], 'nothing sent before the signal');
    c.child.kill('SIGTERM');
    await waitFor(() => c.stderr().includes('SIGTERM'), 5000, 'SIGTERM to be logged');
    open.end();
    assert.equal(await c.exited, 0);
    const routeOf = (line: string) => (JSON.parse(line.slice(line.indexOf('{'))) as { route_id: string }).route_id;
    await waitFor(() => udpLines.length === 4 && tcpLines.length === 3, 5000, `4 UDP and 3 TCP entries (got ${udpLines.length}, ${tcpLines.length})`);
    assert.deepEqual(udpLines.map(routeOf), ['u', 'u', 'u', 'u']);
    assert.deepEqual(tcpLines.map(routeOf), ['t', 't', 't']);
    assert.match(udpLines[3]!, /^<46>1 \S+ \S+ weir \d+ - - \{/);
  });
});
