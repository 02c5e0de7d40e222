// Start-up memory of `weir start` for a plain config (one TCP listener, access log on, the Admin API, a SQLite
// file; no plugins in use, no prometheus, no health checks, no PROXY listeners, no DNS names): VmRSS and
// RssAnon once start-up has settled, median of several starts, Bun on the sources. With $WEIR_B_ROOT set, the
// tree there is measured too, interleaved start by start (A/B on a shared box). --modules lists what start
// loads: the modules reachable from src/main.ts through static imports (those behind `await import()` are not).
//   npx tsx bench/start-memory.ts [--starts 5] [--settle-ms 2500] [--modules]

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const USAGE = `usage: npx tsx bench/start-memory.ts [options]

  --starts N       starts per tree; the median is reported (default 5, at most 25)
  --settle-ms MS   wait after the listener accepts, before reading /proc (default 2500: past weir's
                   release of start-up memory 1 s after start)
  --modules        also list the modules start loads statically, by size (esbuild's view of the graph)
  -h, --help       this text

  WEIR_B_ROOT=DIR  also measure the tree under DIR (e.g. a checkout before a change), interleaved
`;

const ROOT = resolve(import.meta.dirname, '..');
const BUN = join(ROOT, 'node_modules', '.bin', 'bun');
/** Bound of one start: spawn until the listener accepts. */
const START_TIMEOUT_MS = 20_000;

interface Options {
  starts: number;
  settleMs: number;
  modules: boolean;
}

function parseArgs(argv: string[]): Options | 'help' {
  const opts: Options = { starts: 5, settleMs: 2500, modules: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-h' || a === '--help') return 'help';
    if (a === '--modules') opts.modules = true;
    else if (a === '--starts' || a === '--settle-ms') {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < (a === '--starts' ? 1 : 0)) throw new Error(`${a}: expected a whole number`);
      if (a === '--starts') opts.starts = Math.min(n, 25);
      else opts.settleMs = Math.min(n, 60_000);
    } else throw new Error(`unknown option "${a}" (try --help)`);
  }
  return opts;
}

/** A port nobody listens on now (the kernel's pick, released at once). */
function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => res(port));
    });
  });
}

function plainConfig(dir: string, listen: number, admin: number): string {
  return `apisix:
  enable_admin: true
  stream_proxy:
    tcp:
      - "127.0.0.1:${listen}"
nginx_config:
  stream:
    access_log: ${dir}/access.log
deployment:
  admin:
    admin_key:
      - { name: admin, key: bench-start-memory-key-0123456789, role: admin }
    admin_listen: { ip: 127.0.0.1, port: ${admin} }
  sqlite:
    path: ${dir}/weir.db
`;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), res(true)));
    s.once('error', () => res(false));
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function statusKib(pid: number, field: string): number {
  const m = new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`/proc/${pid}/status has no ${field}`);
  return Number(m[1]);
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  if ((await Promise.race([gone.then(() => 'gone'), sleep(3000).then(() => 'late')])) === 'late') {
    child.kill('SIGKILL');
    await gone;
  }
}

