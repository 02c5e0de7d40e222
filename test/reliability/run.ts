// `npm run test:reliability`: run every campaign script (each bounded, loopback only) one after another, collect the
// JSON line each prints, print the figures table, and save the lines under bench/results/. Exit 1 if a figure misses
// its target.

import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { passed, type Figures } from './harness';
import { ROOT } from './proc';

/** Each script with its time budget for a full run (the short run gets a fifth). */
export const SCRIPTS: Array<{ id: string; file: string; budgetS: number }> = [
  { id: 'R1', file: 'r1-admin-fuzz.ts', budgetS: 300 },
  { id: 'R2', file: 'r2-admin-model.ts', budgetS: 600 },
  { id: 'R3', file: 'r3-config-fuzz.ts', budgetS: 600 },
  { id: 'R4', file: 'r4-wire-fuzz.ts', budgetS: 300 },
  { id: 'R5', file: 'r5-kill9.ts', budgetS: 600 },
  { id: 'R6', file: 'r6-upstream-faults.ts', budgetS: 120 },
  { id: 'R7', file: 'r7-slowloris.ts', budgetS: 180 },
  { id: 'R8', file: 'r8-fd-exhaustion.ts', budgetS: 120 },
  { id: 'R9', file: 'r9-udp-flood.ts', budgetS: 300 },
  { id: 'R10', file: 'r10-backpressure.ts', budgetS: 180 },
  { id: 'R11', file: 'r11-live-changes.ts', budgetS: 240 },
  { id: 'R12', file: 'r12-admin-security.ts', budgetS: 300 },
];

const USAGE = `usage: npm run test:reliability -- [--short] [--only R1,R4,...]

Runs the reliability campaign (test/reliability/*.ts), prints one table of figures against their targets and saves
the JSON lines to bench/results/reliability-<time>.jsonl. --short uses the counts of the npm test versions.
`;

function parseArgs(argv: string[]): { short: boolean; only: string[] | null } {
  let short = false;
  let only: string[] | null = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--help' || a === '-h') {
      process.stdout.write(USAGE);
      process.exit(0);
    } else if (a === '--short') short = true;
    else if (a === '--only' && argv[i + 1] !== undefined) only = argv[++i]!.split(',').map((s) => s.trim().toUpperCase());
    else {
      process.stderr.write(`test:reliability: unknown option "${a}" (try --help)\n`);
      process.exit(2);
    }
  }
  const unknown = only?.find((id) => !SCRIPTS.some((s) => s.id === id));
  if (unknown !== undefined) {
    process.stderr.write(`test:reliability: --only: unknown test "${unknown}" (${SCRIPTS.map((s) => s.id).join(', ')})\n`);
    process.exit(2);
  }
  return { short, only };
}

function runOne(file: string, short: boolean, budgetMs: number): Promise<Figures | string> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test/reliability', file), short ? '--short' : '--full'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), budgetMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const line = out.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(line) as Figures);
      } catch {
        resolve(signal === 'SIGKILL' ? `over its ${budgetMs / 1000} s budget` : `no figures (exit ${code ?? signal})`);
      }
    });
  });
}

function table(results: Array<{ id: string; f: Figures | string }>): string {
  const rows: string[][] = [['test', 'figure', 'value', 'target', 'met']];
  for (const { id, f } of results) {
    if (typeof f === 'string') {
      rows.push([id, '(run)', f, '', 'NO']);
      continue;
    }
    for (const [name, value] of Object.entries(f.figures)) {
      const check = f.checks[name];
      rows.push([`${id} ${f.name}`.slice(0, 40), name, String(value).slice(0, 60), check?.[0] ?? '', check ? (check[1] ? 'yes' : 'NO') : '']);
    }
    rows.push([`${id}`, 'seconds', String(Math.round(f.ms / 100) / 10), '', '']);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

const { short, only } = parseArgs(process.argv.slice(2));
const results: Array<{ id: string; f: Figures | string }> = [];
for (const s of SCRIPTS) {
  if (only !== null && !only.includes(s.id)) continue;
  process.stderr.write(`${s.id} ${s.file} ...\n`);
  results.push({ id: s.id, f: await runOne(s.file, short, (short ? s.budgetS / 5 : s.budgetS) * 1000) });
}
process.stdout.write(`${table(results)}\n`);
const dir = join(ROOT, 'bench/results');
mkdirSync(dir, { recursive: true });
const file = join(dir, `reliability-${new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19)}${short ? '-short' : ''}.jsonl`);
writeFileSync(file, results.map((r) => JSON.stringify(typeof r.f === 'string' ? { id: r.id, error: r.f } : r.f)).join('\n') + '\n');
process.stdout.write(`\nsaved ${file}\n`);
const ok = results.every((r) => typeof r.f !== 'string' && passed(r.f));
process.exit(ok ? 0 : 1);
