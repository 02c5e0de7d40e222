// R12 admin security truth table. Start-up: admin_listen x key (empty, the published APISIX key, random) decides
// start or exit 2. Requests (over real HTTP, from 127.0.0.1 and 127.0.0.2): allow_admin x peer x spoofed
// X-Real-IP/X-Forwarded-For x key variant (right, wrong, missing, wrong case, prefix) x path variant x method.
// Figure: cells that differ from the expected table = 0. Also: a viewer key cannot write, GET never shows an SSL
// private key, and the key compare's timing (prefix 0 vs 31 matching characters) is reported.

import { request as httpRequest } from 'node:http';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { parseConfig } from '../../src/config/parse';
import { ensureAdminKey } from '../../src/cli/admin-key';
import { createAdminApp } from '../../src/admin/app';
import { compileKeyChecker } from '../../src/admin/auth';
import { MAX_BODY_BYTES } from '../../src/admin/respond';
import { configureErrorLog } from '../../src/log/logger';
import { serveHttp } from '../../src/runtime/index';
import { openStore } from '../../src/store/store';
import { FAKE_CERT, FAKE_KEY } from '../objects/fixtures';
import { FigureSheet, isMain, runAsScript, type Figures, type Size } from './harness';

const PUBLISHED = 'edd1c9f034335f136f87ad84b625c8f1';
const RANDOM = 'Zq81c0ffee5eed00d1e5a7b2c3d4e5f6';

type KeyKind = 'empty' | 'published' | 'random';
type AllowKind = 'unset' | '127.0.0.1/32' | '0.0.0.0/0';

function yaml(listen: string, key: KeyKind, allow: AllowKind): string {
  const keyLine = key === 'empty' ? 'key: ""' : `key: ${key === 'published' ? PUBLISHED : RANDOM}`;
  return [
    'deployment:',
    '  admin:',
    '    admin_key:',
    `      - {name: admin, ${keyLine}, role: admin}`,
    // (with only an empty admin key, the viewer would be the only key left and nothing could write: left out)
    ...(key === 'empty' ? [] : ['      - {name: ro, key: viewer-key-0123456789, role: viewer}']),
    `    admin_listen: {ip: ${listen}, port: 9180}`,
    ...(allow === 'unset' ? [] : [`    allow_admin: ["${allow}"]`]),
  ].join('\n');
}

/** Start-up verdict: 'start' or 'exit2', and whether the message names deployment.admin.admin_key. */
function startVerdict(listen: string, key: KeyKind): { verdict: 'start' | 'exit2'; names: boolean } {
  try {
    parseConfig(yaml(listen, key, 'unset'), 't');
    return { verdict: 'start', names: false };
  } catch (err) {
    return { verdict: 'exit2', names: (err as Error).message.startsWith('deployment.admin.admin_key') };
  }
}

interface Reply {
  status: number;
  body: string;
}

