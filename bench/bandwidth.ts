// limit-bandwidth's accuracy: one upload through weir at 1 MiB/s .. 1 GiB/s, each measured over 5 s after a 1 s
// warm-up (so the burst is spent), as the share of the configured rate the upstream received; and the same
// upload without a limit, the ceiling of this box.

import { connect, createServer, type Server } from 'node:net';
import { ADMIN_KEY } from './targets';
import { sleep } from './proc';

export const RATES: ReadonlyArray<[label: string, bytesPerSecond: number]> = [['1MiB', 1 << 20], ['100MiB', 100 << 20], ['400MiB', 400 << 20], ['1GiB', 1 << 30]];
const WARMUP_MS = 1000;
const WINDOW_MS = 5000;

/** A sink that counts what it reads. */
function sink(port: number): Promise<{ server: Server; bytes: () => number }> {
  let n = 0;
  const server = createServer((s) => {
    s.on('error', () => {});
    s.on('data', (d: Buffer) => (n += d.length));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve({ server, bytes: () => n }));
  });
}

/**
 * Measured rate / configured rate for each of RATES, through weir's `listen` port (route `routeId` is replaced),
 * and what the same upload reaches without a limit (`upload_unlimited_MiB_s`): a configured rate above that
 * cannot be reached on this box, whatever the throttle does.
 */
export async function bandwidthAccuracy(admin: number, listen: number, upPort: number, routeId: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const up = await sink(upPort);
  try {
    for (const [label, rate] of [...RATES, ['unlimited', 0] as const]) {
      const plugins = rate === 0 ? {} : { 'limit-bandwidth': { rate, burst: Math.max(65536, Math.floor(rate / 10)), direction: 'upload' } };
      const res = await fetch(`http://127.0.0.1:${admin}/apisix/admin/stream_routes/${routeId}`, {
        method: 'PUT',
        headers: { 'X-API-KEY': ADMIN_KEY },
        body: JSON.stringify({ server_port: listen, plugins, upstream: { type: 'roundrobin', nodes: { [`127.0.0.1:${upPort}`]: 1 } } }),
      });
      await res.text();
      if (res.status >= 300) throw new Error(`PUT route: ${res.status}`);
      await sleep(300);
      const c = connect(listen, '127.0.0.1');
      c.on('error', () => {});
      const chunk = Buffer.alloc(256 * 1024, 97);
      const more = (): void => {
        while (!c.destroyed && c.write(chunk));
        if (!c.destroyed) c.once('drain', more);
      };
      c.once('connect', more);
      await sleep(WARMUP_MS);
      const b0 = up.bytes();
      const t0 = performance.now();
      await sleep(WINDOW_MS);
      const got = up.bytes() - b0;
      const ms = performance.now() - t0;
      c.destroy();
      const bytesPerSecond = (got * 1000) / ms;
      if (rate === 0) out.upload_unlimited_MiB_s = Math.round(bytesPerSecond / (1 << 20));
      else out[`limit_bandwidth_${label}_of_rate`] = +(bytesPerSecond / rate).toFixed(3);
      await sleep(200);
    }
  } finally {
    up.server.close();
  }
  return out;
}
