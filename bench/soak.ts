// Soak test of "changing weir without a restart" (issue 15): weir under Bun as an operator runs it, while a load
// generator opens new connections at a fixed rate and holds long ones, and a control loop makes Admin API
// changes, SIGHUP reloads and binary upgrades. Counts failed new connections, cut long ones (route policy keep:
// must be 0), and the long ones of a route with on_change close that one change must cut (exactly those).
//
//   tsx bench/soak.ts                          the issue's numbers: 1,000 new conn/s, 200 long, 200 changes,
//                                              20 reloads, 3 upgrades (about 30 s)
//   tsx bench/soak.ts --seconds 60 --workers 2 --rate 500
//   tsx bench/soak.ts --bad-reloads 4          also reloads of an invalid config (the old one must serve on)
// test/reliability/r11-live-changes.ts runs it for R11 of the reliability campaign; its short version in `npm test`.

import net from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runCli } from '../src/cli/run';
import type { CliIo } from '../src/cli/context';
import { readPidFile, readStatus } from '../src/control/pid-file';

export interface SoakOptions {
  /** How long the load runs; the control events are spread evenly over it. */
  seconds: number;
  /** New connections per second (each: connect, 4 bytes echoed, close). */
  rate: number;
  /** Long connections on a route with the default policy (keep): none may be cut. */
  long: number;
  /** Long connections on a route with on_change close: the one change of that route must cut exactly these. */
  closeLong: number;
  /** Admin API writes (route and upstream changes, a listener object added and removed). */
  changes: number;
  /** SIGHUP reloads (an extra config listener added and removed). */
  reloads: number;
  /** `weir upgrade` runs. */
  upgrades: number;
  /**
   * Reloads of an invalid config (default 0), on the reloads' timeline: alternately one whose extra listener's port
   * is taken (`weir reload` must exit 2: the process refused it) and one that does not parse (sent as a SIGHUP;
   * the log must say it was refused). After each, the old config must still serve.
   */
  badReloads?: number;
  /** nginx_config.worker_processes. */
  workers: number;
  /** Project root (for src/main.ts and node_modules/.bin/bun). */
  root: string;
  /** Progress lines. */
  log?: (line: string) => void;
}

export interface SoakResult {
  shortOk: number;
  /** Failed new connections, each with why (capped at 20 shown). */
  shortFailed: string[];
  shortFailedCount: number;
  /** Achieved rate of new connections. */
  rate: number;
  longCut: number;
  closeCut: number;
  /** Access lines with end "route_changed" (written by whichever process held the connection). */
  routeChangedLines: number;
  changesOk: number;
  /** Admin requests sent again because the first try could not connect (during an upgrade's handover). */
  adminRetries: number;
  reloadsOk: number;
  upgradesOk: number;
  /** Invalid-config reloads that were refused. */
  badReloadsRefused: number;
  /** Refused reloads after which the old config served on: its listeners as before, a connection echoed. */
  badReloadsServedOn: number;
  /** Accept-queue overflows in this network namespace during the run (shared with anything else running in it). */
  listenOverflows: number;
  /** Every weir process that ran, and whether all have exited at the end. */
  pids: number[];
  allExited: boolean;
  errors: string[];
}

const ADMIN_KEY = 'edd1c9f034335f136f87ad84b625c8f1';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => res(port));
    });
  });
}

function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** TcpExt ListenOverflows of this network namespace: SYNs or handshakes dropped because an accept queue was full. */
function listenOverflows(): number {
  try {
    const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n');
    const head = lines.find((l) => l.startsWith('TcpExt:') && l.includes('ListenOverflows'))!.split(' ');
    const vals = lines.filter((l) => l.startsWith('TcpExt:'))[1]!.split(' ');
    return Number(vals[head.indexOf('ListenOverflows')]);
  } catch {
    return -1;
  }
}

