// nginx_config.worker_processes end to end: weir run by Bun with 2 workers on real loopback sockets (both accept on
// one TCP port, Admin API changes and a reload of the UDP limits reach both, refusals add up in one scrape, SIGTERM
// and orphan exits), and the one-process fallback on Node.
// Which worker served a connection is read from /proc (the process holding the accepted socket), so no log
// format or weir cooperation is involved, and the tests run on Linux only.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import dgram from 'node:dgram';
import net from 'node:net';
import { freePort, startServer, startEchoServer, connect, readUntil, type TestServer } from '../helpers/net';
import { configYaml, spawnWeir, tempDir, waitFor, adminCall } from '../helpers/weir';
import { bunBinary } from '../helpers/bun';
import { childrenOf, commandLine, isRunning, parentOf, socketOwner } from '../helpers/proc';
import { prometheusYaml, sample, scrape } from '../helpers/metrics';
import { hostname } from 'node:os';

const linux = process.platform === 'linux';
/** Connections tried before giving up on seeing both workers: with the kernel's 4-tuple hash each lands on
 * either worker with p = 1/2, so 64 all on one worker happens with probability 2^-63. */
const MAX_ATTEMPTS = 64;
const GRACE_MS = 2000; // worker_shutdown_timeout in configYaml

interface Proc {
  child: ChildProcess;
  err: () => string;
  /** The access log lines of every worker (they share worker 0's stdout). */
  out: () => string;
}
const started: Proc[] = [];
const pidsToReap = new Set<number>();
const dirs: Array<{ remove(): void }> = [];

/** `bun src/main.ts start -c FILE`, Bun exec'd directly so child.pid is worker 0 itself (no npx in between). */
function spawnBunWeir(configPath: string): Proc {
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: '' };
  delete env.WEIR_WORKER;
  delete env.WEIR_DATA_PLANE;
  const child = spawn(bunBinary(), [resolve('src/main.ts'), 'start', '-c', configPath], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let err = '';
  let out = '';
  child.stdout!.on('data', (d) => (out += d)); // access log lines: read so a full pipe never blocks a worker
  child.stderr!.on('data', (d) => (err += d));
  const proc = { child, err: () => err, out: () => out };
  started.push(proc);
  if (child.pid) pidsToReap.add(child.pid);
  return proc;
}

/** Start weir under Bun with 2 workers; resolves with worker 0's pid and the extra worker's. `topYaml`: more top-level keys. */
async function startTwoWorkers(topYaml = ''): Promise<{ proc: Proc; w0: number; w1: number; tcpPort: number; udpPort: number; adminUrl: string; configPath: string; adminPort: number }> {
  const dir = tempDir('weir-workers-');
  dirs.push(dir);
  const [tcpPort, udpPort, adminPort] = [await freePort(), await freePort(), await freePort()];
  const configPath = join(dir.path, 'config.yaml');
  writeFileSync(
    configPath,
    configYaml({
      tcp: [`"127.0.0.1:${tcpPort}"`],
      udp: [`"127.0.0.1:${udpPort}"`],
      adminPort,
      dbPath: join(dir.path, 'weir.db'),
      extraYaml: `  worker_processes: 2\n${topYaml}`,
    }),
  );
  const proc = spawnBunWeir(configPath);
  const bothUp = (): boolean => (proc.err().match(/weir started/g) ?? []).length >= 2 && proc.err().includes('workers started');
  await waitFor(() => bothUp() || proc.child.exitCode !== null, 10000, 'both workers to start');
  assert.equal(proc.child.exitCode, null, proc.err());
  const w1 = Number(/workers started workers=2 pids=(\d+)/.exec(proc.err())?.[1]);
  pidsToReap.add(w1);
  return { proc, w0: proc.child.pid!, w1, tcpPort, udpPort, adminUrl: `http://127.0.0.1:${adminPort}`, configPath, adminPort };
}

/** Upstream TCP server that sends its tag on accept and closes (so no half-open connection outlives a probe). */
const taggedTcp = (tag: string): Promise<TestServer> => startServer((s) => s.end(tag));

/** Upstream UDP server answering `${tag}${port the datagram came from}`: the proxy's session socket port. */
async function taggedUdp(tag: string): Promise<{ port: number; close(): void }> {
  const sock = dgram.createSocket('udp4');
  sock.on('message', (_msg, from) => sock.send(`${tag}${from.port}`, from.port, from.address));
  await new Promise<void>((done) => sock.bind(0, '127.0.0.1', () => done()));
  return { port: sock.address().port, close: () => sock.close() };
}

