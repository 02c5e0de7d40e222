// Smoke test of the built executables (dist/weir, dist/weir-node), each copied alone into an empty directory:
// --version, --help, start, a route created through the Admin API proxies real TCP, and it survives a restart.
// Skipped when `npm run build` has not run, unless WEIR_REQUIRE_BINARY=1 (CI) makes that a failure.

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { VERSION } from '../../src/embedded.gen';
import { exchange, freePort, startEchoServer } from '../helpers/net';
import { adminCall, configYaml, tempDir, waitFor } from '../helpers/weir';

const DIST = join(import.meta.dirname, '../../dist');

function skipReason(file: string): string | false {
  if (existsSync(join(DIST, file))) return false;
  if (process.env.WEIR_REQUIRE_BINARY === '1') throw new Error(`WEIR_REQUIRE_BINARY=1 but dist/${file} is missing`);
  return `dist/${file} not built (npm run build)`;
}

interface Running {
  child: ChildProcess;
  err: () => string;
  exited: Promise<number | null>;
}

function startBinary(bin: string, args: string[], cwd: string, env: Record<string, string> = {}): Running {
  // A bare environment: no NODE_OPTIONS, no node_modules, nothing from the build tree.
  const child = spawn(bin, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: '/usr/bin:/bin', HOME: cwd, ...env } });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  return { child, err: () => err, exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))) };
}

/** A temp directory and the processes a describe() starts, all gone after it (call inside describe). */
function binaryScope(prefix: string): { dir: ReturnType<typeof tempDir>; running: Running[] } {
  const scope = { dir: tempDir(prefix), running: [] as Running[] };
  after(async () => {
    for (const r of scope.running) r.child.kill('SIGKILL');
    await Promise.all(scope.running.map((r) => r.exited));
    scope.dir.remove();
  });
  return scope;
}

for (const file of ['weir', 'weir-node']) {
  describe(`dist/${file} alone in an empty directory`, { skip: skipReason(file) }, () => {
    const { dir, running } = binaryScope('weir-bin-');

    it('prints --version and --help, proxies through an Admin API route, keeps it across a restart', async () => {
      const bin = join(dir.path, file);
      copyFileSync(join(DIST, file), bin);
      spawnSync('chmod', ['+x', bin]);
      assert.deepEqual(readdirSync(dir.path), [file]);
      const version = spawnSync(bin, ['--version'], { cwd: dir.path, encoding: 'utf8', timeout: 10000 });
      assert.equal(version.stdout, `weir ${VERSION}\n`);
      const help = spawnSync(bin, ['--help'], { cwd: dir.path, encoding: 'utf8', timeout: 10000 });
      assert.match(help.stdout, /weir import FILE/);
      assert.equal(help.status, 0);

      const echo = await startEchoServer('echo:');
      try {
        const port = await freePort();
        const adminPort = await freePort();
        const config = join(dir.path, 'config.yaml');
        writeFileSync(config, configYaml({ tcp: [`"127.0.0.1:${port}"`], adminPort, dbPath: join(dir.path, 'data', 'weir.db') }));
        const admin = `http://127.0.0.1:${adminPort}`;
        const up = async (): Promise<Running> => {
          const r = startBinary(bin, ['start', '-c', config], dir.path);
          running.push(r);
          await waitFor(() => r.err().includes('weir started'), 10000, `${file} start`);
          return r;
        };

        const first = await up();
        const put = await adminCall(admin, 'PUT', '/apisix/admin/stream_routes/1', {
          upstream: { nodes: { [`127.0.0.1:${echo.port}`]: 1 }, type: 'roundrobin' },
        });
        assert.equal(put.status, 201);
        assert.equal((await exchange(port, 'one')).data.toString(), 'echo:one');
        first.child.kill('SIGTERM');
        assert.equal(await first.exited, 0);

        const second = await up();
        assert.equal((await adminCall(admin, 'GET', '/apisix/admin/stream_routes/1')).status, 200);
        assert.equal((await exchange(port, 'two')).data.toString(), 'echo:two');
        second.child.kill('SIGTERM');
        assert.equal(await second.exited, 0);

        // The offline CLI in the same binary reads what the proxy wrote.
        const list = spawnSync(bin, ['stream_routes', 'list', '-c', config], { cwd: dir.path, encoding: 'utf8', timeout: 10000 });
        assert.equal(JSON.parse(list.stdout).total, 1, list.stderr);
      } finally {
        await echo.close();
      }
    });
  });
}

/** File-backed resident memory of a process (the executable's pages it has mapped in), KiB. */
function rssFileKib(pid: number): number {
  return Number(/RssFile:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
}

describe('dist/weir hands its start-up code back (src/runtime/bun/trim.ts)', { skip: skipReason('weir') }, () => {
  const { dir, running } = binaryScope('weir-trim-');

  it('maps far fewer pages of the executable once started than with WEIR_TRIM_CODE=0, and keeps proxying', async () => {
    const echo = await startEchoServer('echo:');
    try {
      const start = async (name: string, env: Record<string, string>): Promise<{ r: Running; port: number }> => {
        const port = await freePort();
        const adminPort = await freePort();
        const config = join(dir.path, `${name}.yaml`);
        writeFileSync(config, configYaml({ tcp: [`"127.0.0.1:${port}"`], adminPort, dbPath: join(dir.path, name, 'weir.db') }));
        const r = startBinary(join(DIST, 'weir'), ['start', '-c', config], dir.path, env);
        running.push(r);
        await waitFor(() => r.err().includes('weir started'), 10000, `${name} start`);
        const put = await adminCall(`http://127.0.0.1:${adminPort}`, 'PUT', '/apisix/admin/stream_routes/1', {
          upstream: { nodes: { [`127.0.0.1:${echo.port}`]: 1 }, type: 'roundrobin' },
        });
        assert.equal(put.status, 201);
        return { r, port };
      };
      const trimmed = await start('trimmed', {});
      const kept = await start('kept', { WEIR_TRIM_CODE: '0' });
      await new Promise((resolve) => setTimeout(resolve, 2500)); // the release runs 1 s after start
      const lean = rssFileKib(trimmed.r.child.pid!);
      const full = rssFileKib(kept.r.child.pid!);
      assert.ok(lean < full * 0.75, `file-backed RSS ${lean} KiB trimmed vs ${full} KiB kept`);
      for (let i = 0; i < 20; i++) assert.equal((await exchange(trimmed.port, `m${i}`)).data.toString(), `echo:m${i}`);
      trimmed.r.child.kill('SIGTERM');
      assert.equal(await trimmed.r.exited, 0);
    } finally {
      await echo.close();
    }
  });
});
