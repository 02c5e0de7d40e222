// `npm start` runs weir under Bun (the runtime of dist/weir), exec'd by npm's shell, so a SIGTERM to npm reaches
// weir exactly once and the drain of open connections is not cut short by a second signal.

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, startEchoServer, connect, readUntil, type TestServer } from '../helpers/net';
import { adminCall, configYaml, tempDir, waitFor } from '../helpers/weir';
import { hasCommand } from '../helpers/servers';
import { isRunning } from '../helpers/proc';
import { readPidFile } from '../../src/control/pid-file';

describe('npm start', { skip: !hasCommand('npm') && 'npm is not installed' }, () => {
  const dir = tempDir('weir-npm-start-');
  let echo: TestServer | undefined;
  after(async () => {
    await echo?.close();
    dir.remove();
  });

  it('runs weir under Bun; a SIGTERM to npm stops it once, after its open connection finished', async () => {
    echo = await startEchoServer();
    const [tcp, adminPort] = [await freePort(), await freePort()];
    const configPath = join(dir.path, 'config.yaml');
    writeFileSync(configPath, configYaml({ tcp: [`"127.0.0.1:${tcp}"`], adminPort, dbPath: join(dir.path, 'weir.db') }));
    const npm = spawn('npm', ['start', '--silent', '--', '-c', configPath], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } });
    let err = '';
    npm.stdout!.resume();
    npm.stderr!.on('data', (d) => (err += d));
    const exited = new Promise<number | string>((resolve) => npm.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
    try {
      await waitFor(() => err.includes('weir started') || npm.exitCode !== null, 30000, 'weir to start');
      assert.match(err, / info weir started runtime=bun /);
      const admin = `http://127.0.0.1:${adminPort}`;
      assert.equal((await adminCall(admin, 'PUT', '/apisix/admin/stream_routes/1', { upstream: { nodes: { [`127.0.0.1:${echo.port}`]: 1 } } })).status, 201);
      const open = await connect(tcp);
      open.write('a');
      await readUntil(open, (d) => d.toString() === 'a');
      npm.kill('SIGTERM');
      await waitFor(() => err.includes('SIGTERM: stopping'), 5000, 'weir to get the signal');
      await new Promise((r) => setTimeout(r, 300)); // a forwarded second signal would arrive in this time
      open.write('b');
      await readUntil(open, (d) => d.toString() === 'b');
      open.end();
      assert.equal(await exited, 0);
      assert.equal((err.match(/SIGTERM/g) ?? []).length, 1, err);
    } finally {
      if (npm.exitCode === null) npm.kill('SIGKILL');
      // a failed run must not leave weir behind: it is npm's grandchild, named by its pid file
      const pid = readPidFile(join(dir.path, 'weir.pid'));
      if (pid !== null && isRunning(pid)) process.kill(pid, 'SIGKILL');
    }
  });
});
