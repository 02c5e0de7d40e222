// Cost per datagram of the UDP paths a worker can use, measured the way `npm run bench` measures its `udp` row
// (dnsperf -c 8 -q 256 on the load core against loadgen dnsecho, the proxy pinned to the other core, its CPU time
// divided by the queries answered; each query is two datagrams through the proxy):
//   native            Bun.udpSocket, one process (what worker_processes: 1 uses)
//   native-reuseport  the same with the SO_REUSEPORT flag (what every worker uses when worker_processes > 1)
//   dgram-reuseport   Bun's node:dgram with reusePort (the path the issue proposed for workers)
// tsx bench/udp-planes.ts [--reps 5] [--seconds 3]      needs gcc, libssl-dev, dnsperf (see bench/README.md)

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildLoadgen, writeQueries } from './setup';
import { cpuSplit, sleep, startPinned, stop, stopAll } from './proc';
import { udp, type RunSettings } from './workloads';

const VARIANTS = ['native', 'native-reuseport', 'dgram-reuseport'] as const;
const root = resolve(import.meta.dirname, '..');
const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const reps = arg('reps', 5);
const seconds = arg('seconds', 3);
const [LOAD, PROXY] = [Number(process.env.LOAD_CPU ?? 0), Number(process.env.PROXY_CPU ?? 1)];
const [UPSTREAM, LISTEN] = [24353, 24354];

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'weir-udp-planes-'));
  try {
    const loadgen = buildLoadgen(root, work);
    const settings: RunSettings = { loadCpu: LOAD, durS: seconds, rrN: 0, connN: 0, idleConns: 0, loadgen, queries: writeQueries(work), logs: work };
    startPinned('dnsecho', LOAD, [loadgen, 'dnsecho', String(UPSTREAM), '900'], join(work, 'dnsecho.log'));
    await sleep(300);
    const samples: Record<string, Array<{ qps: number; us: number; usr: number; lost: number }>> = {};
    for (let rep = 0; rep < reps; rep++) {
      const order = VARIANTS.map((_, i) => VARIANTS[(i + rep) % VARIANTS.length]!);
      for (const variant of order) {
        const proxy = startPinned(variant, PROXY, [join(root, 'node_modules/.bin/bun'), join(root, 'bench/udp-plane-proxy.ts'), variant, String(LISTEN), String(UPSTREAM)], join(work, `${variant}.log`));
        await sleep(700);
        const before = cpuSplit(proxy.pid);
        const m = await udp(settings, LISTEN);
        const after = cpuSplit(proxy.pid);
        await stop(proxy);
        const us = ((after.total - before.total) * 1e6) / m.ops!;
        const usr = ((after.user - before.user) * 1e6) / m.ops!;
        (samples[variant] ??= []).push({ qps: m.qps!, us, usr, lost: m.lost_pct! });
        console.log(`rep ${rep + 1} ${variant.padEnd(17)} ${Math.round(m.qps!)} q/s  ${us.toFixed(2)} µs/query (user ${usr.toFixed(2)})  lost ${m.lost_pct}%`);
      }
    }
    console.log('\nmedians over', reps, 'repetitions (a query = 2 datagrams through the proxy):');
    console.log('| path | queries/s | CPU µs per query | user µs per query |');
    console.log('|---|---|---|---|');
    for (const v of VARIANTS) {
      const s = samples[v]!;
      console.log(`| ${v} | ${Math.round(median(s.map((x) => x.qps)))} | ${median(s.map((x) => x.us)).toFixed(2)} | ${median(s.map((x) => x.usr)).toFixed(2)} |`);
    }
  } finally {
    await stopAll();
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: Error) => {
  console.error(err.stack);
  process.exitCode = 1;
});
