// R7 slowloris against a live proxy (in process): slow clients (silent, or one byte every 300 ms) on a plain
// listener (closed by the upstream idle timeout) and on a TLS passthrough listener (closed by the preread timeout),
// while real request/response traffic runs. Figures: every slow client closed by its deadline (+12.5 % sweep, +100 ms),
// real traffic 100 % ok, its p99 against the baseline, concurrency never above max_connections.
// The PROXY-protocol listener of the campaign waits for the PROXY wiring (not on main yet).

import net from 'node:net';
import { startTcpProxy } from '../../src/proxy/listener/tcp';
import { createNodeTcpDataPlane } from '../../src/runtime/tcp/node/plane';
import { buildSnapshot } from '../../src/snapshot/build';
import { AccessLog, configureErrorLog } from '../../src/log/logger';
import { FigureSheet, isMain, percentile, runAsScript, sleep, type Figures, type Size } from './harness';
import { captureClientHellos } from './r4-wire-fuzz';

const IDLE_MS = 2000;
const PREREAD_MS = 1000;

interface Slow {
  openedAt: number;
  closedAt: number;
}

function slowClient(port: number, drip: Uint8Array | null, src: string): Slow {
  const c: Slow = { openedAt: Date.now(), closedAt: 0 };
  const s = net.connect({ port, host: '127.0.0.1', localAddress: src });
  let timer: NodeJS.Timeout | null = null;
  let at = 0;
  s.on('connect', () => {
    c.openedAt = Date.now();
    if (drip !== null) timer = setInterval(() => (at < drip.length ? s.write(drip.subarray(at, ++at)) : undefined), 300);
  });
  s.on('error', () => {});
  s.resume(); // read (and drop) whatever comes back, as a real client would
  s.on('close', () => {
    c.closedAt = Date.now();
    if (timer) clearInterval(timer);
  });
  setTimeout(() => s.destroy(), 15_000).unref();
  return c;
}

/** One request/response through the proxy; resolves with the latency or -1. */
function ask(port: number): Promise<number> {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const s = net.connect(port, '127.0.0.1', () => s.write('ping'));
    s.on('data', () => {
      resolve(Number(process.hrtime.bigint() - t0) / 1e6);
      s.destroy();
    });
    s.on('error', () => resolve(-1));
    setTimeout(() => {
      s.destroy();
      resolve(-1);
    }, 3000).unref();
  });
}

async function realTraffic(port: number, ms: number): Promise<{ ok: number; failed: number; p99: number | null }> {
  const lat: number[] = [];
  let failed = 0;
  const end = Date.now() + ms;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (Date.now() < end) {
        const l = await ask(port);
        if (l < 0) failed++;
        else lat.push(l);
      }
    }),
  );
  lat.sort((a, b) => a - b);
  return { ok: lat.length, failed, p99: percentile(lat, 99) };
}

