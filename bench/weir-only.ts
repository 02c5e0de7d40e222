// weir-only measurements: route match cost (bench/match-cost.ts under Bun), the plugins' cost per connection
// (bench/plugin-cost.ts), Admin API write -> effective latency with 10,000 routes, an offline CLI write with
// 10,000 routes (bench/cli-write.ts under Bun), cold start (spawn -> first proxied reply), limit-bandwidth's
// accuracy (bench/bandwidth.ts).

import { createServer, connect, type Server } from 'node:net';
import { join } from 'node:path';
import { rmSync, writeFileSync } from 'node:fs';
import { openStore } from '../src/store/store';
import { openSqlite } from '../src/runtime/index';
import { ADMIN_KEY, type Ctx, waitAdmin, weirCommand } from './targets';
import { runPinned, sleep, startPinned, stop } from './proc';
import { bandwidthAccuracy } from './bandwidth';

const LISTEN = 24100; // below the ephemeral range (32768+)
const ADMIN = 24180;
const UP_A = 24201;
const UP_B = 24202;
const UP_SINK = 24203;

/** An upstream that greets every connection with one letter and closes. */
function greeter(port: number, letter: string): Promise<Server> {
  const srv = createServer((s) => s.on('error', () => {}).end(letter));
  return new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(port, '127.0.0.1', () => resolve(srv));
  });
}

/** The letter the route currently leads to ('' when the connection is refused or closed silently). */
function probe(): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(LISTEN, '127.0.0.1');
    let got = '';
    const timer = setTimeout(() => s.destroy(), 1000);
    s.on('data', (d) => (got += d));
    s.on('error', () => {});
    s.on('close', () => (clearTimeout(timer), resolve(got)));
  });
}

function route(id: string, value: Record<string, unknown>): Record<string, unknown> {
  return { id, ...value, create_time: 1700000000, update_time: 1700000000 };
}

/**
 * ip-restriction (allowing 127.0.0.0/8) and limit-conn (a limit never reached) on every route of the plugin
 * variant: each change then compiles a chain, and every swap compares the chains served (FilterCompiler.afterSwap).
 */
const ROUTE_PLUGINS = {
  'ip-restriction': { whitelist: ['127.0.0.0/8'] },
  'limit-conn': { conn: 100000, burst: 0, default_conn_delay: 0.1, key: 'remote_addr' },
};

/**
 * A database with `n` routes that never match 127.0.0.1 and one live route (last in id order) to UP_A; with
 * `plugins`, every route carries ROUTE_PLUGINS.
 */
function seedDb(path: string, n: number, plugins = false): void {
  const extra = plugins ? { plugins: ROUTE_PLUGINS } : {};
  rmSync(path, { force: true });
  const store = openStore(path, { db: openSqlite(path) }); // the driver this runtime has
  try {
    store.transaction(() => {
      for (let i = 0; i < n; i++) {
        const id = `r${String(i).padStart(6, '0')}`;
        store.put('stream_routes', id, route(id, { server_port: LISTEN, remote_addr: `10.${(i >> 8) & 255}.${i & 255}.0/24`, upstream: { type: 'roundrobin', nodes: { [`127.0.0.1:${UP_B}`]: 1 } }, ...extra }));
      }
      store.put('stream_routes', 'zz-live', route('zz-live', { server_port: LISTEN, upstream: { type: 'roundrobin', nodes: { [`127.0.0.1:${UP_A}`]: 1 } }, ...extra }));
    });
  } finally {
    store.close();
  }
}

