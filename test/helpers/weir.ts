// Test helpers: run weir in-process or as a child process on ephemeral ports with a temp SQLite file.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { startWeir, type Weir } from '../../src/cli/start';
import { AccessLog, type AccessRecord } from '../../src/log/logger';
import { freePort } from './net';

/** The key APISIX's documentation uses in every curl example. */
export const DOC_KEY = 'edd1c9f034335f136f87ad84b625c8f1';

export function tempDir(prefix = 'weir-test-'): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export interface ConfigOptions {
  /** YAML items of apisix.stream_proxy.tcp, written as given (e.g. `9100`, `"127.0.0.10:9101"`). */
  tcp: string[];
  /** YAML items of apisix.stream_proxy.udp (none when absent). */
  udp?: string[];
  adminPort: number;
  dbPath: string;
  extraYaml?: string;
  /** YAML lines added under `apisix:` (indented by two spaces), e.g. `  ssl:\n    fallback_sni: a.test.com`. */
  apisixYaml?: string;
}

export function configYaml(o: ConfigOptions): string {
  return [
    'apisix:',
    '  stream_proxy:',
    '    tcp:',
    ...o.tcp.map((item) => `      - ${item}`),
    ...(o.udp?.length ? ['    udp:', ...o.udp.map((item) => `      - ${item}`)] : []),
    ...(o.apisixYaml ? [o.apisixYaml.replace(/\n$/, '')] : []),
    'deployment:',
    '  admin:',
    '    admin_key:',
    '      - name: admin',
    `        key: ${DOC_KEY}`,
    '        role: admin',
    '    admin_listen:',
    '      ip: 127.0.0.1',
    `      port: ${o.adminPort}`,
    '  sqlite:',
    `    path: ${JSON.stringify(o.dbPath)}`,
    'nginx_config:',
    '  worker_shutdown_timeout: 2s',
    o.extraYaml ?? '',
  ].join('\n');
}

export interface TestWeir {
  weir: Weir;
  dir: string;
  configPath: string;
  dbPath: string;
  adminUrl: string;
  access: AccessRecord[];
  /** Call the Admin API with the doc key; returns status and parsed JSON (or text). */
  admin(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
  stop(): Promise<void>;
}

/** Start weir in this process with the given tcp listener items. */
export async function startTestWeir(
  tcp: string[],
  opts: { dir?: string; extraYaml?: string; apisixYaml?: string; udp?: string[] } = {},
): Promise<TestWeir> {
  const owned = opts.dir ? null : tempDir();
  const dir = opts.dir ?? owned!.path;
  const adminPort = await freePort();
  const dbPath = join(dir, 'weir.db');
  const configPath = join(dir, 'config.yaml');
  writeFileSync(configPath, configYaml({ tcp, udp: opts.udp, adminPort, dbPath, extraYaml: opts.extraYaml, apisixYaml: opts.apisixYaml }));
  const access: AccessRecord[] = [];
  const accessLog = new AccessLog({
    sink: (text) => {
      for (const line of text.split('\n')) if (line) access.push(JSON.parse(line));
    },
  });
  const weir = await startWeir({ configPath, accessLog });
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  return {
    weir,
    dir,
    configPath,
    dbPath,
    adminUrl,
    access,
    admin: (method, path, body) => adminCall(adminUrl, method, path, body),
    async stop() {
      await weir.stop(500);
      owned?.remove();
    },
  };
}

export async function adminCall(base: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(base + path, {
    method,
    headers: { 'X-API-KEY': DOC_KEY, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body: parsed };
}

export interface ChildWeir {
  child: ChildProcess;
  stderr: () => string;
  stdout: () => string;
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
}

/** Run `src/main.ts` with args as a child process (node + tsx), capturing its output. */
export function spawnWeir(args: string[], cwd?: string): ChildWeir {
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, '../../src/main.ts'), ...args], {
    cwd: cwd ?? process.cwd(),
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  let err = '';
  let out = '';
  child.stderr!.on('data', (d) => (err += d));
  child.stdout!.on('data', (d) => (out += d));
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return { child, stderr: () => err, stdout: () => out, exited };
}

/**
 * Run `src/main.ts` with args under the project's Bun (node_modules/.bin/bun, exec'd directly so child.pid is
 * weir itself), as `npm start` and dist/weir run it. Same capture as spawnWeir.
 */
export function spawnBunWeir(args: string[], env: Record<string, string | undefined> = {}): ChildWeir {
  const base: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: '', ...env };
  delete base.WEIR_WORKER;
  delete base.WEIR_DATA_PLANE;
  const child = spawn(join(import.meta.dirname, '../../node_modules/.bin/bun'), [join(import.meta.dirname, '../../src/main.ts'), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: base,
  });
  let err = '';
  let out = '';
  child.stderr!.on('data', (d) => (err += d));
  child.stdout!.on('data', (d) => (out += d));
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return { child, stderr: () => err, stdout: () => out, exited };
}

/** Wait until `predicate()` is true, polling every 20 ms, up to timeoutMs. */
export async function waitFor(predicate: () => boolean, timeoutMs = 10000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
