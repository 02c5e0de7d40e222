// The measured workloads. Each runs its client pinned to the load core, bounded in time, and returns plain
// metrics with `ops` (units of work done) so the runner can divide the proxy's CPU time by it.

import { connect } from 'node:net';
import { readFileSync } from 'node:fs';
import { anonKib, runPinned, rssKib, sleep, startPinned, stop } from './proc';

export type Metrics = Record<string, number>;
export type Workload = 'mem' | 'bulk1' | 'bulk8' | 'rr' | 'conn' | 'pconn' | 'ppconn' | 'udp' | 'tls' | 'tlsbulk1' | 'tlsbulk8';
export const WORKLOADS: readonly Workload[] = ['mem', 'bulk1', 'bulk8', 'rr', 'conn', 'pconn', 'ppconn', 'udp', 'tls', 'tlsbulk1', 'tlsbulk8'];

export interface RunSettings {
  loadCpu: number;
  durS: number;
  rrN: number;
  connN: number;
  idleConns: number;
  loadgen: string;
  queries: string;
  logs: string;
}

/** The main metric of a workload and whether higher is better; ops unit for CPU per unit. */
export const MAIN: Record<Workload, { metric: string; unit: string; higher: boolean; per: string; title: string }> = {
  bulk1: { metric: 'gbps', unit: 'Gbit/s', higher: true, per: 'MB', title: 'bulk TCP, 1 conn (iperf3 -P 1)' },
  bulk8: { metric: 'gbps', unit: 'Gbit/s', higher: true, per: 'MB', title: 'bulk TCP, 8 conns (iperf3 -P 8)' },
  rr: { metric: 'rps', unit: 'req/s', higher: true, per: 'req', title: 'request/response, 50 persistent conns (redis-benchmark PING)' },
  conn: { metric: 'rps', unit: 'conn/s', higher: true, per: 'conn', title: 'new connection per request (redis-benchmark -k 0)' },
  pconn: { metric: 'rps', unit: 'conn/s', higher: true, per: 'conn', title: 'new connection per PING (loadgen pingconn), the plain baseline of ppconn' },
  ppconn: { metric: 'rps', unit: 'conn/s', higher: true, per: 'conn', title: 'the same with a PROXY v2 header in (from the client) and out (to the server)' },
  udp: { metric: 'qps', unit: 'dgram/s', higher: true, per: 'dgram', title: 'UDP request/response (dnsperf -c 8 -q 256)' },
  tls: { metric: 'hs_per_s', unit: 'hs/s', higher: true, per: 'hs', title: 'TLS 1.3 full handshakes with SNI, 1-byte echo' },
  tlsbulk1: { metric: 'gbps', unit: 'Gbit/s', higher: true, per: 'MB', title: 'bulk over TLS 1.3 (AES-128-GCM), terminated, 1 conn' },
  tlsbulk8: { metric: 'gbps', unit: 'Gbit/s', higher: true, per: 'MB', title: 'bulk over TLS 1.3 (AES-128-GCM), terminated, 8 conns' },
  mem: { metric: 'mb_at_10k', unit: 'MiB', higher: false, per: '', title: 'RSS with 10k idle proxied conns (extrapolated)' },
};

export async function bulk(s: RunSettings, port: number, streams: number): Promise<Metrics> {
  const r = await runPinned(s.loadCpu, ['iperf3', '-c', '127.0.0.1', '-p', String(port), '-t', String(s.durS), '-P', String(streams), '-J'], (s.durS + 20) * 1000);
  const j = JSON.parse(r.out || '{}');
  const sum = j.end?.sum_received;
  if (j.error || !sum) throw new Error(`iperf3: ${j.error ?? (r.err.trim() || 'no result')}`);
  return { gbps: +(sum.bits_per_second / 1e9).toFixed(3), ops: sum.bytes / 1e6 };
}

