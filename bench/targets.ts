// The proxies under test: equivalent nginx, HAProxy and weir configs, the bare Bun-native reference, and
// how each is started (pinned to the proxy core) and, for weir, given its routes through the Admin API.

import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Started, startPinned, waitTcp, sleep } from './proc';

/** Upstream servers, shared by every target except redis (one per target, see ports()). */
// All below 32768, the start of the kernel's ephemeral range, so no outgoing connection of anyone else takes them.
export const UP = { iperf: 22201, udp: 22353, echo: 22400, tlsSink: 22410, pong: 22420, pongPp: 22421, redisBase: 22300, admin: 22180 } as const;
export const ADMIN_KEY = 'b3e1c2d4f5a6978812345678deadbeef';

export type Kind = 'iperf' | 'redis' | 'udp' | 'tls' | 'tlsbulk' | 'idle' | 'pconn' | 'ppconn';
export const TARGETS = ['direct', 'nginx', 'haproxy', 'bunnative', 'weir', 'weir2', 'weirb', 'weirp'] as const;
export type Target = (typeof TARGETS)[number];

/**
 * Listener ports of target i: base+1 iperf3, +2 redis, +3 udp, +4 tls (also tlsbulk: the same terminating
 * listener, its echo upstream turns sink), +5 idle (echo upstream), +6 pconn and +7 ppconn (weir only: a plain
 * listener to `loadgen pongserve`, and a proxy_protocol one to a pongserve that expects v2, through an upstream
 * with proxy_protocol v2). Direct has no TLS echo server; for tlsbulk it is `loadgen tlssink`, a TLS server that
 * terminates and discards; for pconn/ppconn it is the pongserve itself.
 */
export function ports(target: Target, index: number): Record<Kind, number | null> {
  if (target === 'direct') {
    return { iperf: UP.iperf, redis: UP.redisBase + index, udp: UP.udp, tls: null, tlsbulk: UP.tlsSink, idle: null, pconn: UP.pong, ppconn: UP.pongPp };
  }
  const b = 23000 + 100 * index;
  const weir = target.startsWith('weir');
  return { iperf: b + 1, redis: b + 2, udp: target === 'haproxy' ? null : b + 3, tls: b + 4, tlsbulk: b + 4, idle: b + 5, pconn: weir ? b + 6 : null, ppconn: weir ? b + 7 : null };
}

export interface Ctx {
  work: string;
  logs: string;
  proxyCpu: number;
  root: string;
  bun: string;
  /** --src: run weir from the sources under Bun even when dist/weir exists (development). */
  fromSource: boolean;
}

function nginxConf(ctx: Ctx, p: Record<Kind, number | null>, redis: number): string {
  return `load_module /usr/lib/nginx/modules/ngx_stream_module.so;
daemon off; master_process on; worker_processes 1; pid ${ctx.work}/nginx.pid;
error_log ${ctx.logs}/nginx-error.log warn;
worker_rlimit_nofile 19900;
events { worker_connections 19800; use epoll; }
stream {
  access_log off;
  server { listen 127.0.0.1:${p.iperf} backlog=4096; proxy_pass 127.0.0.1:${UP.iperf}; }
  server { listen 127.0.0.1:${p.redis} backlog=4096; proxy_pass 127.0.0.1:${redis}; }
  server { listen 127.0.0.1:${p.udp} udp; proxy_pass 127.0.0.1:${UP.udp}; }
  server { listen 127.0.0.1:${p.tls} ssl backlog=4096; ssl_protocols TLSv1.2 TLSv1.3;
           ssl_certificate ${ctx.work}/cert.pem; ssl_certificate_key ${ctx.work}/key.pem; proxy_pass 127.0.0.1:${UP.echo}; }
  server { listen 127.0.0.1:${p.idle} backlog=4096; proxy_pass 127.0.0.1:${UP.echo}; }
}
`;
}

