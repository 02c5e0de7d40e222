// `npm run test:reliability`: run every campaign script (each bounded, loopback only) one after another, collect the
// JSON line each prints, print the figures table, and save the lines under bench/results/. Exit 1 if a figure misses
// its target.

import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { passed, type Figures } from './harness';
import { ROOT } from './proc';

/**
 * Each script with its time budget for a full run (the short run gets a fifth). A `reference` run measures a peer
 * (nginx) with the same script for a side-by-side figure: printed in the table, never failing the campaign, and
 * skipped where the peer is not installed.
 */
export const SCRIPTS: Array<{ id: string; file: string; budgetS: number; args?: string[]; reference?: { binary: string } }> = [
  { id: 'R1', file: 'r1-admin-fuzz.ts', budgetS: 300 },
  { id: 'R2', file: 'r2-admin-model.ts', budgetS: 600 },
  { id: 'R3', file: 'r3-config-fuzz.ts', budgetS: 600 },
  { id: 'R4', file: 'r4-wire-fuzz.ts', budgetS: 300 },
  { id: 'R5', file: 'r5-kill9.ts', budgetS: 600 },
  { id: 'R6', file: 'r6-upstream-faults.ts', budgetS: 120 },
  { id: 'R7', file: 'r7-slowloris.ts', budgetS: 180 },
  { id: 'R7-nginx', file: 'r7-slowloris.ts', budgetS: 180, args: ['--runtime', 'nginx'], reference: { binary: 'nginx' } },
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
  const unknown = only?.find((id) => !SCRIPTS.some((s) => s.id.toUpperCase() === id));
  if (unknown !== undefined) {
    process.stderr.write(`test:reliability: --only: unknown test "${unknown}" (${SCRIPTS.map((s) => s.id).join(', ')})\n`);
    process.exit(2);
  }
  return { short, only };
}

function runOne(file: string, args: string[], short: boolean, budgetMs: number): Promise<Figures | string> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test/reliability', file), short ? '--short' : '--full', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
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

/** Is a program on the PATH? */
function installed(binary: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${binary}`], { stdio: 'ignore' }).status === 0;
}

function table(results: Array<{ id: string; f: Figures | string; reference: boolean }>): string {
  const rows: string[][] = [['test', 'figure', 'value', 'target', 'met']];
  for (const { id, f, reference } of results) {
    if (typeof f === 'string') {
      rows.push([id, '(run)', f, '', 'NO']);
      continue;
    }
    for (const [name, value] of Object.entries(f.figures)) {
      const check = f.checks[name];
      const met = check === undefined ? '' : check[1] ? 'yes' : 'NO';
      rows.push([`${id} ${f.name}`.slice(0, 40), name, String(value).slice(0, 60), check?.[0] ?? '', reference && met !== '' ? `(${met})` : met]);
    }
    rows.push([`${id}`, 'seconds', String(Math.round(f.ms / 100) / 10), '', '']);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

const { short, only } = parseArgs(process.argv.slice(2));
const results: Array<{ id: string; f: Figures | string; reference: boolean }> = [];
for (const s of SCRIPTS) {
  // --only R7 also runs R7's reference (R7-nginx)
  if (only !== null && !only.some((id) => s.id.toUpperCase() === id || s.id.toUpperCase().startsWith(`${id}-`))) continue;
  if (s.reference !== undefined && !installed(s.reference.binary)) {
    process.stderr.write(`${s.id}: skipped (${s.reference.binary} is not installed)\n`);
    continue;
  }
  process.stderr.write(`${s.id} ${s.file} ${(s.args ?? []).join(' ')}...\n`);
  results.push({ id: s.id, f: await runOne(s.file, s.args ?? [], short, (short ? s.budgetS / 5 : s.budgetS) * 1000), reference: s.reference !== undefined });
}
process.stdout.write(`${table(results)}\n`);
const dir = join(ROOT, 'bench/results');
mkdirSync(dir, { recursive: true });
const file = join(dir, `reliability-${new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19)}${short ? '-short' : ''}.jsonl`);
writeFileSync(file, results.map((r) => JSON.stringify(typeof r.f === 'string' ? { id: r.id, error: r.f } : r.f)).join('\n') + '\n');
process.stdout.write(`\nsaved ${file}\n`);
const ok = results.every((r) => r.reference || (typeof r.f !== 'string' && passed(r.f)));
process.exit(ok ? 0 : 1);