/** One short connection through the proxy: connect, send 4 bytes, get them back, close. */
function shortConn(port: number): Promise<string | null> {
  return new Promise((done) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    let got = '';
    let connected = false;
    const timer = setTimeout(() => finish(connected ? 'timeout (connected, no echo)' : 'timeout (not connected)'), 5000);
    let settled = false;
    function finish(why: string | null): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      s.destroy();
      done(why);
    }
    s.on('connect', () => {
      connected = true;
      s.write('ping');
    });
    s.on('data', (d) => {
      got += d;
      if (got === 'ping') finish(null);
    });
    s.on('error', (err: NodeJS.ErrnoException) => finish(err.code ?? err.message));
    s.on('close', () => finish(`closed after ${got.length} bytes`));
  });
}

/** A held connection that echoes a heartbeat now and then; `cut` is set when it ends before we end it. */
class LongConn {
  cut = false;
  private ending = false;
  private readonly sock: net.Socket;
  readonly ready: Promise<void>;
  constructor(port: number) {
    this.sock = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    this.sock.on('error', () => {});
    const onEnd = (): void => {
      if (!this.ending) this.cut = true;
    };
    this.sock.on('end', onEnd);
    this.sock.on('close', onEnd);
    this.ready = new Promise((res, rej) => {
      this.sock.once('connect', () => this.beat().then(res, rej));
      this.sock.once('error', rej);
    });
  }
  /** Send one byte and wait for it back (bounded). */
  beat(): Promise<void> {
    return new Promise((res, rej) => {
      if (this.cut) return rej(new Error('cut'));
      const timer = setTimeout(() => (this.sock.off('data', onData), rej(new Error('no echo in 3 s'))), 3000);
      const onData = (): void => {
        clearTimeout(timer);
        this.sock.off('data', onData);
        res();
      };
      this.sock.on('data', onData);
      this.sock.write('.');
    });
  }
  end(): void {
    this.ending = true;
    this.sock.destroy();
  }
}

/** Whether a TCP connection to the port is accepted (it may be closed at once: a listener without a route). */
function accepts(port: number): Promise<boolean> {
  return new Promise((done) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    const timer = setTimeout(() => finish(false), 3000);
    function finish(ok: boolean): void {
      clearTimeout(timer);
      s.destroy();
      done(ok);
    }
    s.once('connect', () => finish(true));
    s.once('error', () => finish(false));
  });
}

function yaml(o: { tcp: Array<number | string>; admin: number; db: string; workers: number; accessLog: string }): string {
  return [
    'apisix:',
    '  stream_proxy:',
    '    tcp:',
    ...o.tcp.map((p) => `      - "${typeof p === 'number' ? `127.0.0.1:${p}` : p}"`),
    'deployment:',
    '  admin:',
    '    admin_key:',
    `      - { name: admin, key: ${ADMIN_KEY}, role: admin }`,
    `    admin_listen: { ip: 127.0.0.1, port: ${o.admin} }`,
    '  sqlite:',
    `    path: ${JSON.stringify(o.db)}`,
    'nginx_config:',
    `  worker_processes: ${o.workers}`,
    '  worker_shutdown_timeout: 120s',
    '  stream:',
    `    access_log: ${JSON.stringify(o.accessLog)}`,
    '',
  ].join('\n');
}

/** Admin requests that failed to connect and were sent again: the Admin API's port moves during an upgrade. */
let adminRetries = 0;

/**
 * One Admin API call. A request that could not be delivered (the port is between the old and the new process
 * for a few milliseconds of an upgrade) is sent again, up to 5 times.
 */
