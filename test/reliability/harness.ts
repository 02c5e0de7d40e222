// The reliability campaign's shared parts: each test is a function from counts to one Figures record; run as a
// script it takes --short/--full (and answers --help, refuses anything else with exit 2), prints one JSON line and
// exits 0 when every figure meets its target. The *.test.ts beside it runs the same function with small counts.

import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';

/** One test's outcome: its figures, and per checked figure the target and whether it was met. */
export interface Figures {
  id: string;
  name: string;
  /** Counts and measurements, as reported. */
  figures: Record<string, number | string | boolean | null>;
  /** figure name -> [target text, met]. */
  checks: Record<string, [string, boolean]>;
  ms: number;
}

export function passed(f: Figures): boolean {
  return Object.values(f.checks).every(([, ok]) => ok);
}

/** Helper to build a Figures record: `check(name, target, ok)`. */
export class FigureSheet {
  readonly figures: Figures['figures'] = {};
  readonly checks: Figures['checks'] = {};
  private readonly t0 = Date.now();
  constructor(
    readonly id: string,
    readonly name: string,
  ) {}
  set(name: string, value: number | string | boolean | null): this {
    this.figures[name] = value;
    return this;
  }
  /** Record `value` under `name` and check it against a target. */
  check(name: string, value: number | string | boolean | null, target: string, ok: boolean): this {
    this.figures[name] = value;
    this.checks[name] = [target, ok];
    return this;
  }
  done(): Figures {
    return { id: this.id, name: this.name, figures: this.figures, checks: this.checks, ms: Date.now() - this.t0 };
  }
}

export type Size = 'short' | 'full';

/** The runtimes a child weir can run on from source: Node with tsx, or the project's Bun (as dist/weir runs). */
export type Runtime = 'node' | 'bun';

/**
 * Run a test as a script: `tsx test/reliability/<id>.ts [--short|--full]`, plus `--runtime X` for the tests that
 * start the proxy as a child process (`meta.runtimes`: what X may be; the first is the default). Prints one JSON
 * line; exit 0 when all checks pass, 1 when one fails, 2 on a bad command line. Every script is bounded by its own
 * deadline.
 */
export async function runAsScript(meta: { id: string; usage: string }, run: (size: Size) => Promise<Figures>): Promise<void>;
export async function runAsScript<R extends string>(meta: { id: string; usage: string; runtimes: readonly R[] }, run: (size: Size, runtime: R) => Promise<Figures>): Promise<void>;
export async function runAsScript(meta: { id: string; usage: string; runtimes?: readonly string[] }, run: (size: Size, runtime: string) => Promise<Figures>): Promise<void> {
  const args = process.argv.slice(2);
  const runtimes = meta.runtimes ?? [];
  const runtimeUsage = runtimes.length > 0 ? ` [--runtime ${runtimes.join('|')}]` : '';
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`usage: tsx test/reliability/${meta.id}.ts [--short | --full]${runtimeUsage}\n\n${meta.usage}\n`);
    process.exit(0);
  }
  let runtime = runtimes[0];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--short' || a === '--full') continue;
    if (a === '--runtime' && runtimes.length > 0 && runtimes.includes(args[i + 1] ?? '')) {
      runtime = args[++i]!;
      continue;
    }
    const why = a === '--runtime' && runtimes.length > 0 ? `--runtime takes ${runtimes.join(', ')}` : `unknown option "${a}"`;
    process.stderr.write(`${meta.id}: ${why} (try --help)\n`);
    process.exit(2);
  }
  const size: Size = args.includes('--short') ? 'short' : 'full';
  // a test without --runtime gets no second argument (its second parameter, if any, means something else)
  const f = runtime !== undefined ? await run(size, runtime) : await (run as (size: Size) => Promise<Figures>)(size);
  process.stdout.write(`${JSON.stringify(f)}\n`);
  process.exit(passed(f) ? 0 : 1);
}

// ------------------------------------------------------------------ corpus (every input that ever failed)

const CORPUS = join(import.meta.dirname, 'corpus');

/** Save a failing input under corpus/<kind>/<sha1>.bin (idempotent); returns the file name. */
export function saveCorpus(kind: string, bytes: Uint8Array): string {
  const dir = join(CORPUS, kind);
  mkdirSync(dir, { recursive: true });
  const name = `${createHash('sha1').update(bytes).digest('hex').slice(0, 16)}.bin`;
  const path = join(dir, name);
  if (!existsSync(path)) writeFileSync(path, bytes);
  return name;
}

/** Every saved input of a kind (for replay in npm test). */
export function readCorpus(kind: string): Array<{ name: string; bytes: Uint8Array }> {
  const dir = join(CORPUS, kind);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .sort()
    .map((name) => ({ name, bytes: new Uint8Array(readFileSync(join(dir, name))) }));
}

// ------------------------------------------------------------------ process figures

/** CPU time a process has used, user + system (Linux /proc/<pid>/stat), in ms. */
export function cpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}

/** Resident set size of a process in KiB (Linux /proc), or null. */
export function rssKiB(pid: number | 'self' = 'self'): number | null {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** Open fds of a process (Linux /proc), or null. */
export function fdCount(pid: number | 'self' = 'self'): number | null {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return null;
  }
}

/**
 * Datagrams the kernel dropped on the UDP sockets bound to these local ports (the `drops` column of
 * /proc/net/udp and udp6: a full receive buffer), summed; null without /proc.
 */
export function udpDrops(ports: readonly number[]): number | null {
  const wanted = new Set(ports);
  let total = 0;
  try {
    for (const file of ['/proc/net/udp', '/proc/net/udp6']) {
      for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
        const cols = line.trim().split(/\s+/);
        if (cols.length < 13) continue;
        const port = parseInt(cols[1]!.split(':')[1]!, 16);
        if (wanted.has(port)) total += Number(cols[cols.length - 1]);
      }
    }
  } catch {
    return null;
  }
  return total;
}

export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** True when the module at `url` is the script node was started with (not imported by a test). */
export function isMain(url: string): boolean {
  return process.argv[1] !== undefined && new URL(url).pathname === realpathSync(process.argv[1]);
}