function weirYaml(db: string): string {
  return `apisix:\n  stream_proxy:\n    tcp: ["127.0.0.1:${LISTEN}"]\nnginx_config:\n  stream:\n    enable_access_log: false\ndeployment:\n  admin:\n    admin_key: [{ name: admin, key: ${ADMIN_KEY}, role: admin }]\n    admin_listen: { ip: 127.0.0.1, port: ${ADMIN} }\n  sqlite:\n    path: ${db}\n`;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** Spawn weir on `db`; resolves with ms until the live route answers with `want`, and the process. */
async function coldStart(ctx: Ctx, db: string, want: string) {
  const cfg = join(ctx.work, 'weir-only.yaml');
  writeFileSync(cfg, weirYaml(db));
  const t0 = performance.now();
  const proc = startPinned('weir-only', ctx.proxyCpu, [...weirCommand(ctx), 'start', '-c', cfg], join(ctx.logs, 'weir-only.log'), { cwd: ctx.root });
  for (let i = 0; i < 4000; i++) {
    if ((await probe()) === want) return { ms: performance.now() - t0, proc };
    await sleep(2);
  }
  await stop(proc);
  throw new Error('weir never proxied the live route (see logs/weir-only.log)');
}

/**
 * Median in-process time of `weir upstreams put` on `db`, each in a fresh process (so as cold as a real
 * invocation), after one untimed run that creates the keyring file the config leaves to weir.
 */
async function cliWrite(ctx: Ctx, db: string, runs: number): Promise<number> {
  const cfg = join(ctx.work, 'weir-only-cli.yaml');
  writeFileSync(cfg, weirYaml(db));
  const times: number[] = [];
  for (let i = 0; i <= runs; i++) {
    const r = await runPinned(ctx.proxyCpu, [ctx.bun, join(ctx.root, 'bench/cli-write.ts'), cfg, 'cli-bench', String(UP_A + (i % 2))], 30_000);
    const { ms, code } = JSON.parse(r.out.trim().split('\n').pop() || '{}') as { ms?: number; code?: number };
    if (code !== 0 || ms === undefined) throw new Error(`CLI write failed (exit ${code}): ${r.err.trim()}`);
    if (i > 0) times.push(ms);
  }
  return +median(times).toFixed(2);
}

/**
 * Admin API PUTs of the live route, alternating its upstream between A and B, on a running weir: the time until
 * each is answered and until the next connection goes to the new upstream (medians after 3 untimed PUTs).
 */
async function putToEffect(quick: boolean, tag: string, plugins: boolean): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  if (!(await waitAdmin(ADMIN, 10_000))) throw new Error('admin API never answered');
  const lat: number[] = [], put: number[] = [];
  // The first PUTs after start run code the JIT has not compiled yet (10-20 ms); they are not timed.
  const WARMUP = 3;
  for (let i = 0; i < WARMUP + (quick ? 3 : 7); i++) {
    const letter = i % 2 === 0 ? 'B' : 'A';
    const t0 = performance.now();
    const res = await fetch(`http://127.0.0.1:${ADMIN}/apisix/admin/stream_routes/zz-live`, {
      method: 'PUT',
      headers: { 'X-API-KEY': ADMIN_KEY },
      body: JSON.stringify({ server_port: LISTEN, upstream: { type: 'roundrobin', nodes: { [`127.0.0.1:${letter === 'A' ? UP_A : UP_B}`]: 1 } }, ...(plugins ? { plugins: ROUTE_PLUGINS } : {}) }),
    });
    await res.text();
    if (res.status !== 200) throw new Error(`PUT answered ${res.status}`);
    const answered = performance.now() - t0;
    let seen = '';
    for (let k = 0; k < 2000 && seen !== letter; k++) seen = await probe();
    if (seen !== letter) throw new Error('the change never took effect');
    if (i === 0) out[`admin_first_effective_${tag}_ms`] = +(performance.now() - t0).toFixed(2);
    if (i < WARMUP) continue;
    put.push(answered);
    lat.push(performance.now() - t0);
  }
  out[`admin_put_${tag}_ms`] = +median(put).toFixed(2);
  out[`admin_effective_${tag}_ms`] = +median(lat).toFixed(2);
  return out;
}

export async function weirOnly(ctx: Ctx, quick: boolean): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const m = await runPinned(ctx.proxyCpu, [ctx.bun, join(ctx.root, 'bench/match-cost.ts'), quick ? '100' : '400'], 60_000);
  Object.assign(out, JSON.parse(m.out.trim().split('\n').pop() || '{}'));
  const pc = await runPinned(ctx.proxyCpu, [ctx.bun, join(ctx.root, 'bench/plugin-cost.ts'), quick ? '100' : '400'], 60_000);
  Object.assign(out, JSON.parse(pc.out.trim().split('\n').pop() || '{}'));

  const servers = [await greeter(UP_A, 'A'), await greeter(UP_B, 'B')];
  try {
    const small = join(ctx.work, 'weir-only-1.db');
    seedDb(small, 0);
    const starts: number[] = [];
    for (let i = 0; i < (quick ? 1 : 3); i++) {
      const { ms, proc } = await coldStart(ctx, small, 'A');
      starts.push(ms);
      await stop(proc);
    }
    out.cold_start_ms = +median(starts).toFixed(1);

    // limit-bandwidth's accuracy at 1 MiB/s .. 1 GiB/s (bench/bandwidth.ts)
    const bw = await coldStart(ctx, small, 'A');
    try {
      if (!(await waitAdmin(ADMIN, 10_000))) throw new Error('admin API never answered');
      Object.assign(out, await bandwidthAccuracy(ADMIN, LISTEN, UP_SINK, 'zz-live'));
    } finally {
      await stop(bw.proc);
    }

    const big = join(ctx.work, 'weir-only-10k.db');
    seedDb(big, 10_000);
    out.cli_write_10k_ms = await cliWrite(ctx, big, quick ? 3 : 5);
    const { ms, proc } = await coldStart(ctx, big, 'A');
    out.cold_start_10k_routes_ms = +ms.toFixed(1);
    try {
      Object.assign(out, await putToEffect(quick, '10k', false));
    } finally {
      await stop(proc);
    }
    // the same with two plugins on every route (ip-restriction, limit-conn)
    seedDb(big, 10_000, true);
    const withPlugins = await coldStart(ctx, big, 'A');
    out.cold_start_10k_plugin_routes_ms = +withPlugins.ms.toFixed(1);
    try {
      Object.assign(out, await putToEffect(quick, '10k_plugins', true));
    } finally {
      await stop(withPlugins.proc);
    }
  } finally {
    for (const s of servers) s.close();
  }
  return out;
}
