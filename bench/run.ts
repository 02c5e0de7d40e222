// `npm run bench`: weir beside nginx, HAProxy, the bare Bun-native reference and direct, same workloads,
// interleaved, proxy pinned to one core and load to the other. Prints medians with ratios, saves JSON.
// Options: --quick | --reps N | --dur S | --targets a,b | --only w1,w2 | --no-weir-only | --weir-only | --src | --out DIR
// (see bench/README.md).

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { alive, busyPct, cpuSplit, cpuSnap, killAllNow, type Started, startPinned, stop, stopAll, waitTcp, sleep } from './proc';
import { buildLoadgen, ensurePackages, makeCert, versions, writeQueries } from './setup';
import { type Ctx, ports, startTarget, type Target, TARGETS, UP, weirCommand } from './targets';
import { bulk, mem, type Metrics, pingConns, type RunSettings, redis, tls, tlsBulk, udp, waitPong, type Workload, WORKLOADS } from './workloads';
import { type Sample, renderTables, renderWeirOnly, summarize } from './summary';
import { weirOnly } from './weir-only';
import { BENCH_USAGE, checkBenchArgs } from './args';

const argv = process.argv.slice(2);
const checked = checkBenchArgs(argv);
if (checked.kind === 'help') {
  process.stdout.write(BENCH_USAGE);
  process.exit(0);
}
if (checked.kind === 'error') {
  process.stderr.write(`bench: ${checked.message}\n`);
  process.exit(2);
}
const flag = (name: string): boolean => argv.includes(name);
const opt = (name: string, dflt: string): string => {
  const i = argv.indexOf(name);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : dflt;
};
const quick = flag('--quick');
const root = resolve(import.meta.dirname, '..');
const out = resolve(opt('--out', join(root, 'bench/results')));
const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
const runDir = join(out, stamp);
const ctx: Ctx = { work: join(runDir, 'work'), logs: join(runDir, 'logs'), proxyCpu: Number(process.env.PROXY_CPU ?? 1), root, bun: join(root, 'node_modules/.bin/bun'), fromSource: flag('--src') };
const targets = opt('--targets', 'direct,nginx,haproxy,bunnative,weir').split(',') as Target[];
// `--only bulk` / `--only tlsbulk` stand for both connection counts (bulk1,bulk8 / tlsbulk1,tlsbulk8)
const group = (w: string): string[] => (WORKLOADS.includes(w as Workload) ? [w] : WORKLOADS.filter((x) => x === `${w}1` || x === `${w}8`));
const onlyArg = opt('--only', WORKLOADS.join(',')).split(',');
const workloads = onlyArg.flatMap(group) as Workload[];
const reps = Number(opt('--reps', quick ? '1' : '3'));
const LIFE_S = 900; // every upstream server exits by itself after this
for (const t of targets) if (!TARGETS.includes(t)) throw new Error(`--targets: unknown target "${t}" (one of ${TARGETS.join(', ')})`);
for (const w of onlyArg) if (group(w).length === 0) throw new Error(`--only: unknown workload "${w}" (one of ${WORKLOADS.join(', ')}, bulk, tlsbulk)`);

process.on('exit', killAllNow);
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(130));

async function measure(s: RunSettings, w: Workload, t: Target, index: number, proc: Started | null): Promise<Metrics> {
  const p = ports(t, index);
  const need = (port: number | null, why: string): number => {
    if (port === null) throw Object.assign(new Error(why), { skip: true });
    return port;
  };
  if (proc !== null && !alive(proc)) throw new Error('proxy died');
  const c0 = cpuSnap();
  const cpu0 = proc ? cpuSplit(proc.pid) : { user: 0, total: 0 };
  let m: Metrics;
  switch (w) {
    case 'bulk1': m = await bulk(s, p.iperf!, 1); break;
    case 'bulk8': m = await bulk(s, p.iperf!, 8); break;
    case 'rr': m = await redis(s, p.redis!, true, s.rrN); break;
    case 'conn': m = await redis(s, p.redis!, false, s.connN); break;
    case 'pconn': m = await pingConns(s, need(p.pconn, 'PROXY protocol rows: weir and direct only'), false); break;
    case 'ppconn': m = await pingConns(s, need(p.ppconn, 'PROXY protocol rows: weir and direct only'), true); break;
    case 'udp': m = await udp(s, need(p.udp, 'no UDP proxying')); break;
    case 'tls': m = await tls(s, need(p.tls, 'no TLS server without a proxy')); break;
    case 'tlsbulk1': m = await tlsBulk(s, p.tlsbulk!, 1); break;
    case 'tlsbulk8': m = await tlsBulk(s, p.tlsbulk!, 8); break;
    case 'mem': m = await mem(s, need(p.idle, 'no proxy process'), proc!.pid); break;
  }
  if (proc !== null && w !== 'mem') {
    const now = cpuSplit(proc.pid);
    const cpu = now.total - cpu0.total;
    m.proxy_cpu_s = +cpu.toFixed(2);
    m.cpu_us_per_op = +((cpu * 1e6) / Math.max(1, m.ops ?? 1)).toFixed(2);
    m.usr_us_per_op = +(((now.user - cpu0.user) * 1e6) / Math.max(1, m.ops ?? 1)).toFixed(2);
  }
  const c1 = cpuSnap();
  m.cpu_proxy_pct = busyPct(c0, c1, ctx.proxyCpu);
  m.cpu_load_pct = busyPct(c0, c1, s.loadCpu);
  return m;
}

