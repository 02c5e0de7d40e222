// A Patroni-like setup: two real redis-server nodes, a primary and its replica, each with an HTTP health
// endpoint on the same side port (as Patroni's REST API on 8008) that answers 200 on /primary only while
// that node is the primary (it asks its redis for ROLE). weir probes /primary; a switchover moves every new
// connection to the new primary within 3 s, and once /v1/healthcheck shows the old primary down, no new
// connection reaches it.
//
// redis-server rather than PostgreSQL: .ci/run installs it already, it starts in milliseconds without an
// initdb or a non-root user, and its roles switch live with one command (REPLICAOF), so the health endpoint
// reports a real role, as Patroni does for PostgreSQL.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { freePort } from '../helpers/net';
import { missingServers, startRedis } from '../helpers/servers';
import { startTestWeir, type TestWeir } from '../helpers/weir';

const skip = missingServers('redis-server');
const HOSTS = ['127.0.0.2', '127.0.0.3'] as const;

/** A command in RESP, redis's wire format. */
function resp(...words: string[]): string {
  return `*${words.length}\r\n${words.map((w) => `$${Buffer.byteLength(w)}\r\n${w}\r\n`).join('')}`;
}

/** Send one command to host:port and read until `done(reply)` holds (bounded); the connection is then closed. */
function ask(host: string, port: number, command: string, done: (reply: string) => boolean): Promise<string> {
  return new Promise((resolve) => {
    let reply = '';
    const sock = net.connect({ host, port });
    const finish = (): void => {
      clearTimeout(timer);
      sock.destroy();
      resolve(reply);
    };
    const timer = setTimeout(finish, 10_000);
    sock.on('connect', () => sock.write(command));
    sock.on('data', (d) => {
      reply += d.toString();
      if (done(reply)) finish();
    });
    sock.on('error', finish);
    sock.on('close', finish);
  });
}

const roleOf = (host: string, port: number) => ask(host, port, resp('ROLE'), (r) => /\r\n[a-z]+\r\n/.test(r)).then((r) => /master|slave/.exec(r)?.[0] ?? 'down');

describe('Patroni-like primary detection with HTTP probes', { skip: skip ?? false }, () => {
  let redisPort: number;
  let healthPort: number;
  let listen: number;
  let w: TestWeir;
  const redis: ChildProcess[] = [];
  const endpoints: http.Server[] = [];

  before(async () => {
    redisPort = await freePort(HOSTS[0]);
    healthPort = await freePort(HOSTS[0]);
    redis.push(await startRedis(redisPort, HOSTS[0]));
    redis.push(await startRedis(redisPort, HOSTS[1], ['--replicaof', HOSTS[0], String(redisPort)]));
    // the health endpoints: /primary answers 200 while the node's redis is the primary, 503 otherwise (Patroni's rule)
    for (const host of HOSTS) {
      const server = http.createServer((req, res) => {
        void roleOf(host, redisPort).then((role) => {
          const primary = role === 'master';
          const ok = req.url === '/primary' ? primary : req.url === '/replica' ? role === 'slave' : false;
          res.writeHead(ok ? 200 : 503).end(role);
        });
      });
      await new Promise<void>((r) => server.listen(healthPort, host, () => r()));
      endpoints.push(server);
    }
    listen = await freePort();
    w = await startTestWeir([`"127.0.0.1:${listen}"`]);
    const up = await w.admin('PUT', '/apisix/admin/upstreams/pg', {
      type: 'roundrobin',
      nodes: HOSTS.map((host) => ({ host, port: redisPort, weight: 1 })),
      checks: {
        active: {
          type: 'http', http_path: '/primary', port: healthPort, timeout: 1,
          healthy: { interval: 1, successes: 1 }, unhealthy: { interval: 1, http_failures: 1 },
        },
      },
    });
    assert.equal(up.status, 201, JSON.stringify(up.body));
    assert.equal((await w.admin('PUT', '/apisix/admin/stream_routes/pg', { server_port: listen, upstream_id: 'pg' })).status, 201);
  });
  after(async () => {
    await w?.stop();
    for (const s of endpoints) await new Promise((r) => s.close(r));
    for (const child of redis) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill();
      await exited;
    }
  });

  /** Which redis a new connection through weir reaches: the address it is bound to ('' when none answered). */
  const reached = (): Promise<string> =>
    ask('127.0.0.1', listen, resp('CONFIG', 'GET', 'bind'), (r) => /127\.0\.0\.\d\r\n$/.test(r)).then((r) => /127\.0\.0\.\d/.exec(r.split('bind')[1] ?? '')?.[0] ?? '');

  async function statusOf(host: string): Promise<string> {
    const r = await w.admin('GET', '/v1/healthcheck/upstreams/pg');
    return r.body.nodes.find((n: { ip: string }) => n.ip === host)?.status ?? 'none';
  }

  async function settled(primary: string, replica: string): Promise<void> {
    for (let i = 0; i < 200 && ((await statusOf(primary)) !== 'healthy' || (await statusOf(replica)) !== 'unhealthy'); i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.deepEqual([await statusOf(primary), await statusOf(replica)], ['healthy', 'unhealthy']);
  }

  it('sends every connection to the primary; the replica is down in /v1/healthcheck', async () => {
    assert.deepEqual([await roleOf(HOSTS[0], redisPort), await roleOf(HOSTS[1], redisPort)], ['master', 'slave']);
    await settled(HOSTS[0], HOSTS[1]);
    const info = await w.admin('GET', '/v1/healthcheck/upstreams/pg');
    assert.equal(info.body.type, 'http');
    const seen = [];
    for (let i = 0; i < 10; i++) seen.push(await reached());
    assert.deepEqual(seen, Array(10).fill(HOSTS[0]));
  });

  it('after a switchover every new connection goes to the new primary within 3 s', async () => {
    // promote the replica, demote the old primary (what Patroni does on a switchover)
    assert.match(await ask(HOSTS[1], redisPort, resp('REPLICAOF', 'NO', 'ONE'), (r) => r.includes('\r\n')), /^\+OK/);
    assert.match(await ask(HOSTS[0], redisPort, resp('REPLICAOF', HOSTS[1], String(redisPort)), (r) => r.includes('\r\n')), /^\+OK/);
    const switched = Date.now();
    const log: Array<[number, string]> = [];
    // until 4 s, and on a busy machine (slow connections) on until 5 connections after 3 s were tried (bounded)
    while ((Date.now() - switched < 4000 || log.filter(([t]) => t >= 3000).length < 5) && Date.now() - switched < 15_000) {
      log.push([Date.now() - switched, await reached()]);
      await new Promise((r) => setTimeout(r, 50));
    }
    const late = log.filter(([t]) => t >= 3000);
    assert.ok(late.length >= 5, `connections after 3 s: ${late.length}`);
    assert.deepEqual(late.filter(([, host]) => host !== HOSTS[1]), [], `every connection after 3 s reached the new primary: ${JSON.stringify(log)}`);
    const lastOld = log.filter(([, host]) => host !== HOSTS[1]).at(-1)?.[0] ?? 0;
    assert.ok(lastOld < 3000, `last connection to the old primary ${lastOld} ms after the switch`);
  });

  it('once /v1/healthcheck shows the old primary down, no new connection reaches it', async () => {
    for (let i = 0; i < 200 && (await statusOf(HOSTS[0])) !== 'unhealthy'; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(await statusOf(HOSTS[0]), 'unhealthy');
    const seen = [];
    for (let i = 0; i < 20; i++) seen.push(await reached());
    assert.deepEqual(seen, Array(20).fill(HOSTS[1]));
  });
});