/** One start of the tree under `root`: RSS and RssAnon in KiB once settled. */
async function measureOnce(root: string, settleMs: number): Promise<{ rss: number; anon: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'weir-start-mem-'));
  const [listen, admin] = [await freePort(), await freePort()];
  writeFileSync(join(dir, 'config.yaml'), plainConfig(dir, listen, admin));
  const child = spawn(BUN, [join(root, 'src/main.ts'), 'start', '-c', join(dir, 'config.yaml')], {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  try {
    const until = Date.now() + START_TIMEOUT_MS;
    while (!(await accepts(listen))) {
      if (child.exitCode !== null || Date.now() > until) throw new Error(`weir did not start (${root}): ${stderr.slice(-500)}`);
      await sleep(50);
    }
    await sleep(settleMs);
    return { rss: statusKib(child.pid!, 'VmRSS'), anon: statusKib(child.pid!, 'RssAnon') };
  } finally {
    await stopChild(child);
    rmSync(dir, { recursive: true, force: true });
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

const mb = (kib: number): string => (kib / 1024).toFixed(1);

interface Metafile {
  inputs: Record<string, { bytes: number; imports: Array<{ path: string; kind: string; external?: boolean }> }>;
  outputs: Record<string, { inputs: Record<string, { bytesInOutput: number }> }>;
}

/** The modules reachable from src/main.ts without crossing a dynamic import, with their bundled sizes. */
async function staticModules(root: string): Promise<Array<{ path: string; bytes: number }>> {
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    entryPoints: [join(root, 'src/main.ts')],
    absWorkingDir: root,
    bundle: true,
    write: false,
    metafile: true,
    platform: 'node',
    format: 'esm',
    outfile: 'start-memory.out.js',
    external: ['better-sqlite3', 'bun:*', 'node:sqlite'],
    logLevel: 'silent',
  });
  const meta = result.metafile as unknown as Metafile;
  const sizes = Object.values(meta.outputs)[0]!.inputs;
  const seen = new Set<string>(['src/main.ts']);
  const queue = ['src/main.ts'];
  for (let i = 0; i < queue.length; i++) {
    for (const imp of meta.inputs[queue[i]!]?.imports ?? []) {
      if (imp.external || imp.kind === 'dynamic-import' || seen.has(imp.path)) continue;
      seen.add(imp.path);
      queue.push(imp.path);
    }
  }
  return [...seen].map((path) => ({ path, bytes: sizes[path]?.bytesInOutput ?? 0 })).sort((a, b) => b.bytes - a.bytes);
}

function printModules(label: string, mods: Array<{ path: string; bytes: number }>): void {
  const total = mods.reduce((n, m) => n + m.bytes, 0);
  const ours = mods.filter((m) => m.path.startsWith('src/'));
  const groups = new Map<string, number>();
  for (const m of mods) {
    const key = m.path.startsWith('src/') ? m.path.replace(/\/[^/]+$/, '/') : m.path.replace(/^(.*node_modules\/(@[^/]+\/)?[^/]+).*$/, '$1').replace(/^.*node_modules\//, '');
    groups.set(key, (groups.get(key) ?? 0) + m.bytes);
  }
  console.log(`\n${label}: ${mods.length} modules loaded statically by start (${ours.length} under src/), ${(total / 1024).toFixed(0)} KiB bundled`);
  for (const [key, bytes] of [...groups].sort((a, b) => b[1] - a[1])) console.log(`  ${(bytes / 1024).toFixed(1).padStart(7)} KiB  ${key}`);
  console.log('  largest files under src/:');
  for (const m of ours.slice(0, 25)) console.log(`  ${(m.bytes / 1024).toFixed(1).padStart(7)} KiB  ${m.path}`);
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  if (opts === 'help') return void process.stdout.write(USAGE);
  const trees: Array<[string, string]> = [['weir', ROOT]];
  if (process.env.WEIR_B_ROOT) trees.push(['weirb', resolve(process.env.WEIR_B_ROOT)]);
  if (opts.modules) for (const [name, root] of trees) printModules(name, await staticModules(root));
  const runs = new Map<string, Array<{ rss: number; anon: number }>>(trees.map(([name]) => [name, []]));
  for (let i = 0; i < opts.starts; i++) {
    for (const [name, root] of trees) {
      const r = await measureOnce(root, opts.settleMs);
      runs.get(name)!.push(r);
      console.log(`${name} start ${i + 1}/${opts.starts}: VmRSS ${mb(r.rss)} MiB, RssAnon ${mb(r.anon)} MiB`);
    }
  }
  console.log(`\nmedian of ${opts.starts} starts (Bun on the sources, plain config, ${opts.settleMs} ms after the listener accepts):`);
  for (const [name, rs] of runs) {
    console.log(`  ${name.padEnd(6)} VmRSS ${mb(median(rs.map((r) => r.rss)))} MiB   RssAnon ${mb(median(rs.map((r) => r.anon)))} MiB`);
  }
}

main().catch((err: unknown) => {
  console.error(`start-memory: ${(err as Error).message}`);
  process.exitCode = 1;
});
