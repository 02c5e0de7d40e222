// Child weir processes for the campaign: start from a config (optionally under prlimit), wait until the Admin
// API answers, read its stderr lines, stop it. Loopback only; every wait is bounded.

import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { sleep, type Runtime } from './harness';

export const ROOT = resolve(import.meta.dirname, '../..');
export const KEY = 'r-Zq81c0ffee5eed00d1e5a7b2c3d4e5';

export interface Child {
  child: ChildProcess;
  pid: number;
  stderr(): string;
  exited: Promise<number | string>;
  /** Send a signal (default SIGTERM) and wait for the exit, bounded. */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

/**
 * A config.yaml for a child weir: the given tcp items and extra `apisix.stream_proxy` lines, admin on adminPort;
 * `stream` lines go under `nginx_config.stream` (the access log is off unless they turn it on).
 */
export function writeConfig(dir: string, o: { tcp: string[]; adminPort: number; streamExtra?: string[]; stream?: string[]; extra?: string[] }): string {
  const path = join(dir, 'config.yaml');
  writeFileSync(
    path,
    [
      'apisix:',
      '  stream_proxy:',
      ...(o.streamExtra ?? []).map((l) => `    ${l}`),
      '    tcp:',
      ...o.tcp.map((t) => `      - ${t}`),
      'deployment:',
      '  admin:',
      `    admin_key: [{name: admin, key: ${KEY}, role: admin}]`,
      `    admin_listen: {ip: 127.0.0.1, port: ${o.adminPort}}`,
      '  sqlite:',
      `    path: ${JSON.stringify(join(dir, 'weir.db'))}`,
      'nginx_config:',
      '  worker_shutdown_timeout: 1s',
      '  stream:',
      ...(o.stream ?? ['enable_access_log: false']).map((l) => `    ${l}`),
      ...(o.extra ?? []),
    ].join('\n') + '\n',
  );
  return path;
}

/** Spawn `weir start -c config` (node + tsx, or bun), under `prlimit --nofile=N` when nofile is given. */
export function startChild(config: string, nofile?: number, runtime: Runtime = 'node'): Child {
  const main = [join(ROOT, 'src/main.ts'), 'start', '-c', config];
  const weir = runtime === 'bun' ? [join(ROOT, 'node_modules/.bin/bun'), ...main] : [process.execPath, '--import', 'tsx', ...main];
  const argv = nofile === undefined ? weir : ['prlimit', `--nofile=${nofile}`, ...weir];
  const child = spawn(argv[0]!, argv.slice(1), { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NODE_OPTIONS: '', WEIR_WORKER: undefined, WEIR_DATA_PLANE: undefined } });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | string>((r) => child.on('exit', (code, signal) => r(code ?? signal ?? -1)));
  return {
    child,
    pid: child.pid!,
    stderr: () => err,
    exited,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
}

/** GET an admin path with the key; resolves with the status, or -1 on a transport error / timeout. */
export async function adminStatus(port: number, path = '/apisix/admin/upstreams', timeoutMs = 2000): Promise<number> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers: { 'X-API-KEY': KEY }, signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return -1;
  }
}

/** PUT an admin object; resolves with the status (-1 on a transport error). */
export async function adminPut(port: number, path: string, body: unknown, timeoutMs = 5000): Promise<number> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, { method: 'PUT', headers: { 'X-API-KEY': KEY }, body: JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return -1;
  }
}

/** Wait until the Admin API answers 200 (or the child exits / the time is up); returns ms waited or null. */
export async function waitServing(c: Child, port: number, timeoutMs = 20_000): Promise<number | null> {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    if (c.child.exitCode !== null || c.child.signalCode !== null) return null;
    if ((await adminStatus(port, '/apisix/admin/upstreams', 500)) === 200) return Date.now() - t0;
    await sleep(20);
  }
  return null;
}

/**
 * Run `node -e script args...` apart from the test's process (an attacker, a load): `input` goes to its stdin,
 * and it must print one JSON line before it exits. Killed after `timeoutMs`; rejects naming `what` when no JSON
 * came.
 */
export function runNodeScript<T>(what: string, script: string, args: string[], input: string | null, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', script, ...args], { stdio: [input === null ? 'ignore' : 'pipe', 'pipe', 'inherit'], env: { ...process.env, NODE_OPTIONS: '' } });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    const kill = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(kill);
      try {
        resolve(JSON.parse(out) as T);
      } catch {
        reject(new Error(`${what} ended with ${code}: ${out.slice(0, 200)}`));
      }
    });
    if (input !== null) child.stdin!.end(input);
  });
}
