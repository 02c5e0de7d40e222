// weir-only: what a route's plugins cost per connection, in process (run under Bun, the shipped runtime). Prints
// one JSON object: ns per connection for the filters phase (access + log, on a real TcpSession) of a route
// without plugins (one length check) and of one with ip-restriction + limit-conn (bench's weirp route).

import { buildChain, runAccess, runLog } from '../src/proxy/filter/chain';
import { type FilterChain, NO_FILTERS } from '../src/proxy/filter/types';
import { ipRestriction } from '../src/plugins/ip-restriction';
import { limitConn } from '../src/plugins/limit-conn';
import { LocalConnCounters } from '../src/plugins/conn-counters';
import { TcpSession, type DialOutcome, type PrereadPort } from '../src/proxy/session/tcp-session';
import type { InboundConn } from '../src/runtime/types';
import type { CompiledRoute } from '../src/snapshot/types';
import type { PluginCompileContext } from '../src/plugins/types';

const client: InboundConn = { remoteAddress: '127.0.0.1', remotePort: 40000, localAddress: '127.0.0.1', localPort: 9100 };
const outcome: DialOutcome & PrereadPort = { onDialed: () => {}, onDialFailed: () => {}, prereadClient: () => {} };
const counters = new LocalConnCounters();
const ctx = {
  routeKey: '/apisix/stream_routes/2', routeId: '2', route: {}, upstreamById: () => null, compileUpstream: () => null,
  metadata: () => null, attr: () => null, counters, metrics: null, problem: () => {},
} as PluginCompileContext;
const withPlugins = buildChain([
  ipRestriction.compile({ whitelist: ['127.0.0.0/8', '::1'] }, ctx),
  limitConn.compile({ conn: 1_000_000, burst: 0, default_conn_delay: 1, key: 'remote_addr' }, ctx),
]);

let admitted = 0;
const done = (v: unknown): void => {
  if (v === undefined) admitted++;
};

/** One connection's filters phase as the TCP flow runs it: a length check, else access, then log. */
function connection(chain: FilterChain): void {
  const route: CompiledRoute = { id: '2', key: '/apisix/stream_routes/2', upstream: null, problem: null, filters: chain };
  const s = new TcpSession(outcome, client, 0);
  s.matched = route;
  if (chain.access.length === 0) return done(undefined);
  runAccess(chain, s, done);
  if (chain.log.length !== 0) runLog(chain, { conn: s, info: s, route, node: null, startedAt: 0, bytesFromClient: 0, bytesToClient: 0, end: 'closed' });
}

function nsPerConnection(chain: FilterChain, budgetMs: number): number {
  let calls = 0;
  const t0 = performance.now();
  while (calls < 50_000_000) {
    for (let i = 0; i < 10_000; i++) connection(chain);
    calls += 10_000;
    if (performance.now() - t0 > budgetMs) break;
  }
  return +(((performance.now() - t0) * 1e6) / calls).toFixed(1);
}

const budget = Number(process.argv[2] ?? 300);
// warm both paths up first, then measure each twice and keep the lower (less disturbed) figure
nsPerConnection(NO_FILTERS, budget / 3);
nsPerConnection(withPlugins, budget / 3);
const plain = Math.min(nsPerConnection(NO_FILTERS, budget), nsPerConnection(NO_FILTERS, budget));
const plugins = Math.min(nsPerConnection(withPlugins, budget), nsPerConnection(withPlugins, budget));
if (counters.size !== 0 || admitted === 0) throw new Error('limit-conn did not count every connection out');
console.log(JSON.stringify({ filters_none_ns: plain, filters_ip_restriction_limit_conn_ns: plugins }));