function send(port: number, method: string, path: string, headers: Record<string, string>, localAddress: string): Promise<Reply> {
  return new Promise((resolvePromise) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers, localAddress, agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolvePromise({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', (err) => resolvePromise({ status: -1, body: err.message }));
    if (method === 'PUT' || method === 'POST' || method === 'PATCH') req.end('{"nodes":{"127.0.0.1:1980":1}}');
    else req.end();
  });
}

const PATHS = ['/apisix/admin/upstreams/1', '/apisix/admin/upstreams/', '//apisix//admin//upstreams', '/apisix/admin/../admin/upstreams', '/apisix/admin/%2e%2e/admin/upstreams', '/apisix/admin%2Fupstreams'];
const METHODS = ['GET', 'PUT', 'POST', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'TRACE'];

export async function runR12(size: Size): Promise<Figures> {
  configureErrorLog({ level: 'error' });
  const sheet = new FigureSheet('R12', 'admin security truth table');
  let cells = 0;
  let differ = 0;
  const diffs: string[] = [];
  const expectEq = (what: string, got: unknown, want: unknown): void => {
    cells++;
    if (got !== want) {
      differ++;
      if (diffs.length < 8) diffs.push(`${what}: got ${String(got)}, expected ${String(want)}`);
    }
  };

  // start-up table (in process; one real process below)
  for (const listen of ['127.0.0.1', '0.0.0.0', '::1', '192.0.2.1']) {
    for (const key of ['empty', 'published', 'random'] as KeyKind[]) {
      const v = startVerdict(listen, key);
      const loop = listen === '127.0.0.1' || listen === '::1';
      expectEq(`start ${listen} ${key}`, v.verdict, loop || key === 'random' ? 'start' : 'exit2');
      if (v.verdict === 'exit2') expectEq(`message ${listen} ${key}`, v.names, true);
    }
  }
  const cli = exitOfRealStart();
  expectEq('weir start exit code (0.0.0.0 + published key)', cli.code, 2);
  expectEq('weir start message names deployment.admin.admin_key', cli.names, true);

  // request table
  const methods = size === 'short' ? ['GET', 'PUT', 'OPTIONS', 'TRACE'] : METHODS;
  const paths = size === 'short' ? PATHS.slice(0, 3) : PATHS;
  const dir = mkdtempSync(join(tmpdir(), 'weir-r12-'));
  try {
    for (const key of ['empty', 'published', 'random'] as KeyKind[]) {
      for (const allow of ['unset', '127.0.0.1/32', '0.0.0.0/0'] as AllowKind[]) {
        const { config } = parseConfig(yaml('127.0.0.1', key, allow), 't');
        const keyDir = join(dir, `${key}-${allow.replace(/\W/g, '')}`);
        const adminKeys = ensureAdminKey(config, keyDir);
        const right = adminKeys.find((k) => k.role === 'admin')!.key;
        const store = openStore(join(keyDir, 'weir.db'));
        const app = createAdminApp({ store, config, adminKeys, onChange: () => undefined });
        const server = await serveHttp(app, { host: '127.0.0.1', port: 0, maxBodyBytes: MAX_BODY_BYTES });
        try {
          const variants: Record<string, string | null> = { right, wrong: 'nope', missing: null, case: right.toUpperCase() === right ? right.toLowerCase() : right.toUpperCase(), prefix: right.slice(0, -1) };
          for (const peer of ['127.0.0.1', '127.0.0.2']) {
            const allowed = allow !== '127.0.0.1/32' || peer === '127.0.0.1';
            for (const spoof of [false, true]) {
              for (const [variant, token] of Object.entries(variants)) {
                for (const path of paths) {
                  for (const method of methods) {
                    const headers: Record<string, string> = {};
                    if (token !== null) headers['X-API-KEY'] = token;
                    if (spoof) Object.assign(headers, { 'X-Real-IP': '127.0.0.1', 'X-Forwarded-For': '127.0.0.1' });
                    const r = await send(server.port, method, path, headers, peer);
                    const tag = `${key}/${allow}/${peer}/${spoof ? 'spoof' : 'plain'}/${variant}/${method} ${path}`;
                    if (method === 'TRACE') {
                      expectEq(tag, r.status, 400); // fetch's Request cannot carry TRACE: refused before anything runs
                      continue;
                    }
                    if (!allowed) {
                      expectEq(tag, r.status, 403);
                      continue;
                    }
                    if (method === 'OPTIONS') {
                      expectEq(tag, r.status >= 200 && r.status < 300, true); // CORS preflight answers before the key check
                      continue;
                    }
                    if (variant !== 'right') {
                      expectEq(tag, r.status, 401);
                      continue;
                    }
                    expectEq(`${tag} (not refused, no 5xx)`, r.status !== 401 && r.status !== 403 && r.status > 0 && r.status < 500, true);
                  }
                }
              }
            }
          }
          // a viewer key reads but cannot write
          if (key !== 'empty') expectEq(`${key}/${allow} viewer GET`, (await send(server.port, 'GET', '/apisix/admin/upstreams', { 'X-API-KEY': 'viewer-key-0123456789' }, '127.0.0.1')).status, 200);
          if (key !== 'empty') expectEq(`${key}/${allow} viewer PUT`, (await send(server.port, 'PUT', '/apisix/admin/upstreams/9', { 'X-API-KEY': 'viewer-key-0123456789' }, '127.0.0.1')).status, 401);
        } finally {
          await server.close();
          store.close();
        }
      }
    }
    // GET never returns an SSL private key
    const { config } = parseConfig(yaml('127.0.0.1', 'random', 'unset'), 't');
    const store = openStore(join(dir, 'ssl.db'));
    const app = createAdminApp({ store, config, adminKeys: config.admin.keys, onChange: () => undefined });
    const put = await app(new Request('http://127.0.0.1/apisix/admin/ssls/1', { method: 'PUT', headers: { 'X-API-KEY': RANDOM }, body: JSON.stringify({ sni: 'a.test', cert: FAKE_CERT, key: FAKE_KEY }) }), { remoteAddress: '127.0.0.1' });
    const putText = await put.text();
    const get = await (await app(new Request('http://127.0.0.1/apisix/admin/ssls/1', { headers: { 'X-API-KEY': RANDOM } }), { remoteAddress: '127.0.0.1' })).text();
    const list = await (await app(new Request('http://127.0.0.1/apisix/admin/ssls', { headers: { 'X-API-KEY': RANDOM } }), { remoteAddress: '127.0.0.1' })).text();
    expectEq('ssl PUT accepted', put.status < 300, true);
    expectEq('ssl PUT reply without private key', putText.includes('PRIVATE KEY'), false);
    expectEq('ssl GET without private key', get.includes('PRIVATE KEY'), false);
    expectEq('ssl list without private key', list.includes('PRIVATE KEY'), false);
    store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  sheet.set('cells', cells);
  sheet.check('cells_differing', differ, '0', differ === 0);
  if (diffs.length) sheet.set('first_differences', diffs.join(' | '));
  sheet.set('timing_delta_pct', keyTiming(size === 'short' ? 2000 : 20_000));
  return sheet.done();
}

/** `weir start` as a real process with 0.0.0.0 + the published key: exit code and whether stderr names the key. */
function exitOfRealStart(): { code: number | null; names: boolean } {
  const dir = mkdtempSync(join(tmpdir(), 'weir-r12-cli-'));
  try {
    const cfg = join(dir, 'config.yaml');
    writeFileSync(cfg, `${yaml('0.0.0.0', 'published', 'unset')}\n  sqlite:\n    path: ${join(dir, 'weir.db')}\n`);
    const root = resolve(import.meta.dirname, '../..');
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src/main.ts'), 'start', '-c', cfg], { cwd: root, encoding: 'utf8', timeout: 20_000 });
    return { code: r.status, names: r.stderr.includes('deployment.admin.admin_key') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Median time of a key check whose token shares 0 vs 31 leading characters with the key; returns the relative
 * difference in percent (reported, not asserted: timings on a shared machine are noise-bound).
 */
function keyTiming(samples: number): number {
  const key = 'a'.repeat(32);
  const checker = compileKeyChecker([{ name: 'k', key, role: 'admin' }]);
  const far = 'b'.repeat(32);
  const near = 'a'.repeat(31) + 'b';
  const median = (token: string): number => {
    const t: number[] = [];
    for (let i = 0; i < samples; i++) {
      const t0 = process.hrtime.bigint();
      checker.check(token, 'GET');
      t.push(Number(process.hrtime.bigint() - t0));
    }
    t.sort((x, y) => x - y);
    return t[t.length >> 1]!;
  };
  median(far);
  const a = median(far);
  const b = median(near);
  return Math.round((Math.abs(a - b) / Math.max(a, b)) * 1000) / 10;
}

if (isMain(import.meta.url)) {
  await runAsScript({ id: 'r12-admin-security', usage: 'R12: the admin security truth table (--short: 4 methods x 3 paths).' }, runR12);
}
