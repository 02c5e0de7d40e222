// Config reload as an operator does it: weir under Bun as a child process, the config file edited, then SIGHUP or
// `weir reload -c FILE` (which finds weir through weir.pid). New listeners bind, removed ones stop accepting while
// their open connections go on, admin keys change, settings that cannot change live are reported, and a config
// that is invalid (or whose listener cannot bind) leaves the old one serving and says why.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, startEchoServer, connect, readUntil, type TestServer } from '../helpers/net';
import { DOC_KEY, adminCall, configYaml, spawnBunWeir, tempDir, waitFor, type ChildWeir } from '../helpers/weir';
import { cli } from '../cli/harness';

const linux = process.platform === 'linux';

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

describe('config reload (SIGHUP, weir reload)', { skip: !linux && 'signals' }, () => {
  const dir = tempDir('weir-reload-');
  const configPath = join(dir.path, 'config.yaml');
  const dbPath = join(dir.path, 'weir.db');
  let weir: ChildWeir;
  let echo: TestServer;
  let adminPort: number, p1: number, p2: number;
  let admin: string;
  const write = (tcp: string[], port = adminPort): void => writeFileSync(configPath, configYaml({ tcp, adminPort: port, dbPath }));

  before(async () => {
    echo = await startEchoServer();
    [adminPort, p1, p2] = [await freePort(), await freePort(), await freePort()];
    admin = `http://127.0.0.1:${adminPort}`;
    write([`"127.0.0.1:${p1}"`]);
    weir = spawnBunWeir(['start', '-c', configPath]);
    await waitFor(() => weir.stderr().includes('weir started') || weir.child.exitCode !== null, 20000, 'weir to start');
    assert.equal(weir.child.exitCode, null, weir.stderr());
    assert.equal((await adminCall(admin, 'PUT', '/apisix/admin/stream_routes/1', { upstream: { nodes: { [`127.0.0.1:${echo.port}`]: 1 } } })).status, 201);
  });
  after(async () => {
    if (weir.child.exitCode === null) weir.child.kill('SIGKILL');
    await echo.close();
    dir.remove();
  });

  it('writes weir.pid beside the database at start', () => {
    assert.equal(readFileSync(join(dir.path, 'weir.pid'), 'utf8'), `${weir.child.pid}\n`);
  });

  it('SIGHUP binds a listener added to the file; removing it stops accepting but cuts no open connection', async () => {
    write([`"127.0.0.1:${p1}"`, `"127.0.0.1:${p2}"`]);
    weir.child.kill('SIGHUP');
    await waitFor(() => weir.stderr().includes('config reloaded changed="apisix.stream_proxy (listeners)"'), 5000, 'the reload line');
    assert.equal(await accepts(p2), true);
    const open = await connect(p2);
    open.write('before');
    await readUntil(open, (d) => d.toString() === 'before');
    write([`"127.0.0.1:${p1}"`]);
    const r = await cli(['reload', '-c', configPath]);
    assert.deepEqual(r, { code: 0, out: `reloaded pid ${weir.child.pid}: changed apisix.stream_proxy (listeners)\n`, err: '' });
    assert.equal(await accepts(p2), false);
    open.write('after');
    await readUntil(open, (d) => d.toString() === 'after');
    open.destroy();
  });

  it('admin keys change live; the admin listen address is kept and reported', async () => {
    const other = await freePort();
    write([`"127.0.0.1:${p1}"`], other);
    writeFileSync(configPath, readFileSync(configPath, 'utf8').replace(DOC_KEY, 'a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0'));
    const r = await cli(['reload', '-c', configPath]);
    assert.equal(r.code, 0, r.err);
    assert.equal(
      r.out,
      `reloaded pid ${weir.child.pid}: changed deployment.admin.admin_key\n` +
        `not changed live: deployment.admin.admin_listen: 127.0.0.1:${other} needs a restart or \`weir upgrade\`; still 127.0.0.1:${adminPort}\n`,
    );
    assert.equal((await adminCall(admin, 'GET', '/apisix/admin/stream_routes')).status, 401, 'the old key is refused');
    const res = await fetch(`${admin}/apisix/admin/stream_routes`, { headers: { 'X-API-KEY': 'a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0' } });
    assert.equal(res.status, 200);
    write([`"127.0.0.1:${p1}"`]);
    assert.equal((await cli(['reload', '-c', configPath])).code, 0);
    assert.equal((await adminCall(admin, 'GET', '/apisix/admin/stream_routes')).status, 200);
  });

  it('a listener that cannot bind refuses the reload: exit 2 with the reason, the old config serves on', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const taken = (blocker.address() as net.AddressInfo).port;
    try {
      write([`"127.0.0.1:${p1}"`, `"127.0.0.1:${p2}"`, `"127.0.0.1:${taken}"`]);
      const r = await cli(['reload', '-c', configPath]);
      assert.deepEqual(r, {
        code: 2,
        out: '',
        err:
          `weir: reload: cannot listen on 127.0.0.1:${taken} (apisix.stream_proxy.tcp[2]): address already in use\n` +
          `weir: reload refused: pid ${weir.child.pid} keeps serving its old config\n`,
      });
      assert.deepEqual([await accepts(p1), await accepts(p2)], [true, false], 'p2 was bound for the try, then released');
      assert.match(weir.stderr(), new RegExp(`error reload refused; the old config keeps serving error="cannot listen on 127\\.0\\.0\\.1:${taken}`));
    } finally {
      blocker.close();
    }
  });

  it('a config that does not parse: SIGHUP logs why and keeps serving; weir reload says so with exit 2', async () => {
    writeFileSync(configPath, readFileSync(configPath, 'utf8').replace(`"127.0.0.1:${p1}"`, '"127.0.0.1:99999"'));
    weir.child.kill('SIGHUP');
    await waitFor(() => weir.stderr().includes('is not a valid port'), 5000, 'the refusal');
    assert.match(weir.stderr(), /error reload refused; the old config keeps serving error="apisix\.stream_proxy\.tcp\[0\]: \\"127\.0\.0\.1:99999\\" is not a valid port"/);
    assert.equal(await accepts(p1), true);
    const r = await cli(['reload', '-c', configPath]);
    assert.equal(r.code, 2);
    assert.equal(r.err, 'weir: config error: apisix.stream_proxy.tcp[0]: "127.0.0.1:99999" is not a valid port\n');
  });

  it('removes weir.pid when it exits', async () => {
    weir.child.kill('SIGTERM');
    assert.equal(await weir.exited, 0);
    assert.equal(existsSync(join(dir.path, 'weir.pid')), false);
  });
});

describe('weir reload without a running weir', () => {
  it('exits 1 naming the missing pid file', async () => {
    const dir = tempDir('weir-reload-none-');
    try {
      const configPath = join(dir.path, 'c.yaml');
      writeFileSync(configPath, configYaml({ tcp: ['"127.0.0.1:1"'], adminPort: 2, dbPath: join(dir.path, 'weir.db') }));
      const r = await cli(['reload', '-c', configPath]);
      assert.deepEqual(r, { code: 1, out: '', err: `weir: reload: no running weir found: ${join(dir.path, 'weir.pid')} does not exist (is weir running with this config?)\n` });
      writeFileSync(join(dir.path, 'weir.pid'), '999999999\n');
      assert.deepEqual(await cli(['upgrade', '-c', configPath]), { code: 1, out: '', err: `weir: upgrade: ${join(dir.path, 'weir.pid')} names pid 999999999, which is not running\n` });
    } finally {
      dir.remove();
    }
  });
});