/** Connect through the proxy, read the upstream's tag, and name the worker holding the accepted socket. */
async function tcpProbe(port: number, pids: number[]): Promise<{ tag: string; owner: number | null }> {
  const sock = await connect(port);
  try {
    // a worker without a matching route closes the connection: tag '' then, and the assertion names it
    const tag = await readUntil(sock, (d) => d.length >= 1, 3000).then(String, () => '');
    return { tag, owner: socketOwner('tcp', pids, port, sock.localPort!) };
  } finally {
    sock.destroy();
  }
}

/** Send one datagram from a fresh client port (a new session), return the tag and the worker owning the session. */
async function udpProbe(port: number, pids: number[]): Promise<{ tag: string; owner: number | null }> {
  const client = dgram.createSocket('udp4');
  try {
    const reply = new Promise<string>((done, fail) => {
      const timer = setTimeout(() => fail(new Error('no UDP reply in 3 s')), 3000);
      client.once('message', (m) => (clearTimeout(timer), done(m.toString())));
    });
    client.send('ping', port, '127.0.0.1');
    const text = await reply;
    const [tag, sessionPort] = [text[0]!, Number(text.slice(1))];
    return { tag, owner: socketOwner('udp', pids, sessionPort) };
  } finally {
    client.close();
  }
}

/** Probe UDP from fresh client ports until every one of `pids` has owned a session (bounded); tags per owner. */
async function udpUntilAllSeen(port: number, pids: number[]): Promise<Map<number | null, string[]>> {
  const seen = new Map<number | null, string[]>();
  for (let i = 0; i < MAX_ATTEMPTS && !pids.every((p) => seen.has(p)); i++) {
    const { tag, owner } = await udpProbe(port, pids);
    seen.set(owner, [...(seen.get(owner) ?? []), tag]);
  }
  return seen;
}

/** Probe until every one of `pids` has served a connection (bounded by MAX_ATTEMPTS); returns tags per owner. */
async function tcpUntilAllSeen(port: number, pids: number[]): Promise<Map<number | null, string[]>> {
  const seen = new Map<number | null, string[]>();
  for (let i = 0; i < MAX_ATTEMPTS && !pids.every((p) => seen.has(p)); i++) {
    const { tag, owner } = await tcpProbe(port, pids);
    seen.set(owner, [...(seen.get(owner) ?? []), tag]);
  }
  return seen;
}

/** The propagation bound the issue sets: every worker serves a change 1 s after it was made. */
const afterOneSecond = (since: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, since + 1000 - Date.now())));

const route = (serverPort: number, upstreamPort: number) => ({
  server_port: serverPort,
  upstream: { type: 'roundrobin', nodes: { [`127.0.0.1:${upstreamPort}`]: 1 } },
});

after(() => {
  // children first (a failed start may have left a worker whose pid was never logged), then the pids we know
  const all = [...pidsToReap].flatMap((pid) => [...childrenOf(pid).filter((c) => commandLine(c).includes('main.ts')), pid]);
  for (const pid of all) if (isRunning(pid)) process.kill(pid, 'SIGKILL');
  for (const p of started) p.child.stdout?.destroy(), p.child.stderr?.destroy();
  for (const d of dirs) d.remove();
});

