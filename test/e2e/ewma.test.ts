// ewma end to end with a slow server: the balancer's sample is the time from the client's first bytes to the
// node's first answer (not the near-zero loopback connect), so a node answering 250 ms later gets almost
// no new connections once both have been measured.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type net from 'node:net';
import { exchange, freePort, startServer, type TestServer } from '../helpers/net';
import { startTestWeir, type TestWeir } from '../helpers/weir';

/** A server that answers `${tag}${request}` after `delayMs`, then closes. */
function answering(tag: string, delayMs: number): Promise<TestServer> {
  return startServer((s: net.Socket) => {
    s.once('data', (d: Buffer) => setTimeout(() => s.end(`${tag}${d}`), delayMs));
  });
}

describe('ewma sees reply latency', () => {
  let w: TestWeir;
  let listen: number;
  let fast: TestServer;
  let slow: TestServer;

  before(async () => {
    fast = await answering('F:', 0);
    slow = await answering('S:', 250);
    listen = await freePort();
    w = await startTestWeir([`"127.0.0.1:${listen}"`]);
    const put = await w.admin('PUT', '/apisix/admin/stream_routes/e', {
      server_port: listen,
      // the fast node first: the first connection of the process (the slowest to set up) goes to it, so connect
      // times alone would favour the slow node
      upstream: { type: 'ewma', nodes: { [`127.0.0.1:${fast.port}`]: 1, [`127.0.0.1:${slow.port}`]: 1 } },
    });
    assert.equal(put.status, 201);
  });
  after(async () => {
    await w?.stop();
    await fast?.close();
    await slow?.close();
  });

  /** `n` sequential connections, each sending a request and reading the answer; the tags that answered. */
  async function connections(n: number): Promise<string[]> {
    const tags: string[] = [];
    for (let i = 0; i < n; i++) {
      const r = await exchange(listen, `q${i}`, { timeoutMs: 10_000 });
      tags.push(r.data.toString().slice(0, 1) || '-');
    }
    return tags;
  }

  it('after a warm-up that measures both nodes, at least 16 of 20 connections go to the fast one', async () => {
    const warm = await connections(4);
    assert.ok(warm.includes('S') && warm.includes('F'), `both nodes measured in the warm-up: ${warm.join('')}`);
    const tags = await connections(20);
    const toFast = tags.filter((t) => t === 'F').length;
    assert.ok(toFast >= 16, `fast node got ${toFast} of 20: ${tags.join('')}`);
    assert.ok(!tags.includes('-'), `every connection answered: ${tags.join('')}`);
  });
});