export async function runR7(size: Size, slowCount = size === 'short' ? 200 : 2000): Promise<Figures> {
  configureErrorLog({ level: 'error' });
  const sheet = new FigureSheet('R7', 'slowloris');
  const echo = net.createServer((s) => {
    s.on('error', () => {});
    s.pipe(s);
  });
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  const up = `127.0.0.1:${(echo.address() as net.AddressInfo).port}`;
  const upstream = { type: 'roundrobin', nodes: { [up]: 1 }, timeout: { connect: 1, send: IDLE_MS / 1000, read: IDLE_MS / 1000 } };
  const routes = [
    { id: 'plain', server_port: 0, upstream },
    { id: 'tls', sni: 'a.test', upstream },
  ];
  let snap = buildSnapshot({ revision: 1, streamRoutes: [], upstreams: [], ssls: [], unreadable: [] }, null).snapshot;
  const cap = slowCount + 100;
  const proxy = await startTcpProxy({
    plane: createNodeTcpDataPlane(),
    listeners: [
      { host: '127.0.0.1', port: 0, tls: false, origin: 'plain' },
      { host: '127.0.0.1', port: 0, tls: false, tlsPassthrough: true, origin: 'passthrough' },
    ],
    snapshot: () => snap,
    accessLog: new AccessLog({ disabled: true }),
    tls: { fallbackSni: null, prereadTimeoutMs: PREREAD_MS },
    maxConnections: cap,
  });
  const plain = proxy.listeners[0]!.port;
  const tlsPort = proxy.listeners[1]!.port;
  routes[0]!.server_port = plain;
  const rows = routes.map((v) => ({ id: v.id, value: v, createdIndex: 1, modifiedIndex: 1, raw: JSON.stringify(v) }));
  snap = buildSnapshot({ revision: 2, streamRoutes: rows, upstreams: [], ssls: [], unreadable: [] }, null).snapshot;
  const hello = (await captureClientHellos())[0]!;
  try {
    const base = await realTraffic(plain, 1500);
    let maxOpen = 0;
    const sampler = setInterval(() => (maxOpen = Math.max(maxOpen, proxy.activeConnections())), 20);
    const slow: Array<{ c: Slow; deadline: number; kind: string }> = [];
    const quarter = Math.floor(slowCount / 4);
    for (let i = 0; i < slowCount; i++) {
      const src = `127.3.${Math.floor(i / 250)}.${(i % 250) + 1}`;
      const kind = ['plain-silent', 'plain-drip', 'tls-silent', 'tls-drip'][Math.min(3, Math.floor(i / quarter))]!;
      const onTls = kind.startsWith('tls');
      // a drip on the plain listener is traffic: it keeps the pipe alive until the drip stops (hello length x 300 ms)
      const drip = kind.endsWith('drip') ? (onTls ? hello : hello.subarray(0, 3)) : null;
      const c = slowClient(onTls ? tlsPort : plain, drip, src);
      slow.push({ c, deadline: onTls ? PREREAD_MS : kind === 'plain-drip' ? 900 + IDLE_MS : IDLE_MS, kind });
      if (i % 100 === 99) await sleep(5);
    }
    const during = await realTraffic(plain, 1500);
    await sleep(IDLE_MS + 1500);
    clearInterval(sampler);
    let late = 0;
    let open = 0;
    let worstOver = 0;
    const openKinds: Record<string, number> = {};
    for (const { c, deadline, kind } of slow) {
      if (c.closedAt === 0) {
        open++;
        openKinds[kind] = (openKinds[kind] ?? 0) + 1;
        continue;
      }
      const over = c.closedAt - c.openedAt - deadline;
      worstOver = Math.max(worstOver, over);
      if (over > deadline * 0.125 + 100) late++;
    }
    sheet.set('slow_clients', slowCount).set('max_connections', cap);
    sheet.check('slow_still_open', open, '0', open === 0);
    if (open > 0) sheet.set('slow_still_open_kinds', JSON.stringify(openKinds));
    sheet.check('slow_closed_late', late, '0 (deadline +12.5 % +100 ms)', late === 0);
    sheet.set('slow_worst_over_deadline_ms', worstOver);
    sheet.check('max_concurrent', maxOpen, `<= ${cap}`, maxOpen <= cap);
    sheet.check('real_failed', base.failed + during.failed, '0', base.failed + during.failed === 0);
    sheet.set('real_requests', base.ok + during.ok);
    sheet.set('real_p99_base_ms', base.p99 === null ? null : Math.round(base.p99 * 10) / 10);
    sheet.set('real_p99_attack_ms', during.p99 === null ? null : Math.round(during.p99 * 10) / 10);
    const ratio = base.p99 && during.p99 ? Math.round((during.p99 / base.p99) * 100) / 100 : null;
    sheet.check('real_p99_ratio', ratio, '<= 2 (full run)', size === 'short' || (ratio !== null && ratio <= 2));
  } finally {
    await proxy.shutdown(0);
    echo.close();
  }
  return sheet.done();
}

if (isMain(import.meta.url)) {
  await runAsScript({ id: 'r7-slowloris', usage: 'R7: 2,000 slow clients on a plain and a TLS passthrough listener while real traffic runs (--short: 200).' }, runR7);
}