describe('worker_processes: 2 under Bun', { skip: !linux && 'reads /proc' }, () => {
  const upstreams: Array<{ close(): unknown }> = [];
  let w: Awaited<ReturnType<typeof startTwoWorkers>>;
  let tcpA: TestServer, tcpB: TestServer;
  let udpA: { port: number; close(): void }, udpB: { port: number; close(): void };

  before(async () => {
    [tcpA, tcpB, udpA, udpB] = [await taggedTcp('A'), await taggedTcp('B'), await taggedUdp('A'), await taggedUdp('B')];
    upstreams.push(tcpA, tcpB, udpA, udpB);
    w = await startTwoWorkers();
  });
  after(async () => {
    for (const u of upstreams) await u.close();
  });

  it('runs 2 processes: worker 0 and one child of it, each logging its own start', () => {
    assert.ok(w.w1 > 0 && w.w1 !== w.w0, w.proc.err());
    assert.equal(parentOf(w.w1), w.w0);
    assert.deepEqual(childrenOf(w.w0), [w.w1]);
    const pids = [...w.proc.err().matchAll(/weir started .*? pid=(\d+)/g)].map((m) => Number(m[1])).sort();
    assert.deepEqual(pids, [w.w0, w.w1].sort());
  });

  it('both workers accept on the same TCP port, and receive on the same UDP port', async () => {
    const put = async (id: string, body: unknown) => (await adminCall(w.adminUrl, 'PUT', `/apisix/admin/stream_routes/${id}`, body)).status;
    assert.equal(await put('tcp', route(w.tcpPort, tcpA.port)), 201);
    assert.equal(await put('udp', route(w.udpPort, udpA.port)), 201);
    await afterOneSecond(Date.now()); // worker 1 learns of worker 0's commit through the store watcher
    const seen = await tcpUntilAllSeen(w.tcpPort, [w.w0, w.w1]);
    assert.deepEqual([...seen.keys()].sort(), [w.w0, w.w1].sort(), `owners seen in ${MAX_ATTEMPTS} connections`);
    for (const tags of seen.values()) assert.ok(tags.every((t) => t === 'A'), tags.join(''));
    // UDP: every worker binds the port too (SO_REUSEPORT through Bun.udpSocket's flags, src/runtime/udp/bun.ts);
    // the kernel spreads new clients over both, and a session lives in the worker that got its first datagram
    const udpSeen = await udpUntilAllSeen(w.udpPort, [w.w0, w.w1]);
    assert.deepEqual([...udpSeen.keys()].sort(), [w.w0, w.w1].sort(), `UDP session owners seen in ${MAX_ATTEMPTS} clients`);
    for (const tags of udpSeen.values()) assert.ok(tags.every((t) => t === 'A'), tags.join(''));
  });

  it('an Admin API PUT on worker 0 is served by every worker within 1 s', async () => {
    const changedAt = Date.now(); // before the request: the 1 s includes the write itself
    const res = await adminCall(w.adminUrl, 'PUT', '/apisix/admin/stream_routes/tcp', route(w.tcpPort, tcpB.port));
    assert.equal(res.status, 200);
    assert.equal((await adminCall(w.adminUrl, 'PUT', '/apisix/admin/stream_routes/udp', route(w.udpPort, udpB.port))).status, 200);
    await afterOneSecond(changedAt);
    const seen = await tcpUntilAllSeen(w.tcpPort, [w.w0, w.w1]);
    assert.deepEqual([...seen.keys()].sort(), [w.w0, w.w1].sort());
    for (const [owner, tags] of seen) assert.ok(tags.every((t) => t === 'B'), `worker ${owner} answered ${tags.join('')}`);
    const udpSeen = await udpUntilAllSeen(w.udpPort, [w.w0, w.w1]);
    for (const [owner, tags] of udpSeen) assert.ok(tags.every((t) => t === 'B'), `worker ${owner} answered ${tags.join('')}`);
  });

  it('a stream listener PUT answers once every worker accepts on it; a DELETE once none does', async () => {
    const port = await freePort();
    assert.equal((await adminCall(w.adminUrl, 'PUT', '/apisix/admin/stream_routes/obj', route(port, tcpA.port))).status, 201);
    await afterOneSecond(Date.now()); // the route reaches worker 1 through its store watcher; the listener below does not wait
    const put = await adminCall(w.adminUrl, 'PUT', '/apisix/admin/stream_listeners/obj', { addr: `127.0.0.1:${port}` });
    assert.equal(put.status, 201, JSON.stringify(put.body));
    // no waiting: the answer came after both workers had bound it
    const seen = await tcpUntilAllSeen(port, [w.w0, w.w1]);
    // null: the upstream closed the connection before /proc was read (it says its tag and closes)
    assert.deepEqual([...seen.keys()].filter((k) => k !== null).sort(), [w.w0, w.w1].sort(), `owners seen in ${MAX_ATTEMPTS} connections`);
    for (const tags of seen.values()) assert.ok(tags.every((t) => t === 'A'), tags.join(''));
    assert.equal((await adminCall(w.adminUrl, 'DELETE', '/apisix/admin/stream_listeners/obj')).status, 200);
    for (let i = 0; i < 8; i++) await assert.rejects(connect(port), /ECONNREFUSED/);
    // a port taken by another process is refused on every worker, and nothing is stored
    const blocker = await startServer(() => {});
    try {
      const refused = await adminCall(w.adminUrl, 'PUT', '/apisix/admin/stream_listeners/busy', { addr: `127.0.0.1:${blocker.port}` });
      assert.equal(refused.status, 400);
      assert.match(refused.body.error_msg, new RegExp(`^cannot listen on 127\\.0\\.0\\.1:${blocker.port} \\(stream_listeners/busy\\): address already in use \\(worker 0 \\(pid ${w.w0}\\)\\)$`));
      assert.equal((await adminCall(w.adminUrl, 'GET', '/apisix/admin/stream_listeners/busy')).status, 404);
    } finally {
      await blocker.close();
    }
  });

  it('limit-conn holds for the host: of 40 connections over both workers, exactly conn reach the upstream', async () => {
    const held: net.Socket[] = [];
    const holder = await startServer((s) => void held.push(s));
    upstreams.push(holder);
    const body = { server_port: w.tcpPort, plugins: { 'limit-conn': { conn: 20, burst: 0, default_conn_delay: 0.1, key: 'server_addr' } }, upstream: { nodes: { [`127.0.0.1:${holder.port}`]: 1 } } };
    const changedAt = Date.now();
    assert.equal((await adminCall(w.adminUrl, 'PUT', '/apisix/admin/stream_routes/tcp', body)).status, 200);
    await afterOneSecond(changedAt);
    const closed = new Set<number>();
    // one at a time, each admitted or refused before the next: worker 0 decides at once while worker 1 asks it
    // over IPC, so a burst would let worker 0's connections take the whole quota first (the limit would still
    // hold; only which worker admits would be skewed). The kernel spreads them over both workers.
    const clients: net.Socket[] = [];
    for (let i = 0; i < 40; i++) {
      const c = net.connect({ port: w.tcpPort, host: '127.0.0.1' });
      c.on('error', () => {});
      c.once('close', () => closed.add(i));
      c.resume(); // a refused connection's FIN is seen only by a reader
      clients.push(c);
      await new Promise((r) => c.once('connect', r));
      await waitFor(() => held.length + closed.size > i, 10_000, `connection ${i} admitted or refused`);
    }
    await waitFor(() => held.length >= 20 && closed.size >= 20, 10_000, '20 at the upstream, 20 refused');
    await new Promise((r) => setTimeout(r, 300));
    // counted per worker, up to 40 would have got through
    assert.equal(held.length, 20);
    assert.equal(closed.size, 20);
    const owners = new Set(clients.filter((_, i) => !closed.has(i)).map((c) => socketOwner('tcp', [w.w0, w.w1], w.tcpPort, c.localPort!)));
    assert.deepEqual([...owners].sort(), [w.w0, w.w1].sort(), 'the admitted connections are held by both workers');
    // the counts come back when those end, whichever worker holds them
    for (const s of held.splice(0)) s.destroy();
    for (const c of clients) c.destroy();
    await new Promise((r) => setTimeout(r, 300));
    const again = await Promise.all(Array.from({ length: 25 }, () => connect(w.tcpPort)));
    await waitFor(() => held.length >= 20, 10_000, '20 at the upstream again');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(held.length, 20);
    for (const s of held.splice(0)) s.destroy();
    for (const c of again) c.destroy();
  });

  it('SIGTERM to worker 0 stops the other worker too, within the grace period', async () => {
    const exited = new Promise<number | string>((done) => w.proc.child.on('exit', (code, sig) => done(code ?? sig ?? -1)));
    w.proc.child.kill('SIGTERM');
    // nothing is open (the upstreams close each probe), so both are gone well within worker_shutdown_timeout
    await waitFor(() => !isRunning(w.w0) && !isRunning(w.w1), GRACE_MS, 'both workers to exit');
    assert.equal(await exited, 0);
    // each stopped gracefully on its own SIGTERM (worker 1's from worker 0), not by the SIGKILL fallback
    assert.equal((w.proc.err().match(/SIGTERM: stopping/g) ?? []).length, 2, w.proc.err());
  });
});