async function admin(port: number, method: string, path: string, body?: unknown): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/apisix/admin/${path}`, {
        method,
        headers: { 'X-API-KEY': ADMIN_KEY, 'Content-Type': 'application/json', Connection: 'close' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      await res.text();
      return res.status;
    } catch (err) {
      if (attempt >= 4) throw err;
      adminRetries++;
      await sleep(20);
    }
  }
}

/** Run the soak; resolves with the counts (never throws for what it measures; setup failures do throw). */
export async function runSoak(o: SoakOptions): Promise<SoakResult> {
  const log = o.log ?? (() => {});
  adminRetries = 0;
  const dir = mkdtempSync(join(tmpdir(), 'weir-soak-'));
  const db = join(dir, 'weir.db');
  const cfg = join(dir, 'config.yaml');
  const accessLog = join(dir, 'access.log');
  const [keepPort, closePort, extraPort, objPort, adminPort] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
  const write = (extra: boolean, bad: Array<number | string> = []): void =>
    writeFileSync(cfg, yaml({ tcp: [keepPort, closePort, ...(extra ? [extraPort] : []), ...bad], admin: adminPort, db, workers: o.workers, accessLog }));
  write(false);
  const echo = net.createServer((s) => {
    s.on('error', () => {});
    s.pipe(s);
  });
  // a deep queue: after a busy moment weir dials many connections at once, and the upstream must not be the limit
  await new Promise<void>((r) => echo.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => r()));
  const overflowsBefore = listenOverflows();
  const upstream = `127.0.0.1:${(echo.address() as net.AddressInfo).port}`;
  const errors: string[] = [];
  const pids = new Set<number>();
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: '' };
  delete env.WEIR_WORKER;
  // weir's error log (every process it starts writes there too) goes to a file: WEIR_SOAK_KEEP=1 keeps it
  const errLog = openSync(join(dir, 'weir.log'), 'a');
  const weir: ChildProcess = spawn(resolve(o.root, 'node_modules/.bin/bun'), [resolve(o.root, 'src/main.ts'), 'start', '-c', cfg], { stdio: ['ignore', 'ignore', errLog], env, detached: true });
  closeSync(errLog);
  const stderr = (): string => readFileSync(join(dir, 'weir.log'), 'utf8');
  const result: SoakResult = {
    shortOk: 0,
    shortFailed: [],
    shortFailedCount: 0,
    rate: 0,
    longCut: 0,
    closeCut: 0,
    routeChangedLines: 0,
    changesOk: 0,
    adminRetries: 0,
    reloadsOk: 0,
    upgradesOk: 0,
    badReloadsRefused: 0,
    badReloadsServedOn: 0,
    listenOverflows: 0,
    pids: [],
    allExited: false,
    errors,
  };
  const longs: LongConn[] = [];
  const closeLongs: LongConn[] = [];
  try {
    for (const until = Date.now() + 20_000; !existsSync(join(dir, 'weir.pid')) || !(await admin(adminPort, 'GET', 'stream_routes').catch(() => 0)); await sleep(50)) {
      if (Date.now() > until || weir.exitCode !== null) throw new Error(`weir did not start: ${stderr()}`);
    }
    pids.add(weir.pid!);
    const route = (port: number, extra: Record<string, unknown> = {}) => ({ server_port: port, upstream_id: 'echo', ...extra });
    if ((await admin(adminPort, 'PUT', 'upstreams/echo', { nodes: { [upstream]: 1 } })) !== 201) throw new Error('upstream PUT failed');
    if ((await admin(adminPort, 'PUT', 'stream_routes/keep', route(keepPort))) !== 201) throw new Error('route PUT failed');
    if ((await admin(adminPort, 'PUT', 'stream_routes/close', { server_port: closePort, upstream: { nodes: { [upstream]: 1 } }, on_change: { action: 'close' } })) !== 201) {
      throw new Error('route PUT failed');
    }
    if ((await admin(adminPort, 'PUT', 'stream_routes/obj', route(objPort))) !== 201) throw new Error('route PUT failed');
    await sleep(o.workers > 1 ? 1000 : 100); // every worker has the routes
    for (let i = 0; i < o.long; i++) longs.push(new LongConn(keepPort));
    for (let i = 0; i < o.closeLong; i++) closeLongs.push(new LongConn(closePort));
    await Promise.all([...longs, ...closeLongs].map((c) => c.ready));
    log(`weir ${weir.pid}: ${o.long} + ${o.closeLong} long connections open; load for ${o.seconds} s`);

    const start = Date.now();
    const endAt = start + o.seconds * 1000;
    let running = true;
    // new connections at a fixed rate: a tick every 10 ms starts what the elapsed time calls for
    let launched = 0;
    const inflight = new Set<Promise<void>>();
    const load = (async () => {
      while (running) {
        const due = Math.floor(((Date.now() - start) / 1000) * o.rate);
        while (launched < due && inflight.size < 2000) {
          launched++;
          const p = shortConn(keepPort).then((why) => {
            inflight.delete(p);
            if (why === null) result.shortOk++;
            else {
              result.shortFailedCount++;
              if (result.shortFailed.length < 20) result.shortFailed.push(`${((Date.now() - start) / 1000).toFixed(2)} s: ${why}`);
            }
          });
          inflight.add(p);
        }
        await sleep(10);
      }
      await Promise.all(inflight);
    })();
    const heartbeat = (async () => {
      while (running) {
        await Promise.all(longs.map((c) => c.beat().catch(() => undefined)));
        await sleep(500);
      }
    })();

    // control: admin writes on one timeline, reloads and upgrades on another (never two signals at once)
    const at = (i: number, n: number): number => start + ((i + 0.5) * (endAt - start)) / n;
    const closeChangeAt = start + (endAt - start) * 0.4;
    const changes = (async () => {
      let closeChanged = false;
      for (let i = 0; i < o.changes; i++) {
        await sleep(Math.max(0, at(i, o.changes) - Date.now()));
        if (!closeChanged && Date.now() >= closeChangeAt) {
          closeChanged = true;
          const s = await admin(adminPort, 'PATCH', 'stream_routes/close', { desc: 'changed once' }).catch(() => 0);
          if (s !== 200) errors.push(`close route PATCH: ${s}`);
        }
        const kind = i % 4;
        let status = 0;
        try {
          if (kind === 0) status = await admin(adminPort, 'PATCH', 'stream_routes/keep', { desc: `change ${i}` });
          else if (kind === 1) status = await admin(adminPort, 'PUT', 'upstreams/echo', { nodes: { [upstream]: 1 }, desc: `change ${i}` });
          else if (kind === 2) status = await admin(adminPort, 'PUT', 'stream_listeners/obj', { addr: `127.0.0.1:${objPort}` });
          else status = await admin(adminPort, 'DELETE', 'stream_listeners/obj');
        } catch (err) {
          errors.push(`admin change ${i}: ${(err as Error).message}`);
        }
        if (status === 200 || status === 201) result.changesOk++;
        else errors.push(`admin change ${i} (${kind}): status ${status}`);
      }
      if (!closeChanged) {
        const s = await admin(adminPort, 'PATCH', 'stream_routes/close', { desc: 'changed once' }).catch(() => 0);
        if (s !== 200) errors.push(`close route PATCH: ${s}`);
      }
    })();
    const io: CliIo = { out: () => {}, err: (t) => void errors.push(t.trim()), readStdin: async () => '', env: {} };
    const control = (async () => {
      const events: Array<['reload' | 'upgrade' | 'bad', number]> = [];
      for (let i = 0; i < o.reloads; i++) events.push(['reload', at(i, o.reloads)]);
      for (let i = 0; i < o.upgrades; i++) events.push(['upgrade', at(i, o.upgrades) + 37]);
      for (let i = 0; i < (o.badReloads ?? 0); i++) events.push(['bad', at(i, o.badReloads!) + 71]);
      events.sort((a, b) => a[1] - b[1]);
      let extra = false;
      let bads = 0;
      for (const [kind, when] of events) {
        await sleep(Math.max(0, when - Date.now()));
        if (kind === 'bad') {
          await reloadInvalid(bads++ % 2 === 0, extra);
          continue;
        }
        if (kind === 'reload') {
          extra = !extra;
          write(extra);
        }
        const code = await runCli([kind, '-c', cfg], io, { signals: false });
        if (code === 0) {
          if (kind === 'reload') result.reloadsOk++;
          else result.upgradesOk++;
        } else errors.push(`${kind}: exit ${code}`);
        const pid = readPidFile(join(dir, 'weir.pid'));
        if (pid !== null) pids.add(pid);
      }
    })();
    /** One invalid-config reload (a taken port via `weir reload`, or an unparseable file via SIGHUP), then the checks. */
    async function reloadInvalid(taken: boolean, extra: boolean): Promise<void> {
      const refusedLines = (): number => stderr().split('reload refused; the old config keeps serving').length - 1;
      const before = refusedLines();
      let refused = false;
      if (taken) {
        const blocker = net.createServer();
        await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
        write(extra, [(blocker.address() as net.AddressInfo).port]);
        const code = await runCli(['reload', '-c', cfg], { ...io, err: () => {} }, { signals: false });
        await new Promise<void>((r) => blocker.close(() => r()));
        refused = code === 2 && refusedLines() > before;
        if (!refused) errors.push(`invalid reload (port taken): exit ${code}`);
      } else {
        write(extra, ['127.0.0.1:99999']);
        const pid = readPidFile(join(dir, 'weir.pid'));
        if (pid !== null) process.kill(pid, 'SIGHUP');
        for (const until = Date.now() + 5000; Date.now() < until && refusedLines() === before; ) await sleep(50);
        refused = refusedLines() > before;
        if (!refused) errors.push('invalid reload (does not parse): no refusal logged within 5 s');
      }
      write(extra);
      if (refused) result.badReloadsRefused++;
      const served = (await shortConn(keepPort)) === null && (await accepts(extraPort)) === extra;
      if (served) result.badReloadsServedOn++;
      else errors.push(`after an invalid reload the old config did not serve on (extra listener ${extra ? 'lost' : 'appeared'} or no echo)`);
    }
    await Promise.all([changes, control]);
    await sleep(Math.max(0, endAt - Date.now()));
    running = false;
    await Promise.all([load, heartbeat]);
    result.rate = Math.round(launched / ((Date.now() - start) / 1000));
    log(`load over: ${result.shortOk} ok, ${result.shortFailedCount} failed`);

    // the long connections of the keep route must all be alive and echo
    for (const c of longs) {
      try {
        await c.beat();
      } catch {
        c.cut = true;
      }
    }
    result.longCut = longs.filter((c) => c.cut).length;
    await sleep(300);
    result.closeCut = closeLongs.filter((c) => c.cut).length;
  } finally {
    for (const c of [...longs, ...closeLongs]) c.end();
    const last = readPidFile(join(dir, 'weir.pid'));
    if (last !== null) pids.add(last);
    for (const kind of ['upgrade', 'reload'] as const) {
      const s = readStatus(db, kind);
      if (s?.newPid) pids.add(s.newPid);
    }
    if (last !== null && isRunning(last)) process.kill(last, 'SIGTERM');
    for (const until = Date.now() + 30_000; Date.now() < until && [...pids].some(isRunning); ) await sleep(100);
    result.pids = [...pids];
    result.adminRetries = adminRetries;
    result.listenOverflows = listenOverflows() - overflowsBefore;
    result.allExited = ![...pids].some(isRunning);
    for (const pid of pids) if (isRunning(pid)) process.kill(pid, 'SIGKILL');
    echo.close();
    try {
      result.routeChangedLines = readFileSync(accessLog, 'utf8')
        .split('\n')
        .filter((l) => l.includes('"end":"route_changed"')).length;
    } catch {
      // no access log: no lines
    }
    if (process.env.WEIR_SOAK_KEEP) log(`kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
  return result;
}

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.dirname, 'soak.ts')) {
  const opts: SoakOptions = {
    seconds: arg('seconds', 30),
    rate: arg('rate', 1000),
    long: arg('long', 200),
    closeLong: arg('close-long', 20),
    changes: arg('changes', 200),
    reloads: arg('reloads', 20),
    upgrades: arg('upgrades', 3),
    badReloads: arg('bad-reloads', 0),
    workers: arg('workers', 1),
    root: resolve(import.meta.dirname, '..'),
    log: (line) => console.log(line),
  };
  console.log(`soak: ${JSON.stringify({ ...opts, root: undefined, log: undefined })}`);
  runSoak(opts).then(
    (r) => {
      console.log(JSON.stringify(r, null, 2));
      const ok = r.shortFailedCount === 0 && r.longCut === 0 && r.closeCut === opts.closeLong && r.allExited && r.errors.length === 0;
      console.log(ok ? 'soak: PASS' : 'soak: FAIL');
      process.exitCode = ok ? 0 : 1;
    },
    (err: Error) => {
      console.error(err.stack);
      process.exitCode = 2;
    },
  );
}
