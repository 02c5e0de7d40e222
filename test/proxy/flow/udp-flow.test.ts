// The UDP flow's session clock on real sockets: a session is never ended as idle before its idle time has passed,
// even when it opens while the clock's tick is late (a burst of new clients on a busy machine holds it back).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startUdpProxy, type UdpProxy } from '../../../src/proxy/listener/udp';
import { createNodeUdpDataPlane } from '../../../src/runtime/udp/node';
import { buildSnapshot } from '../../../src/snapshot/build';
import { AccessLog, type AccessRecord, configureErrorLog } from '../../../src/log/logger';
import type { Snapshot } from '../../../src/snapshot/types';
import { startUdpEcho, udpClient, until, wait, type UdpClient, type UdpEcho } from '../../helpers/udp';

describe('UDP session clock', () => {
  let echo: UdpEcho;
  let proxy: UdpProxy;
  let client: UdpClient;
  const records: AccessRecord[] = [];
  const accessLog = new AccessLog({ sink: (text) => records.push(...text.trim().split('\n').map((l) => JSON.parse(l))) });

  before(async () => {
    configureErrorLog({ sink: () => {} });
    echo = await startUdpEcho('up:');
    client = await udpClient();
  });
  after(async () => {
    await proxy?.shutdown(0);
    await client.close();
    await echo.close();
    configureErrorLog({ sink: (text) => process.stderr.write(text) });
  });

  it('a session opened 1.5 s into a 2 s tick still gets its whole idle time (1 s) after its last datagram', async () => {
    const upstream = { nodes: { [`127.0.0.1:${echo.port}`]: 1 }, timeout: { connect: 1, send: 1, read: 1 } };
    const route = { id: 'u', upstream };
    const snapshot: Snapshot = buildSnapshot(
      { revision: 1, streamRoutes: [{ id: 'u', value: route, createdIndex: 1, modifiedIndex: 1, raw: JSON.stringify(route) }], upstreams: [], ssls: [], unreadable: [] },
      null,
    ).snapshot;
    // the clock ticks every 2 s from here: the table's time stays at the start until the first tick
    proxy = await startUdpProxy({
      plane: createNodeUdpDataPlane(), listeners: [{ host: '127.0.0.1', port: 0, origin: 'test' }], snapshot: () => snapshot,
      accessLog, maxSessions: 10, responses: null, tickMs: 2000,
    });
    await wait(1500);
    client.send('x', proxy.listeners[0]!.port);
    assert.deepEqual(await client.waitReplies(1), ['up:x']);
    await until(() => (accessLog.flush(), records.length === 1), 10_000, 'the session over');
    // stamped with the stale time, the session looked 2 s idle at the first tick and ended after ~0.5 s; the
    // table's clock and the session's start are read a moment apart, hence the few ms of slack
    assert.equal(records[0]!.end, 'idle_timeout');
    assert.ok(records[0]!.duration_ms >= 995, `ended as idle after ${records[0]!.duration_ms} ms`);
  });
});