function haproxyConf(ctx: Ctx, p: Record<Kind, number | null>, redis: number): string {
  const listen = (name: string, port: number | null, up: number, extra = ''): string =>
    `listen ${name}\n  bind 127.0.0.1:${port}${extra}\n  server s1 127.0.0.1:${up}\n`;
  return `global
  maxconn 9800
  nbthread 1
defaults
  mode tcp
  maxconn 9800
  timeout connect 5s
  timeout client 120s
  timeout server 120s
${listen('iperf', p.iperf, UP.iperf)}${listen('redis', p.redis, redis)}${listen('tls', p.tls, UP.echo, ` ssl crt ${ctx.work}/combined.pem`)}${listen('idle', p.idle, UP.echo)}`;
}

function weirConf(ctx: Ctx, name: string, p: Record<Kind, number | null>, workers: number): string {
  return `apisix:
  enable_admin: true
  stream_proxy:
    tcp:
      - "127.0.0.1:${p.iperf}"
      - "127.0.0.1:${p.redis}"
      - addr: "127.0.0.1:${p.tls}"
        tls: true
      - "127.0.0.1:${p.idle}"
      - "127.0.0.1:${p.pconn}"
      - addr: "127.0.0.1:${p.ppconn}"
        proxy_protocol: true
    udp:
      - "127.0.0.1:${p.udp}"
${name === 'weirp' ? pluginsConf(adminPortOf(name) + 100) : ''}nginx_config:
  worker_processes: ${workers}
  stream:
    access_log: ${ctx.work}/${name}-access.log
deployment:
  admin:
    admin_key:
      - { name: admin, key: ${ADMIN_KEY}, role: admin }
    admin_listen: { ip: 127.0.0.1, port: ${adminPortOf(name)} }
    allow_admin: [127.0.0.0/24]
  sqlite:
    path: ${ctx.work}/${name}.db
`;
}

/** Admin port of a weir target (each runs its own Admin API). */
function adminPortOf(name: string): number {
  return UP.admin + (name === 'weir2' ? 1 : name === 'weirb' ? 2 : name === 'weirp' ? 3 : 0);
}

/**
 * weirp: the same weir, its redis route (rr and conn) carrying ip-restriction (the client's 127.0.0.0/8 allowed,
 * so every connection runs the check and passes), limit-conn (a limit no run reaches: every connection is
 * counted in and out) and prometheus (the export server runs; the route's connections and bytes are counted).
 * Issue 13's bar: at least 0.95x the rate of plain weir in the same run.
 */
const BENCH_PLUGINS = {
  'ip-restriction': { whitelist: ['127.0.0.0/8', '::1'] },
  'limit-conn': { conn: 1_000_000, burst: 0, default_conn_delay: 1, key: 'remote_addr' },
  prometheus: {},
};

/** weirp's config: prometheus listed (so its export server runs and the route's connections are counted). */
function pluginsConf(exportPort: number): string {
  return `stream_plugins: [ip-restriction, limit-conn, prometheus]
plugin_attr:
  prometheus:
    export_addr: { ip: 127.0.0.1, port: ${exportPort} }
`;
}

/**
 * How weir is run: the built single binary when there is one, else Bun on the sources. `weirb` (A/B runs)
 * is always Bun on the sources under $WEIR_B_ROOT: a copy of the tree before a change, measured in the same run.
 */
export function weirCommand(ctx: Ctx, target = 'weir'): string[] {
  if (target === 'weirb') {
    const bRoot = process.env.WEIR_B_ROOT;
    if (!bRoot) throw new Error('weirb: set WEIR_B_ROOT to the source tree to compare with');
    return [ctx.bun, resolve(bRoot, 'src/main.ts')];
  }
  const bin = resolve(ctx.root, 'dist/weir');
  if (existsSync(bin) && !ctx.fromSource) return [bin];
  return [ctx.bun, resolve(ctx.root, 'src/main.ts')];
}

async function adminPut(port: number, path: string, body: unknown): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${port}/apisix/admin/${path}`, {
    method: 'PUT',
    headers: { 'X-API-KEY': ADMIN_KEY, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (res.status >= 300) throw new Error(`PUT ${path}: ${res.status} ${(await res.text()).slice(0, 300)}`);
}

export async function waitAdmin(port: number, timeoutMs: number): Promise<boolean> {
  for (const until = Date.now() + timeoutMs; Date.now() < until; await sleep(50)) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/apisix/admin/stream_routes`, { headers: { 'X-API-KEY': ADMIN_KEY } });
      if (r.status === 200) return true;
    } catch {
      /* not up yet */
    }
  }
  return false;
}

