// R3 config and CLI fuzz: mutated config.yaml files (lines dropped, duplicated, re-indented, keys renamed, values
// swapped for hostile scalars, bytes flipped) through `weir check` (in process, through runCli) and, for a share,
// `startWeir`. Figures: every run ends with exit 0 or exactly one error line, 0 stack traces, 0 runs over 2 s,
// nothing left bound after a rejected start, and a few real processes answer the same way.

import fc from 'fast-check';
import net from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { runCli } from '../../src/cli/run';
import { startWeir } from '../../src/cli/start';
import { configureErrorLog } from '../../src/log/logger';
import { freePort } from '../helpers/net';
import { FigureSheet, isMain, runAsScript, saveCorpus, type Figures, type Size } from './harness';
import { ROOT } from './proc';

/** tsx as a URL: the spawned checks run in a temp dir, where a bare `tsx` would not resolve. */
const TSX = import.meta.resolve('tsx');

/** A config touching every section weir reads; ports are filled in per run. */
export function seedConfig(p: { tcp: number; tcp2: number; udp: number; admin: number; db: string }): string {
  return `apisix:
  enable_admin: true
  proxy_mode: stream
  stream_proxy:
    max_connections: 1000
    tcp:
      - "127.0.0.1:${p.tcp}"
      - {addr: "127.0.0.1:${p.tcp2}", tls: true, max_connections: 10}
    udp:
      - "127.0.0.1:${p.udp}"
  ssl:
    fallback_sni: a.test
  data_encryption:
    enable_encrypt_fields: true
    keyring:
      - qeddd145sfvddff3
deployment:
  admin:
    admin_key:
      - {name: admin, key: k-0123456789abcdef, role: admin}
      - {name: ro, key: v-0123456789abcdef, role: viewer}
    admin_listen: {ip: 127.0.0.1, port: ${p.admin}}
    allow_admin: ["127.0.0.0/24"]
    enable_admin_cors: true
  sqlite:
    path: ${JSON.stringify(p.db)}
nginx_config:
  worker_shutdown_timeout: 2s
  stream:
    enable_access_log: false
    udp_max_sessions: 100
    preread_timeout: 5s
`;
}

const HOSTILE = ['-1', '0', '65536', '""', '"x"', '[]', '{}', 'null', '~', '1e309', '.nan', 'true', '"${NOPE}"', '"${HOME}"', `"${'a'.repeat(5000)}"`, '*a', '&a [1, *a]', '!!binary aGk=', '"0.0.0.0"', '"::"', '"\\u0000"', '!!js/function "x"'];

type Mutation = { op: 'drop' | 'dup' | 'indent' | 'rename' | 'value' | 'flip' | 'tab'; line: number; pick: number };

const mutation: fc.Arbitrary<Mutation> = fc.record({
  op: fc.constantFrom('drop', 'dup', 'indent', 'rename', 'value', 'value', 'flip', 'tab'),
  line: fc.nat(),
  pick: fc.nat(),
});