describe('worker_processes: 2 under Bun, with the prometheus export', { skip: !linux && 'reads /proc' }, () => {
  it('one scrape of worker 0 returns the host totals: both workers\' connections and bytes; SIGTERM still stops both', async () => {
    const metricsPort = await freePort();
    const w = await startTwoWorkers(`${prometheusYaml(metricsPort)}\n`);
    const up = await taggedTcp('M');
    try {
      const body = { ...route(w.tcpPort, up.port), plugins: { prometheus: {} } };
      assert.equal((await adminCall(w.adminUrl, 'PUT', '/apisix/admin/stream_routes/m', body)).status, 201);
      await afterOneSecond(Date.now());
      const served = new Map<number | null, number>();
      let total = 0;
      for (; total < MAX_ATTEMPTS && !(served.get(w.w0)! >= 2 && served.get(w.w1)! >= 2); total++) {
        const { tag, owner } = await tcpProbe(w.tcpPort, [w.w0, w.w1]);
        assert.equal(tag, 'M');
        served.set(owner, (served.get(owner) ?? 0) + 1);
      }
      assert.ok(served.get(w.w0)! >= 2 && served.get(w.w1)! >= 2, `both workers served: ${[...served]}`);
      const node = `127.0.0.1:${up.port}`;
      // every probe has been recorded once its socket is closed on both ends; the counts settle quickly
      let text = '';
      const deadline = Date.now() + 5000;
      while (Date.now() < deadline) {
        text = await scrape(metricsPort);
        if (sample(text, 'apisix_stream_connection_total', { route: 'm' }) === total) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(sample(text, 'weir_stream_workers'), 2, 'both workers answered');
      assert.equal(sample(text, 'apisix_stream_connection_total', { route: 'm' }), total);
      assert.equal(sample(text, 'weir_stream_bytes_total', { route: 'm', node, direction: 'to_client' }), total, 'one tag byte per connection');
      assert.equal(sample(text, 'apisix_node_info', { hostname: hostname() }), 1, 'node info once, not once per worker');
    } finally {
      await up.close();
    }
    const exited = new Promise<number | string>((done) => w.proc.child.on('exit', (code, sig) => done(code ?? sig ?? -1)));
    w.proc.child.kill('SIGTERM');
    await waitFor(() => !isRunning(w.w0) && !isRunning(w.w1), GRACE_MS, 'both workers to exit (the IPC channel holds neither)');
    assert.equal(await exited, 0);
  });
});

describe('worker_processes: 2 under Bun, a config reload of the UDP session limits', { skip: !linux && 'reads /proc' }, () => {
  it('SIGHUP applies udp_max_sessions_per_source on every worker: one address gets at most one session per worker; refusals add up in one scrape', async () => {
    const metricsPort = await freePort();
    const limits = (perSource: number): string =>
      `  stream:\n    udp_max_sessions_per_source: ${perSource}\n    udp_session_rate: 0\n${prometheusYaml(metricsPort)}\n`;
    const w = await startTwoWorkers(limits(0));
    const up = await taggedUdp('U');
    const clients: dgram.Socket[] = [];
    try {
      assert.equal((await adminCall(w.adminUrl, 'PUT', '/apisix/admin/stream_routes/u', route(w.udpPort, up.port))).status, 201);
      await afterOneSecond(Date.now());
      const config = readFileSync(w.configPath, 'utf8');
      writeFileSync(w.configPath, config.replace('udp_max_sessions_per_source: 0', 'udp_max_sessions_per_source: 1'));
      w.proc.child.kill('SIGHUP');
      // worker 0 logs this once every worker has applied the config (or named the one that could not)
      await waitFor(() => w.proc.err().includes('config reloaded changed="nginx_config.stream.udp_max_sessions_per_source / udp_session_rate / udp_session_burst"'), 5000, 'the reload line');
      assert.doesNotMatch(w.proc.err(), /a worker could not apply/);
      // 16 clients on 127.0.0.1, each from its own port and kept open (its session stays): the kernel spreads them
      // over both workers, and each worker admits one session of the address, whatever the spread
      const N = 16;
      let replies = 0;
      for (let i = 0; i < N; i++) {
        const c = dgram.createSocket('udp4');
        clients.push(c);
        c.on('message', () => replies++);
        await new Promise<void>((done) => c.bind(0, '127.0.0.1', () => done()));
        c.send('ping', w.udpPort, '127.0.0.1');
      }
      let refused: number | undefined;
      const deadline = Date.now() + 5000;
      while (Date.now() < deadline) {
        refused = sample(await scrape(metricsPort), 'weir_stream_udp_refused_sessions_total', { reason: 'per_source' });
        if (refused !== undefined && refused + replies === N) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(replies >= 1 && replies <= 2, `one session per worker at most: ${replies} answered`);
      assert.equal(refused, N - replies, 'both workers\' refusals in one scrape');
    } finally {
      for (const c of clients) c.close();
      up.close();
    }
    w.proc.child.kill('SIGTERM');
    await waitFor(() => !isRunning(w.w0) && !isRunning(w.w1), GRACE_MS + 1000, 'both workers to exit');
  });
});

describe('worker_processes: 2 under Bun, prometheus added by SIGHUP', { skip: !linux && 'reads /proc' }, () => {
  it('every worker takes the new stream_plugins: routes may name prometheus, and one scrape counts both workers', async () => {
    const metricsPort = await freePort();
    const w = await startTwoWorkers('stream_plugins: [limit-conn]\n');
    const up = await taggedTcp('R');
    try {
      const body = { ...route(w.tcpPort, up.port), plugins: { prometheus: {} } };
      assert.deepEqual((await adminCall(w.adminUrl, 'PUT', '/apisix/admin/stream_routes/r', body)).body, { error_msg: 'unknown plugin [prometheus]' });
      const configPath = /config=(\S+)/.exec(w.proc.err())![1]!;
      writeFileSync(configPath, readFileSync(configPath, 'utf8').replace('stream_plugins: [limit-conn]', prometheusYaml(metricsPort, ['limit-conn'])));
      w.proc.child.kill('SIGHUP');
      await waitFor(() => w.proc.err().includes('config reloaded changed="stream_plugins, plugin_attr"'), 5000, 'the reload line');
      assert.equal((await adminCall(w.adminUrl, 'PUT', '/apisix/admin/stream_routes/r', body)).status, 201);
      await afterOneSecond(Date.now());
      const served = new Map<number | null, number>();
      let total = 0;
      for (; total < MAX_ATTEMPTS && !(served.get(w.w0)! >= 1 && served.get(w.w1)! >= 1); total++) {
        const { tag, owner } = await tcpProbe(w.tcpPort, [w.w0, w.w1]);
        assert.equal(tag, 'R');
        served.set(owner, (served.get(owner) ?? 0) + 1);
      }
      assert.ok(served.get(w.w0)! >= 1 && served.get(w.w1)! >= 1, `both workers served: ${[...served]}`);
      let text = '';
      const deadline = Date.now() + 5000;
      while (Date.now() < deadline) {
        text = await scrape(metricsPort);
        if (sample(text, 'apisix_stream_connection_total', { route: 'r' }) === total) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(sample(text, 'weir_stream_workers'), 2, 'both workers answered with metrics');
      assert.equal(sample(text, 'apisix_stream_connection_total', { route: 'r' }), total, 'the connections of both workers');
    } finally {
      await up.close();
    }
    const exited = new Promise<number | string>((done) => w.proc.child.on('exit', (code, sig) => done(code ?? sig ?? -1)));
    w.proc.child.kill('SIGTERM');
    assert.equal(await exited, 0);
  });
});

/** Ids "<pid>-<n>" as two numbers, for the order the merged views promise (by pid, then by the counter). */
const idParts = (id: string): [number, number] => id.split('-').map(Number) as [number, number];
const byId = (a: string, b: string): number => idParts(a)[0] - idParts(b)[0] || idParts(a)[1] - idParts(b)[1];

describe('worker_processes: 2 under Bun, the connection views merge every worker', { skip: !linux && 'reads /proc' }, () => {
  interface Client {
    sock: net.Socket;
    from: string;
    /** "ip:port" as the rows and the access log show the client. */
    text: string;
    owner: number | null;
  }
  const clients: Client[] = [];
  let w: Awaited<ReturnType<typeof startTwoWorkers>>;
  let echo: TestServer;
  let stopped = false;
  const get = async (path: string) => adminCall(w.adminUrl, 'GET', path);
  const rowsOf = (body: { list: Array<{ id: string; client: string }> }) => body.list.map((r) => `${r.id} ${r.client}`);
  const clientText = (c: Client) => c.text;

  /** Open one proxied connection from `from` and wait for its echo: weir has it in its table, proxying. */
  async function openFrom(from: string): Promise<Client> {
    const sock = net.connect({ port: w.tcpPort, host: '127.0.0.1', localAddress: from });
    sock.on('error', () => {});
    await new Promise((r) => sock.once('connect', r));
    sock.write('x');
    await readUntil(sock, (d) => d.length >= 1, 5000);
    const c = { sock, from, text: `${from}:${sock.localPort}`, owner: socketOwner('tcp', [w.w0, w.w1], w.tcpPort, sock.localPort!) };
    clients.push(c);
    return c;
  }
  const open = () => clients.filter((c) => !c.sock.destroyed && c.sock.readyState === 'open');

  before(async () => {
    echo = await startEchoServer();
    w = await startTwoWorkers();
    const body = { server_port: w.tcpPort, upstream: { nodes: { [`127.0.0.1:${echo.port}`]: 1 } } };
    assert.equal((await adminCall(w.adminUrl, 'PUT', '/apisix/admin/stream_routes/c', body)).status, 201);
    await afterOneSecond(Date.now());
    // from 127.0.0.2 and 127.0.0.3 in turn until each worker holds at least 2 from each (the kernel picks the worker)
    const enough = () =>
      ['127.0.0.2', '127.0.0.3'].every((from) => [w.w0, w.w1].every((pid) => clients.filter((c) => c.from === from && c.owner === pid).length >= 2));
    for (let i = 0; i < 2 * MAX_ATTEMPTS && !enough(); i++) await openFrom(i % 2 === 0 ? '127.0.0.2' : '127.0.0.3');
    assert.ok(enough(), `connections per worker: ${clients.map((c) => `${c.from}@${c.owner}`).join(' ')}`);
  });
  after(async () => {
    if (stopped) process.kill(w.w1, 'SIGCONT');
    for (const c of clients) c.sock.destroy();
    await echo?.close();
  });

  it('GET lists both workers\' connections, by pid then counter; filters and pages across the merge', async () => {
    const all = await get('/v1/connections');
    assert.equal(all.status, 200);
    assert.equal(all.body.total, clients.length);
    assert.equal(all.body.unanswered_workers, undefined);
    const ids: string[] = all.body.list.map((r: { id: string }) => r.id);
    assert.deepEqual(ids, [...ids].sort(byId), 'ordered by pid, then by each worker\'s counter');
    // each row is the connection of one of our clients, and its id names the worker holding it
    const owners = new Map(clients.map((c) => [clientText(c), c.owner]));
    for (const row of all.body.list as Array<{ id: string; client: string }>) assert.equal(idParts(row.id)[0], owners.get(row.client), row.client);
    assert.deepEqual(new Set(all.body.list.map((r: { client: string }) => r.client)), new Set(owners.keys()));

    const three = await get('/v1/connections?client=127.0.0.3');
    const mine = clients.filter((c) => c.from === '127.0.0.3');
    assert.equal(three.body.total, mine.length);
    assert.deepEqual(new Set(three.body.list.map((r: { client: string }) => r.client)), new Set(mine.map(clientText)));
    assert.deepEqual(new Set(three.body.list.map((r: { id: string }) => idParts(r.id)[0])), new Set([w.w0, w.w1]));
    // pages of 3: every page has the filtered total, and together they are the unpaged list, in its order
    const pages: string[] = [];
    for (let page = 1; page <= Math.ceil(mine.length / 3) + 1; page++) {
      const p = await get(`/v1/connections?client=127.0.0.3&page=${page}&page_size=3`);
      assert.equal(p.body.total, mine.length);
      assert.equal(p.body.list.length, Math.max(0, Math.min(3, mine.length - (page - 1) * 3)), `page ${page}`);
      pages.push(...rowsOf(p.body));
    }
    assert.deepEqual(pages, rowsOf(three.body));
    // UDP stays with worker 0, but the view asks both: worker 1 answers with nothing
    assert.deepEqual((await get('/v1/udp_sessions')).body, { total: 0, list: [] });
  });

  it('a dry run counts the open connections of both workers in its effects', async () => {
    const dry = await adminCall(w.adminUrl, 'PATCH', '/apisix/admin/stream_routes/c?dry_run=true', { desc: 'changed' });
    assert.equal(dry.status, 200);
    assert.deepEqual([dry.body.dry_run, dry.body.effects.connections, dry.body.unanswered_workers], [true, open().length, undefined]);
    assert.ok(open().some((c) => c.owner === w.w1), 'worker 1 holds some of them');
  });

  it('DELETE by id ends a connection worker 1 holds; its access line says admin_closed', async () => {
    const target = clients.find((c) => c.owner === w.w1 && c.from === '127.0.0.2')!;
    const row = (await get(`/v1/connections?client=${clientText(target).replace(/:\d+$/, '')}`)).body.list.find((r: { client: string }) => r.client === clientText(target));
    assert.equal(idParts(row.id)[0], w.w1);
    const closed = new Promise<void>((r) => target.sock.once('close', () => r()));
    const del = await adminCall(w.adminUrl, 'DELETE', `/v1/connections/${row.id}`);
    assert.deepEqual([del.status, del.body], [200, { deleted: row.id, end: 'admin_closed' }]);
    await closed;
    await waitFor(() => w.proc.out().split('\n').some((l) => l.includes(`"id":"${row.id}"`)), 5000, 'the access line');
    const line = JSON.parse(w.proc.out().split('\n').find((l) => l.includes(`"id":"${row.id}"`))!);
    assert.deepEqual([line.route, line.end, line.client], ['c', 'admin_closed', clientText(target)]);
    assert.deepEqual(await adminCall(w.adminUrl, 'DELETE', `/v1/connections/${row.id}`), { status: 404, body: { error_msg: `connection ${row.id} is not open` } });
    assert.equal((await adminCall(w.adminUrl, 'DELETE', '/v1/connections/1-1')).status, 404, 'a pid that is no worker');
  });

  it('a worker that does not answer in time is named; weir answers with the rest and never waits longer', async () => {
    process.kill(w.w1, 'SIGSTOP');
    stopped = true;
    try {
      const started = Date.now();
      const list = await get('/v1/connections');
      const took = Date.now() - started;
      assert.equal(list.status, 200);
      assert.deepEqual(list.body.unanswered_workers, [{ worker: 1, pid: w.w1, waited_ms: 2000 }]);
      const fromW0 = open().filter((c) => c.owner === w.w0);
      assert.deepEqual(new Set(list.body.list.map((r: { client: string }) => r.client)), new Set(fromW0.map(clientText)));
      assert.equal(list.body.total, fromW0.length);
      assert.ok(took >= 1900 && took < 6000, `answered after ${took} ms`);
      // a dry run's effects: worker 0's connections, and the silent worker named the same way
      const dry = await adminCall(w.adminUrl, 'PATCH', '/apisix/admin/stream_routes/c?dry_run=true', { desc: 'changed' });
      assert.deepEqual([dry.status, dry.body.effects.connections, dry.body.unanswered_workers], [200, fromW0.length, [{ worker: 1, pid: w.w1, waited_ms: 2000 }]]);
      const held = open().find((c) => c.owner === w.w1)!;
      const del = await adminCall(w.adminUrl, 'DELETE', `/v1/connections/${w.w1}-1`);
      assert.deepEqual([del.status, del.body.unanswered_workers], [504, [{ worker: 1, pid: w.w1, waited_ms: 2000 }]]);
      assert.equal(held.sock.readyState, 'open');
    } finally {
      process.kill(w.w1, 'SIGCONT');
      stopped = false;
    }
    const again = await get('/v1/connections');
    assert.equal(again.body.unanswered_workers, undefined);
    assert.equal(again.body.total, open().length);
  });

  it('DELETE with a filter ends the matches on both workers', async () => {
    const mine = open().filter((c) => c.from === '127.0.0.3');
    const closed = Promise.all(mine.map((c) => new Promise<void>((r) => c.sock.once('close', () => r()))));
    const bulk = await adminCall(w.adminUrl, 'DELETE', '/v1/connections?client=127.0.0.3');
    assert.equal(bulk.status, 200);
    assert.deepEqual([bulk.body.total, bulk.body.end, bulk.body.unanswered_workers], [mine.length, 'admin_closed', undefined]);
    assert.deepEqual(bulk.body.deleted, [...bulk.body.deleted].sort(byId));
    assert.deepEqual(new Set(bulk.body.deleted.map((id: string) => idParts(id)[0])), new Set([w.w0, w.w1]));
    await closed;
    const rest = await get('/v1/connections');
    assert.deepEqual(new Set(rest.body.list.map((r: { client: string }) => r.client)), new Set(open().map(clientText)));
    assert.ok(open().every((c) => c.from === '127.0.0.2'));
  });
});

describe('an orphaned worker', { skip: !linux && 'reads /proc' }, () => {
  it('exits by itself when worker 0 is killed with SIGKILL', async () => {
    const w = await startTwoWorkers();
    assert.ok(isRunning(w.w1));
    w.proc.child.kill('SIGKILL');
    // it polls its parent pid every second, then drains (no open connections: at once); 15 s bounds both on a
    // loaded machine (5 s was once too short with the load average at 14 on 2 cores)
    await waitFor(() => !isRunning(w.w1), 15_000, 'the orphaned worker to exit');
    await waitFor(() => /SIGTERM: stopping/.test(w.proc.err()), 10_000, 'its shutdown line');
  });
});

// spawnWeir runs weir with this test's own runtime: the Node fallback is only observable when that is Node.
const onNode = (globalThis as { Bun?: unknown; Deno?: unknown }).Bun === undefined && (globalThis as { Deno?: unknown }).Deno === undefined;

describe('worker_processes: 2 under Node 20', { skip: (!linux && 'reads /proc') || (!onNode && 'runs weir on Node only') }, () => {
  it('warns and runs one process that serves the listener', async () => {
    const dir = tempDir('weir-workers-node-');
    dirs.push(dir);
    const [tcpPort, adminPort] = [await freePort(), await freePort()];
    const configPath = join(dir.path, 'config.yaml');
    const db = join(dir.path, 'weir.db');
    writeFileSync(configPath, configYaml({ tcp: [`"127.0.0.1:${tcpPort}"`], adminPort, dbPath: db, extraYaml: '  worker_processes: 2' }));
    const c = spawnWeir(['start', '-c', configPath]);
    if (c.child.pid) pidsToReap.add(c.child.pid);
    await waitFor(() => c.stderr().includes('weir started') || c.child.exitCode !== null, 20000, 'weir to start');
    assert.match(c.stderr(), /warn nginx_config\.worker_processes > 1 needs the Bun build .* wanted=2/);
    assert.doesNotMatch(c.stderr(), /workers started/);
    // tsx runs an esbuild service as a child of node: only a second weir would carry the config path
    assert.deepEqual(childrenOf(c.child.pid!).filter((pid) => commandLine(pid).includes(configPath)), []);
    const up = await taggedTcp('N');
    try {
      const admin = await adminCall(`http://127.0.0.1:${adminPort}`, 'PUT', '/apisix/admin/stream_routes/1', route(tcpPort, up.port));
      assert.equal(admin.status, 201);
      assert.deepEqual(await tcpProbe(tcpPort, [c.child.pid!]), { tag: 'N', owner: c.child.pid });
    } finally {
      await up.close();
    }
    c.child.kill('SIGTERM');
    assert.equal(await c.exited, 0);
    assert.equal((c.stderr().match(/weir started/g) ?? []).length, 1);
  });
});
