// weir-only: the per-connection route match cost with 1, 1,000 and 10,000 routes, in process (run under Bun,
// the shipped runtime). Prints one JSON object: ns per selectRoute() call for each route count and layout.
// Layouts: "ports" (each route its own server_port, typical), "cidrs" (all on one port, told apart by
// remote_addr, the connection matching the last route in id order: the index's worst case).

import { buildSnapshot } from '../src/snapshot/build';
import { selectRoute } from '../src/proxy/match/route';
import type { StoredObject } from '../src/store/types';
import type { ConnInfo } from '../src/snapshot/types';

function row(i: number, value: Record<string, unknown>): StoredObject {
  const id = `r${String(i).padStart(6, '0')}`;
  const v = { id, ...value, upstream: { type: 'roundrobin', nodes: { '127.0.0.1:6379': 1 } } };
  return { id, value: v, createdIndex: i + 1, modifiedIndex: i + 1, raw: JSON.stringify(v) };
}

function layout(kind: 'ports' | 'cidrs', n: number): { rows: StoredObject[]; conn: ConnInfo } {
  const rows: StoredObject[] = [];
  for (let i = 0; i < n - 1; i++) {
    rows.push(kind === 'ports' ? row(i, { server_port: 10000 + i }) : row(i, { server_port: 9100, remote_addr: `10.${(i >> 8) & 255}.${i & 255}.0/24` }));
  }
  rows.push(row(n - 1, kind === 'ports' ? { server_port: 10000 + n - 1 } : { server_port: 9100, remote_addr: '127.0.0.0/8' }));
  const port = kind === 'ports' ? 10000 + n - 1 : 9100;
  return { rows, conn: { protocol: 'tcp', remoteAddr: '127.0.0.1', remotePort: 40000, serverAddr: '127.0.0.1', serverPort: port, sni: null } };
}

function nsPerMatch(kind: 'ports' | 'cidrs', n: number, budgetMs: number): number {
  const { rows, conn } = layout(kind, n);
  const { snapshot } = buildSnapshot({ revision: 1, streamRoutes: rows, upstreams: [], ssls: [], unreadable: [] }, null);
  const want = rows[n - 1]!.id;
  if (selectRoute(snapshot, conn)?.id !== want) throw new Error(`${kind}/${n}: matched the wrong route`);
  let calls = 0;
  const t0 = performance.now();
  // bounded by time and by count
  while (calls < 50_000_000) {
    for (let i = 0; i < 10_000; i++) selectRoute(snapshot, conn);
    calls += 10_000;
    if (performance.now() - t0 > budgetMs) break;
  }
  return +(((performance.now() - t0) * 1e6) / calls).toFixed(1);
}

const budget = Number(process.argv[2] ?? 300);
const out: Record<string, number> = {};
for (const n of [1, 1000, 10000]) for (const kind of ['ports', 'cidrs'] as const) out[`${kind}_${n}_ns`] = nsPerMatch(kind, n, budget);
console.log(JSON.stringify(out));