export async function redis(s: RunSettings, port: number, keepalive: boolean, n: number): Promise<Metrics> {
  const args = ['redis-benchmark', '-h', '127.0.0.1', '-p', String(port), '-t', 'ping_inline', '-c', '50', '-P', '1', '-k', keepalive ? '1' : '0', '-n', String(n), '--csv', '--precision', '3'];
  const r = await runPinned(s.loadCpu, args, 90_000);
  const lines = r.out.trim().split('\n');
  const row = lines.find((l) => l.startsWith('"PING_INLINE"'));
  if (!row) throw new Error(`redis-benchmark: ${r.err.trim().slice(0, 200) || 'no result'}`);
  const head = lines[0]!.replace(/"/g, '').split(',');
  const vals = row.replace(/"/g, '').split(',');
  const v = (k: string): number => Number(vals[head.indexOf(k)]);
  return { rps: v('rps'), p50_ms: v('p50_latency_ms'), p99_ms: v('p99_latency_ms'), ops: n };
}

/**
 * The conn workload's shape (50 at a time, a new connection per PING/PONG) with loadgen instead of
 * redis-benchmark, which cannot send a PROXY header: `pp` puts a v2 header in front of each PING, and the
 * server (loadgen pongserve) then expects one. Plain and PROXY runs use the same client and server programs,
 * so the difference between pconn and ppconn is the proxy's PROXY protocol work (and 28 bytes each way).
 */
export async function pingConns(s: RunSettings, port: number, pp: boolean): Promise<Metrics> {
  const r = await runPinned(s.loadCpu, [s.loadgen, 'pingconn', String(port), pp ? '1' : '0', '50', String(s.connN)], 90_000);
  const m = /ok (\d+) failed (\d+) secs ([\d.]+) rate ([\d.]+)/.exec(r.out);
  if (!m) throw new Error(`loadgen pingconn: ${r.err.slice(-200) || 'no result'}`);
  if (Number(m[2]) > 0) throw new Error(`${m[2]} of ${s.connN} connections failed`);
  return { rps: Number(m[4]), ops: Number(m[1]) };
}

export async function udp(s: RunSettings, port: number): Promise<Metrics> {
  const r = await runPinned(s.loadCpu, ['dnsperf', '-s', '127.0.0.1', '-p', String(port), '-d', s.queries, '-l', String(s.durS), '-t', '1', '-c', '8', '-q', '256'], (s.durS + 20) * 1000);
  const num = (re: RegExp): number | null => {
    const m = re.exec(r.out);
    return m ? Number(m[1]) : null;
  };
  const sent = num(/Queries sent:\s+(\d+)/), done = num(/Queries completed:\s+(\d+)/), lost = num(/Queries lost:\s+(\d+)/);
  if (!sent || done === null) throw new Error(`dnsperf: ${r.out.slice(-200) || r.err.slice(-200)}`);
  return { qps: num(/Queries per second:\s+([\d.]+)/) ?? 0, lost_pct: +((100 * (lost ?? 0)) / sent).toFixed(3), ops: done };
}

export async function tls(s: RunSettings, port: number): Promise<Metrics> {
  const r = await runPinned(s.loadCpu, [s.loadgen, 'handshakes', String(port), 'perf.test', '4', String(s.durS)], (s.durS + 20) * 1000);
  const m = /ok (\d+) failed (\d+) rate ([\d.]+)/.exec(r.out);
  if (!m) throw new Error(`loadgen handshakes: ${r.err.slice(-200) || 'no result'}`);
  if (Number(m[1]) === 0) throw new Error(`no handshake succeeded (${m[2]} failed)`);
  return { hs_per_s: Number(m[3]), failed: Number(m[2]), ops: Number(m[1]) };
}

/**
 * Bulk upload over TLS through the proxy's terminating listener (the `tls` one) to a plaintext sink (loadgen
 * echo switched to sink mode by the first byte). Every byte is delivered within the measured span: the client
 * waits for the proxy to close after its FIN. A connection that fails or is not closed fails the sample.
 */
export async function tlsBulk(s: RunSettings, port: number, conns: number): Promise<Metrics> {
  const r = await runPinned(s.loadCpu, [s.loadgen, 'tlsbulk', String(port), 'perf.test', String(conns), String(s.durS)], (s.durS + 20) * 1000);
  const m = /bytes (\d+) secs ([\d.]+) gbps ([\d.]+) failed (\d+) drain_ms ([\d.]+) cipher (\S+)/.exec(r.out);
  if (!m) throw new Error(`loadgen tlsbulk: ${r.err.slice(-200) || 'no result'}`);
  if (Number(m[4]) > 0) throw new Error(`${m[4]} of ${conns} TLS streams failed or were not closed`);
  if (m[6] !== 'TLS_AES_128_GCM_SHA256') throw new Error(`negotiated ${m[6]}, not TLS_AES_128_GCM_SHA256`);
  return { gbps: Number(m[3]), drain_ms: Number(m[5]), ops: Number(m[1]) / 1e6 };
}

/**
 * RSS of the proxy tree before and while holding `idleConns` proxied idle connections (echoed once, so both
 * legs exist). Extrapolated linearly to 10,000: the hard fd limit here is 20,000 and each proxied
 * connection costs the proxy 2 fds, so 10,000 do not fit next to the client's own.
 */
export async function mem(s: RunSettings, port: number, proxyPid: number): Promise<Metrics> {
  const before = rssKib(proxyPid);
  const anonBefore = anonKib(proxyPid);
  const holder = startPinned('idle-holder', s.loadCpu, [s.loadgen, 'idle', String(port), String(s.idleConns), '6'], `${s.logs}/idle-holder.log`);
  let held = -1;
  for (let i = 0; i < 600 && held < 0; i++) {
    await sleep(100);
    const m = /held (\d+) (\d+)/.exec(readFileSync(`${s.logs}/idle-holder.log`, 'utf8').split('\n').filter(Boolean).pop() ?? '');
    if (m) held = Number(m[1]);
  }
  await sleep(1000);
  const during = rssKib(proxyPid);
  const anonDuring = anonKib(proxyPid);
  await stop(holder, 8000);
  if (held <= 0) throw new Error('no idle connection got through');
  const kbPer = (during - before) / held;
  return {
    rss_idle_mb: +(before / 1024).toFixed(1),
    rss_loaded_mb: +(during / 1024).toFixed(1),
    kb_per_conn: +kbPer.toFixed(2),
    mb_at_10k: +((before + kbPer * 10_000) / 1024).toFixed(1),
    anon_idle_mb: +(anonBefore / 1024).toFixed(1),
    anon_mb_at_10k: +((anonBefore + ((anonDuring - anonBefore) / held) * 10_000) / 1024).toFixed(1),
    conns_held: held,
  };
}

/** Resolves once a redis PING through `port` answers PONG (the route is live), or throws after timeoutMs. */
export async function waitPong(port: number, timeoutMs: number): Promise<void> {
  for (const until = Date.now() + timeoutMs; Date.now() < until; await sleep(100)) {
    const ok = await new Promise<boolean>((resolve) => {
      const sock = connect(port, '127.0.0.1');
      const timer = setTimeout(() => (sock.destroy(), resolve(false)), 1000);
      sock.on('error', () => (clearTimeout(timer), resolve(false)));
      sock.on('connect', () => sock.write('PING\r\n'));
      sock.on('data', (d) => (clearTimeout(timer), sock.destroy(), resolve(d.toString().startsWith('+PONG'))));
    });
    if (ok) return;
  }
  throw new Error(`no PONG through 127.0.0.1:${port}`);
}
