// A real redis-server behind weir, driven by the real redis-cli.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { freePort } from '../helpers/net';
import { startTestWeir, type TestWeir } from '../helpers/weir';
import { missingServers, startRedis } from '../helpers/servers';

const run = promisify(execFile);
const skip = missingServers('redis-server', 'redis-cli');

describe('redis behind weir', { skip: skip ?? false }, () => {
  let redis: ChildProcess;
  let w: TestWeir;
  let port: number;

  before(async () => {
    const redisPort = await freePort();
    redis = await startRedis(redisPort);
    port = await freePort();
    w = await startTestWeir([`"127.0.0.1:${port}"`]);
    const put = await w.admin('PUT', '/apisix/admin/stream_routes/redis', {
      server_port: port,
      upstream: { nodes: { [`127.0.0.1:${redisPort}`]: 1 }, type: 'roundrobin' },
    });
    assert.equal(put.status, 201);
  });
  after(async () => {
    await w?.stop();
    redis?.kill();
  });

  const cli = async (...args: string[]) =>
    (await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 10000 })).stdout.trim();

  it('answers PING, SET and GET through the proxy', async () => {
    assert.equal(await cli('PING'), 'PONG');
    assert.equal(await cli('SET', 'weir:key', 'value through weir'), 'OK');
    assert.equal(await cli('GET', 'weir:key'), 'value through weir');
  });

  it('carries a pipelined burst of 1000 commands on one connection', async () => {
    const { stdout } = await run('sh', ['-c', `for i in $(seq 1 1000); do echo "INCR weir:n"; done | redis-cli -h 127.0.0.1 -p ${port}`], {
      timeout: 20000,
    });
    const lines = stdout.trim().split('\n');
    assert.equal(lines.length, 1000);
    assert.equal(lines.at(-1), '1000');
  });
});
