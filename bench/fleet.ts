// Fleet scale (issue 18), with a real etcd: (1) a data plane's cold start from an empty SQLite file with N stream
// routes (and N upstreams) in etcd, until a connection through the last route works; (2) one change in etcd until
// every one of P data planes serves it. All on 127.0.0.1; etcd in a temp dir, killed by pid at the end.
//
//   npx tsx bench/fleet.ts [--routes 10000] [--planes 3] [--changes 5]
// Prints one JSON line per figure and a summary table; needs etcd and etcdctl (Debian etcd-server, etcd-client).

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startWeir, type Weir } from '../src/cli/start';
import { AccessLog, configureErrorLog } from '../src/log/logger';
import { EtcdClient } from '../src/fleet/etcd-client';
import { encodeBase64 } from '../src/fleet/gateway';
import { loadHttpClient } from '../src/runtime/index';
import { startEtcd } from '../test/helpers/etcd';
import { exchange, freePort, startEchoServer } from '../test/helpers/net';
import { tempDir } from '../test/helpers/weir';

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  if (i < 0) return fallback;
  const n = Number(process.argv[i + 1]);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`${name} needs a positive integer`);
    process.exit(2);
  }
  return n;
}
if (process.argv.includes('--help') || process.argv.includes('-h')) {
  console.log('usage: npx tsx bench/fleet.ts [--routes N (10000)] [--planes P (3)] [--changes C (5)]');
  process.exit(0);
}
const ROUTES = option('--routes', 10000);
const PLANES = option('--planes', 3);
const CHANGES = option('--changes', 5);
const TXN_OPS = 100; // etcd's --max-txn-ops is 128

configureErrorLog({ level: 'warn' });
const dir = tempDir('weir-bench-fleet-');
const etcd = await startEtcd(dir.path);
const echoA = await startEchoServer('A:');
const echoB = await startEchoServer('B:');
const planes: Weir[] = [];

async function reaches(port: number, tag: string): Promise<boolean> {
  const { data } = await exchange(port, 'ping', { timeoutMs: 1000 });
  return data.toString() === `${tag}ping`;
}

async function until(cond: () => Promise<boolean>, limitMs: number): Promise<number> {
  const t0 = performance.now();
  while (!(await cond())) {
    if (performance.now() - t0 > limitMs) throw new Error(`not within ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return performance.now() - t0;
}

async function startPlane(i: number): Promise<{ weir: Weir; port: number }> {
  const port = await freePort();
  const planeDir = join(dir.path, `plane${i}`);
  const { mkdirSync } = await import('node:fs');
  mkdirSync(planeDir);
  const config = join(planeDir, 'config.yaml');
  writeFileSync(config, [
    'apisix:',
    `  stream_proxy: {tcp: ["127.0.0.1:${port}"]}`,
    'deployment:',
    '  role: data_plane',
    '  role_data_plane: {config_provider: etcd}',
    `  etcd: {host: ["${etcd.url}"], prefix: /apisix}`,
    `  admin: {admin_listen: {ip: 127.0.0.1, port: ${await freePort()}}, admin_key_required: false}`,
    `  sqlite: {path: ${JSON.stringify(join(planeDir, 'weir.db'))}}`,
    'nginx_config: {stream: {enable_access_log: false}}',
  ].join('\n'));
  const weir = await startWeir({ configPath: config, accessLog: new AccessLog({ disabled: true }) });
  planes.push(weir);
  return { weir, port };
}

try {
  // fill etcd: N upstreams and N routes; only the last route (byte order) matches the listeners, so a working
  // connection proves that every route was loaded and compiled
  const client = new EtcdClient({ endpoints: [etcd.url], timeoutMs: 30000, http: await loadHttpClient() });
  const t0 = performance.now();
  const puts: Array<[string, string]> = [];
  for (let i = 0; i < ROUTES; i++) {
    const id = String(i).padStart(6, '0');
    const last = i === ROUTES - 1;
    puts.push([`/apisix/upstreams/${id}`, JSON.stringify({ nodes: { [`127.0.0.1:${echoA.port}`]: 1 }, type: 'roundrobin' })]);
    puts.push([`/apisix/stream_routes/${id}`, JSON.stringify(last ? { upstream_id: id } : { upstream_id: id, server_port: 1 + (i % 1000) })]);
  }
  for (let i = 0; i < puts.length; i += TXN_OPS) {
    const success = puts.slice(i, i + TXN_OPS).map(([k, v]) => ({ request_put: { key: encodeBase64(k), value: encodeBase64(v) } }));
    await client.call('/v3/kv/txn', JSON.stringify({ success }));
  }
  const fillMs = performance.now() - t0;
  console.log(JSON.stringify({ figure: 'fill', routes: ROUTES, keys: puts.length, ms: Math.round(fillMs) }));

  // (1) cold start from an empty SQLite file
  const c0 = performance.now();
  const first = await startPlane(0);
  const lastId = String(ROUTES - 1).padStart(6, '0');
  const coldMs = (performance.now() - c0) + (await until(() => reaches(first.port, 'A:'), 60000));
  console.log(JSON.stringify({ figure: 'cold_start', routes: ROUTES, ms: Math.round(coldMs), target_ms: 3000 }));

  // (2) one change to every data plane
  const all = [first];
  for (let i = 1; i < PLANES; i++) all.push(await startPlane(i));
  for (const p of all) await until(() => reaches(p.port, 'A:'), 60000);
  const spreads: number[] = [];
  for (let c = 0; c < CHANGES; c++) {
    const tag = c % 2 === 0 ? 'B:' : 'A:';
    const port = c % 2 === 0 ? echoB.port : echoA.port;
    const s0 = performance.now();
    await client.put(`/apisix/upstreams/${lastId}`, JSON.stringify({ nodes: { [`127.0.0.1:${port}`]: 1 }, type: 'roundrobin' }));
    await Promise.all(all.map((p) => until(() => reaches(p.port, tag), 10000)));
    const slowest = performance.now() - s0; // from the put's request to the last plane serving it
    spreads.push(slowest);
    console.log(JSON.stringify({ figure: 'change_to_all', planes: all.length, ms: Math.round(slowest), target_ms: 1000 }));
  }
  spreads.sort((a, b) => a - b);
  console.log(`\n| figure | value | target |\n|---|---|---|`);
  console.log(`| fill etcd with ${ROUTES} routes + ${ROUTES} upstreams (txn of ${TXN_OPS}) | ${Math.round(fillMs)} ms | - |`);
  console.log(`| cold start, empty SQLite, until the last route serves | ${Math.round(coldMs)} ms | < 3000 ms |`);
  console.log(`| one change until all ${all.length} data planes serve it (median / worst of ${CHANGES}) | ${Math.round(spreads[Math.floor(spreads.length / 2)]!)} / ${Math.round(spreads[spreads.length - 1]!)} ms | < 1000 ms |`);
} finally {
  for (const p of planes) await p.stop(0);
  etcd.kill();
  await echoA.close();
  await echoB.close();
  dir.remove();
}