async function main(): Promise<void> {
  const again = opt('--tables', '');
  if (again !== '') {
    // print the tables of a saved run again (e.g. after the summary learnt a new column); measures nothing
    const saved = JSON.parse(readFileSync(resolve(again), 'utf8')) as { samples: Sample[]; targets: string[]; weir_only: Record<string, number> | null };
    console.log(renderTables(summarize(saved.samples, saved.targets), saved.targets, saved.weir_only));
    return;
  }
  const t0 = Date.now();
  mkdirSync(ctx.work, { recursive: true });
  mkdirSync(ctx.logs, { recursive: true });
  if (flag('--weir-only')) return weirOnlyRun(t0);
  const installed = ensurePackages(join(ctx.logs, 'apt.log'));
  if (installed.length) console.log(`installed: ${installed.join(' ')}`);
  const loadgen = buildLoadgen(root, ctx.work);
  makeCert(ctx.work);
  const settings: RunSettings = {
    loadCpu: Number(process.env.LOAD_CPU ?? 0),
    durS: Number(opt('--dur', quick ? '1' : '3')),
    rrN: quick ? 20_000 : 100_000,
    connN: quick ? 5_000 : 20_000,
    idleConns: Number(opt('--idle-conns', quick ? '1000' : '9000')),
    loadgen,
    queries: writeQueries(ctx.work),
    logs: ctx.logs,
  };
  const L = settings.loadCpu;
  const lg = (n: string) => join(ctx.logs, `${n}.log`);
  startPinned('iperf3-server', L, ['timeout', String(LIFE_S), 'iperf3', '-s', '-B', '127.0.0.1', '-p', String(UP.iperf)], lg('iperf3-server'));
  startPinned('dnsecho', L, [loadgen, 'dnsecho', String(UP.udp), String(LIFE_S)], lg('dnsecho'));
  startPinned('echo', L, [loadgen, 'echo', String(UP.echo), String(LIFE_S)], lg('echo'));
  startPinned('pongserve', L, [loadgen, 'pongserve', String(UP.pong), '0', String(LIFE_S)], lg('pongserve'));
  startPinned('pongserve-pp', L, [loadgen, 'pongserve', String(UP.pongPp), '1', String(LIFE_S)], lg('pongserve-pp'));
  // on the proxy core: direct tlsbulk is then termination alone, split over the cores like the proxied runs,
  // and its CPU per MB (measured like a proxy's) is the floor for decrypting and reading the stream
  const tlsSink = startPinned('tlssink', ctx.proxyCpu, [loadgen, 'tlssink', String(UP.tlsSink), join(ctx.work, 'cert.pem'), join(ctx.work, 'key.pem'), String(LIFE_S)], lg('tlssink'));
  targets.forEach((t, i) =>
    startPinned(`redis-${t}`, L, ['timeout', String(LIFE_S), 'redis-server', '--bind', '127.0.0.1', '--port', String(UP.redisBase + i),
      '--save', '', '--appendonly', 'no', '--protected-mode', 'no', '--maxclients', '1000', '--dir', ctx.work], lg(`redis-${t}`)),
  );
  for (const port of [UP.iperf, UP.echo, UP.tlsSink, UP.pong, UP.pongPp, ...targets.map((_, i) => UP.redisBase + i)]) {
    if (!(await waitTcp(port))) throw new Error(`upstream on port ${port} did not start`);
  }
  const procs = new Map<Target, Started | null>();
  for (const [i, t] of targets.entries()) {
    if (t === 'direct') { procs.set(t, null); continue; }
    try {
      procs.set(t, await startTarget(ctx, t, i));
      await waitPong(ports(t, i).redis!, 10_000);
      console.log(`started ${t}${t.startsWith('weir') ? `: ${weirCommand(ctx, t).join(' ')}` : ''}`);
    } catch (err) {
      console.error(`${t}: ${(err as Error).message}`);
      procs.set(t, null);
    }
  }
  await sleep(500);
  /** Stop a target and start it again (a fresh process for `mem`); on failure it counts as not running. */
  const restartTarget = async (t: Target, i: number): Promise<Started | null> => {
    const old = procs.get(t);
    if (old) await stop(old);
    procs.set(t, null);
    const s = await startTarget(ctx, t, i);
    await waitPong(ports(t, i).redis!, 10_000);
    await sleep(1500); // start-up garbage (the routes' compile) settles first
    return s;
  };
  /** Targets that have carried a workload since they started. */
  const loaded = new Set<Target>();
  const samples: Sample[] = [];
  for (let rep = 1; rep <= reps; rep++) {
    for (const w of workloads) {
      for (let k = 0; k < targets.length; k++) {
        const i = (k + rep - 1) % targets.length; // rotate the order each repetition
        const t = targets[i]!;
        if (t !== 'direct' && procs.get(t) === null) { samples.push({ rep, workload: w, target: t, error: 'not running' }); continue; }
        try {
          // memory is read on a fresh process, before any other load: a target that carried load already is
          // restarted for it, in the rotated order like every other workload (the first to start often reads higher)
          if (w === 'mem' && loaded.has(t)) procs.set(t, await restartTarget(t, i));
          loaded.add(t);
          const proc = t === 'direct' && w.startsWith('tlsbulk') ? tlsSink : procs.get(t) ?? null;
          const metrics = await measure(settings, w, t, i, proc);
          samples.push({ rep, workload: w, target: t, metrics });
          console.log(`rep ${rep} ${w.padEnd(5)} ${t.padEnd(9)} ${JSON.stringify(metrics)}`);
        } catch (err) {
          if ((err as { skip?: boolean }).skip) continue;
          samples.push({ rep, workload: w, target: t, error: (err as Error).message });
          console.log(`rep ${rep} ${w.padEnd(5)} ${t.padEnd(9)} error: ${(err as Error).message}`);
        }
        await sleep(200);
      }
    }
  }
  await stopAll();
  let only: Record<string, number> | null = null;
  if (!flag('--no-weir-only') && targets.some((t) => t.startsWith('weir'))) {
    try {
      only = await weirOnly(ctx, quick);
    } catch (err) {
      console.error(`weir-only: ${(err as Error).message}`);
    }
  }
  const results = summarize(samples, targets);
  const table = renderTables(results, targets, only);
  const record = { date: new Date().toISOString(), weir: weirCommand(ctx).join(' '), quick, reps, settings: { ...settings, loadgen: undefined, queries: undefined }, proxyCpu: ctx.proxyCpu, versions: versions(ctx.bun), targets, results, weir_only: only, samples, seconds: Math.round((Date.now() - t0) / 1000) };
  writeFileSync(join(runDir, 'results.json'), JSON.stringify(record, null, 2));
  writeFileSync(join(out, 'latest.json'), JSON.stringify(record, null, 2));
  writeFileSync(join(runDir, 'results.md'), table + '\n');
  console.log(`\n${table}\n\nsaved ${join(runDir, 'results.json')} (${record.seconds} s)`);
}

/** `--weir-only`: the weir-only numbers alone (no side-by-side part, no other proxy, no load generator). */
async function weirOnlyRun(t0: number): Promise<void> {
  const only = await weirOnly(ctx, quick);
  const table = renderWeirOnly(only);
  const record = { date: new Date().toISOString(), weir: weirCommand(ctx).join(' '), quick, weir_only: only, seconds: Math.round((Date.now() - t0) / 1000) };
  writeFileSync(join(runDir, 'results.json'), JSON.stringify(record, null, 2));
  writeFileSync(join(runDir, 'results.md'), table + '\n');
  console.log(`\n${table}\n\nsaved ${join(runDir, 'results.json')} (${record.seconds} s)`);
}

main().then(
  () => process.exit(0),
  async (err) => {
    console.error(err);
    await stopAll();
    process.exit(1);
  },
);