/** Start one proxy target (not direct). Resolves once it carries traffic on its redis port. */
export async function startTarget(ctx: Ctx, target: Target, index: number): Promise<Started> {
  const p = ports(target, index);
  const redis = UP.redisBase + index;
  const log = join(ctx.logs, `${target}.log`);
  let s: Started;
  if (target === 'nginx') {
    writeFileSync(join(ctx.work, 'nginx.conf'), nginxConf(ctx, p, redis));
    s = startPinned(target, ctx.proxyCpu, ['nginx', '-p', ctx.work, '-c', join(ctx.work, 'nginx.conf')], log);
  } else if (target === 'haproxy') {
    writeFileSync(join(ctx.work, 'haproxy.cfg'), haproxyConf(ctx, p, redis));
    s = startPinned(target, ctx.proxyCpu, ['haproxy', '-db', '-f', join(ctx.work, 'haproxy.cfg')], log);
  } else if (target === 'bunnative') {
    const specs = [`tcp:${p.iperf}:${UP.iperf}`, `tcp:${p.redis}:${redis}`, `udp:${p.udp}:${UP.udp}`,
      `tls:${p.tls}:${UP.echo}:${ctx.work}/cert.pem:${ctx.work}/key.pem`, `tcp:${p.idle}:${UP.echo}`];
    s = startPinned(target, ctx.proxyCpu, [ctx.bun, join(ctx.root, 'bench/bunnative.js'), ...specs], log);
  } else {
    const workers = target === 'weir2' ? 2 : 1;
    const adminPort = adminPortOf(target);
    rmSync(join(ctx.work, `${target}.db`), { force: true });
    writeFileSync(join(ctx.work, `${target}.yaml`), weirConf(ctx, target, p, workers));
    s = startPinned(target, ctx.proxyCpu, [...weirCommand(ctx, target), 'start', '-c', join(ctx.work, `${target}.yaml`)], log, { cwd: ctx.root });
    if (!(await waitAdmin(adminPort, 20_000))) throw new Error(`${target}: Admin API never answered (see ${log})`);
    const cert = readFileSync(join(ctx.work, 'cert.pem'), 'utf8');
    const key = readFileSync(join(ctx.work, 'key.pem'), 'utf8');
    await adminPut(adminPort, 'ssls/1', { cert, key, snis: ['perf.test'] }).catch((e: Error) => console.error(`  ${target}: ${e.message}`));
    const routes: Array<[number | null, number]> = [[p.iperf, UP.iperf], [p.redis, redis], [p.udp, UP.udp], [p.tls, UP.echo], [p.idle, UP.echo], [p.pconn, UP.pong]];
    for (const [i, [port, up]] of routes.entries()) {
      await adminPut(adminPort, `stream_routes/${i + 1}`, {
        server_port: port,
        upstream: { type: 'roundrobin', nodes: { [`127.0.0.1:${up}`]: 1 } },
        ...(target === 'weirp' && port === p.redis ? { plugins: BENCH_PLUGINS } : {}),
      });
    }
    // v2 in (the listener) and v2 out (the upstream): the PROXY protocol cost, against route 6. A tree from
    // before PROXY protocol (weirb) refuses the field: its ppconn row then fails, the rest runs.
    await adminPut(adminPort, 'stream_routes/7', {
      server_port: p.ppconn,
      upstream: { type: 'roundrobin', nodes: { [`127.0.0.1:${UP.pongPp}`]: 1 }, proxy_protocol: { version: 2 } },
    }).catch((e: Error) => console.error(`  ${target}: ${e.message}`));
  }
  if (!(await waitTcp(p.redis!, 20_000))) throw new Error(`${target}: port ${p.redis} never opened (see ${log})`);
  return s;
}
