// R10 memory under backpressure: a child weir; first idle connections (RSS per idle connection), then fast senders
// against an upstream that reads 10 KiB/s per connection. Reads must pause on the high-water mark, so weir's RSS
// grows by at most 64 KiB per slow connection and stays flat while the senders keep pushing.

import net from 'node:net';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { freePort } from '../helpers/net';
import { FigureSheet, isMain, rssKiB, runAsScript, sleep, type Figures, type Size } from './harness';
import { adminPut, startChild, waitServing, writeConfig } from './proc';

/** Sum of Recv-Q + Send-Q of established TCP sockets with one end on one of `ports` (kernel buffers, via ss). */
function kernelQueued(ports: number[]): number | null {
  const filter = ports.map((p) => `sport = :${p} or dport = :${p}`).join(' or ');
  const r = spawnSync('ss', ['-tnH', 'state', 'established', `( ${filter} )`], { encoding: 'utf8' });
  if (r.status !== 0) return null;
  let sum = 0;
  for (const line of r.stdout.split('\n')) {
    const [recv, send] = line.trim().split(/\s+/);
    if (recv !== undefined && send !== undefined) sum += Number(recv) + Number(send);
  }
  return sum;
}

export async function runR10(size: Size, counts = size === 'short' ? { idle: 300, senders: 50, seconds: 6 } : { idle: 5000, senders: 200, seconds: 60 }): Promise<Figures> {
  const sheet = new FigureSheet('R10', 'backpressure memory');
  // the slow upstream: reads 10 KiB per second per connection
  const upSocks = new Set<net.Socket>();
  let upReceived = 0;
  const slowUp = net.createServer((s) => {
    upSocks.add(s);
    s.on('error', () => {});
    s.pause();
    const t = setInterval(() => {
      let budget = 10 * 1024;
      let chunk: Buffer | null;
      while (budget > 0 && (chunk = s.read(Math.min(budget, s.readableLength || budget)) as Buffer | null) !== null) {
        budget -= chunk.length;
        upReceived += chunk.length;
      }
    }, 1000);
    s.on('close', () => {
      clearInterval(t);
      upSocks.delete(s);
    });
  });
  await new Promise<void>((r) => slowUp.listen(0, '127.0.0.1', r));
  const idleUp = net.createServer((s) => s.on('error', () => {}));
  await new Promise<void>((r) => idleUp.listen(0, '127.0.0.1', r));
  const dir = mkdtempSync(join(tmpdir(), 'weir-r10-'));
  const clients: net.Socket[] = [];
  const adminPort = await freePort();
  const idlePort = await freePort();
  const slowPort = await freePort();
  const child = startChild(writeConfig(dir, { tcp: [`"127.0.0.1:${idlePort}"`, `"127.0.0.1:${slowPort}"`], adminPort, streamExtra: ['max_connections: 20000'] }), 20000);
  try {
    if ((await waitServing(child, adminPort)) === null) throw new Error(`weir did not start: ${child.stderr()}`);
    await adminPut(adminPort, '/apisix/admin/stream_routes/idle', { server_port: idlePort, upstream: { type: 'roundrobin', nodes: { [`127.0.0.1:${(idleUp.address() as net.AddressInfo).port}`]: 1 } } });
    await adminPut(adminPort, '/apisix/admin/stream_routes/slow', { server_port: slowPort, upstream: { type: 'roundrobin', nodes: { [`127.0.0.1:${(slowUp.address() as net.AddressInfo).port}`]: 1 } } });
    await sleep(1500); // start-up memory released (RELEASE_AFTER_MS)
    const rssStart = rssKiB(child.pid)!;
    for (let i = 0; i < counts.idle; i++) {
      const s = net.connect(idlePort, '127.0.0.1', () => s.write('x'));
      s.on('error', () => {});
      clients.push(s);
      if (i % 200 === 199) await sleep(20);
    }
    await sleep(1500);
    const rssIdle = rssKiB(child.pid)!;
    const perIdle = Math.round(((rssIdle - rssStart) / counts.idle) * 10) / 10;
    // fast senders: write 64 KiB chunks whenever the socket drains, for the whole run
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    let pushing = true;
    let written = 0;
    for (let i = 0; i < counts.senders; i++) {
      const s = net.connect(slowPort, '127.0.0.1');
      s.on('error', () => {});
      const push = (): void => {
        while (pushing && s.write(chunk)) written += chunk.length;
        if (pushing) written += chunk.length;
      };
      s.on('connect', push);
      s.on('drain', push);
      clients.push(s);
    }
    const samples: number[] = [];
    for (let t = 0; t < counts.seconds; t++) {
      await sleep(1000);
      samples.push(rssKiB(child.pid)!);
    }
    // bytes inside weir = what the clients handed to the kernel - what the upstream app holds or read - kernel queues
    const slowUpPort = (slowUp.address() as net.AddressInfo).port;
    const senders = clients.slice(counts.idle);
    const handed = senders.reduce((n, s) => n + s.bytesWritten - s.writableLength, 0);
    const upHeld = [...upSocks].reduce((n, s) => n + s.readableLength, 0);
    const queued = kernelQueued([slowPort, slowUpPort]);
    const inWeir = queued === null ? null : handed - upReceived - upHeld - queued;
    const perConnBuffered = inWeir === null ? null : Math.round(inWeir / counts.senders / 102.4) / 10;
    pushing = false;
    const settled = samples.slice(Math.floor(samples.length / 3)); // after the buffers filled up
    const growth = Math.max(...samples) - rssIdle;
    const perSlowKiB = Math.round((growth / counts.senders) * 10) / 10;
    const drift = Math.round(((settled[settled.length - 1]! - settled[0]!) / settled[0]!) * 1000) / 10;
    sheet.set('idle_connections', counts.idle).set('rss_start_MiB', Math.round(rssStart / 1024));
    sheet.set('rss_per_idle_conn_KiB', perIdle);
    sheet.set('senders', counts.senders).set('seconds', counts.seconds).set('client_bytes_written_MiB', Math.round(written / 1048576));
    sheet.set('upstream_received_KiB', Math.round(upReceived / 1024));
    sheet.check('buffered_in_weir_per_slow_conn_KiB', perConnBuffered, '<= 64', perConnBuffered !== null && perConnBuffered <= 64);
    sheet.set('kernel_queued_MiB', queued === null ? null : Math.round(queued / 1048576));
    // RSS counts freed-but-not-yet-collected read buffers too: reported, and checked for growth only
    sheet.set('rss_growth_per_slow_conn_KiB', perSlowKiB);
    sheet.check('rss_drift_pct', drift, '<= +5 (not growing, after the buffers filled)', drift <= 5);
    const alive = child.child.exitCode === null;
    sheet.check('alive', alive, 'true', alive);
  } finally {
    for (const s of clients) s.destroy();
    await child.stop();
    for (const s of upSocks) s.destroy();
    slowUp.close();
    idleUp.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return sheet.done();
}

if (isMain(import.meta.url)) {
  await runAsScript({ id: 'r10-backpressure', usage: 'R10: 5,000 idle connections, then 200 fast senders to a 10 KiB/s upstream for 60 s (--short: 300 / 50 / 6 s).' }, runR10);
}