export function applyMutations(text: string, ms: Mutation[]): string {
  let lines = text.split('\n');
  for (const m of ms) {
    const i = m.line % lines.length;
    const l = lines[i]!;
    switch (m.op) {
      case 'drop':
        lines.splice(i, 1);
        break;
      case 'dup':
        lines.splice(i, 0, l);
        break;
      case 'indent':
        lines[i] = m.pick % 2 ? `  ${l}` : l.replace(/^ {1,2}/, '');
        break;
      case 'tab':
        lines[i] = `\t${l}`;
        break;
      case 'rename':
        lines[i] = l.replace(/([a-z_]+):/, (_, k: string) => `${k}${['x', '_', ''][m.pick % 3]}${m.pick % 3 === 2 ? 'Z' : ''}:`);
        break;
      case 'value':
        lines[i] = l.includes(':') ? l.replace(/:\s.*$/, `: ${HOSTILE[m.pick % HOSTILE.length]}`) : `${l.replace(/- .*/, `- ${HOSTILE[m.pick % HOSTILE.length]}`)}`;
        break;
      case 'flip': {
        const at = m.pick % Math.max(1, l.length);
        lines[i] = l.slice(0, at) + String.fromCharCode((l.charCodeAt(at) || 32) ^ (1 << (m.pick % 7))) + l.slice(at + 1);
        break;
      }
    }
    if (lines.length === 0) lines = [''];
  }
  return lines.join('\n');
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

export async function runR3(size: Size, counts = size === 'short' ? { check: 400, start: 30, processes: 2 } : { check: 10_000, start: 1000, processes: 20 }): Promise<Figures> {
  const sheet = new FigureSheet('R3', 'config and CLI fuzz');
  const logLines: string[] = [];
  configureErrorLog({ sink: (line: string) => void logLines.push(line) });
  const dir = mkdtempSync(join(tmpdir(), 'weir-r3-'));
  const ports = { tcp: await freePort(), tcp2: await freePort(), udp: await freePort(), admin: await freePort(), db: join(dir, 'weir.db') };
  const seed = seedConfig(ports);
  let ok = 0;
  let oneLine = 0;
  let badOutput = 0;
  let stacks = 0;
  let slow = 0;
  let leftBound = 0;
  const plans = fc.sample(fc.array(mutation, { minLength: 1, maxLength: 4 }), { numRuns: counts.check, seed: 3 });
  const path = join(dir, 'config.yaml');
  // relative paths of a mutated config (the default data/weir.db, a "${NOPE}" sqlite.path) land in the temp dir,
  // never in the work tree: an old database there once turned a check into a misleading failure
  const cwd = process.cwd();
  process.chdir(dir);
  try {
    for (const [n, plan] of plans.entries()) {
      const text = applyMutations(seed, plan);
      writeFileSync(path, text);
      let out = '';
      let err = '';
      const io = { out: (t: string) => void (out += t), err: (t: string) => void (err += t), readStdin: async () => '', env: {} };
      const t0 = Date.now();
      const code = await runCli(['check', '-c', path], io, { signals: false });
      if (Date.now() - t0 > 2000) slow++;
      // warnings (unknown keys) may come before the one error line; the error must be a single line
      const errLines = err.split('\n').filter((l) => l !== '' && !l.startsWith('weir: warning: '));
      if (/\n\s+at /.test(err + out) || logLines.some((l) => /\n\s+at /.test(l))) stacks++;
      if (code === 0) ok++;
      else if (errLines.length === 1 && errLines[0]!.startsWith('weir: ')) oneLine++;
      else {
        badOutput++;
        if (badOutput <= 3) process.stderr.write(`R3 check exit ${code}: ${JSON.stringify(err.slice(0, 300))}\n`);
        saveCorpus('config', new TextEncoder().encode(text));
      }
      logLines.length = 0;
      // a share goes through start as well (in process): accepted -> stop; rejected -> nothing bound
      if (n < counts.start) {
        let outcome = 'started';
        try {
          const weir = await startWeir({ configPath: path, env: {} });
          await weir.stop(0);
        } catch (e) {
          const message = (e as Error).message ?? '';
          outcome = message;
          if (message.includes('\n')) {
            badOutput++;
            saveCorpus('config', new TextEncoder().encode(text));
          }
        }
        for (const p of [ports.tcp, ports.tcp2, ports.admin]) {
          if (!(await portFree(p))) {
            leftBound++;
            if (leftBound <= 3) process.stderr.write(`R3: port ${p} still bound after start (${outcome.slice(0, 200)})\n`);
            saveCorpus('config-start', new TextEncoder().encode(text));
            break;
          }
        }
      }
    }
    // real processes: a rejected config exits non-zero with one line and no stack
    let procBad = 0;
    for (let i = 0; i < counts.processes; i++) {
      writeFileSync(path, applyMutations(seed, [{ op: 'value', line: 6 + i, pick: i }]));
      // in the temp dir: a mutated sqlite.path (a relative "${NOPE}") must not create files in the work tree
      const r = spawnSync(process.execPath, ['--import', TSX, join(ROOT, 'src/main.ts'), 'check', '-c', path], { cwd: dir, encoding: 'utf8', timeout: 20_000 });
      const lines = r.stderr.split('\n').filter((l) => l !== '' && !/^\S+Z (info|warn) /.test(l) && !l.startsWith('weir: warning: '));
      if (r.status === null || (r.status !== 0 && lines.length !== 1) || /\n\s+at /.test(r.stderr)) procBad++;
    }
    sheet.set('configs', counts.check).set('started_in_process', counts.start).set('accepted', ok).set('rejected_one_line', oneLine);
    sheet.check('bad_output', badOutput, '0 (exit 0, or one error line)', badOutput === 0);
    sheet.check('stack_traces', stacks, '0', stacks === 0);
    sheet.check('over_2s', slow, '0', slow === 0);
    sheet.check('left_bound_after_runs', leftBound, '0', leftBound === 0);
    sheet.check('process_runs_bad', procBad, `0 of ${counts.processes}`, procBad === 0);
  } finally {
    process.chdir(cwd);
    configureErrorLog({ sink: (line: string) => void process.stderr.write(line) });
    rmSync(dir, { recursive: true, force: true });
  }
  return sheet.done();
}

if (isMain(import.meta.url)) {
  await runAsScript({ id: 'r3-config-fuzz', usage: 'R3: 10,000 mutated configs through weir check, 1,000 through start, 20 real processes (--short: 400 / 30 / 2).' }, runR3);
}
