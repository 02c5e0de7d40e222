// The listener manager on real sockets: apply a list, then another; new addresses bind, removed ones stop
// accepting, kept ones keep their socket; a failed bind leaves the previous set serving.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startTcpProxy, type TcpProxy } from '../../../src/proxy/listener/tcp';
import { startUdpProxy } from '../../../src/proxy/listener/udp';
import { createNodeTcpDataPlane } from '../../../src/runtime/tcp/node/plane';
import { createNodeUdpDataPlane } from '../../../src/runtime/udp/node';
import { emptySnapshot } from '../../../src/snapshot/build';
import { AccessLog, configureErrorLog } from '../../../src/log/logger';
import type { TcpListenSpec, UdpListenSpec } from '../../../src/config/types';
import { freePort } from '../../helpers/net';

/** Whether something accepts TCP connections on the port now. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

const spec = (port: number, origin: string, extra: Partial<TcpListenSpec> = {}): TcpListenSpec => ({ host: '127.0.0.1', port, tls: false, origin, ...extra });

describe('ListenerSet through startTcpProxy', () => {
  let proxy: TcpProxy;
  let p1: number, p2: number, p3: number;
  const accessLog = new AccessLog({ disabled: true });

  before(async () => {
    configureErrorLog({ sink: () => {} });
    [p1, p2, p3] = [await freePort(), await freePort(), await freePort()];
    proxy = await startTcpProxy({ plane: createNodeTcpDataPlane(), listeners: [spec(p1, 'a'), spec(p2, 'b')], snapshot: emptySnapshot, accessLog });
  });
  after(async () => {
    await proxy.shutdown(0);
    configureErrorLog({ sink: (text) => process.stderr.write(text) });
  });

  it('binds the first list in order', async () => {
    assert.deepEqual(proxy.listeners.map((l) => [l.port, l.origin]), [[p1, 'a'], [p2, 'b']]);
    assert.deepEqual([await accepts(p1), await accepts(p2), await accepts(p3)], [true, true, false]);
  });

  it('a second list adds, removes and keeps, and says which', async () => {
    const r = await proxy.applyListeners([spec(p2, 'b2'), spec(p3, 'c')]);
    assert.deepEqual(r.added.map((l) => l.port), [p3]);
    assert.deepEqual(r.removed.map((l) => l.port), [p1]);
    assert.deepEqual(r.changed.map((l) => [l.port, l.origin]), [[p2, 'b2']]);
    assert.deepEqual([await accepts(p1), await accepts(p2), await accepts(p3)], [false, true, true]);
    assert.deepEqual(proxy.listeners.map((l) => [l.port, l.origin]), [[p2, 'b2'], [p3, 'c']]);
  });

  it('a kept listener keeps serving its open connections while others are removed', async () => {
    const open = net.connect({ port: p2, host: '127.0.0.1' });
    await new Promise((r) => open.once('connect', r));
    const r = await proxy.applyListeners([spec(p2, 'b2')]);
    assert.deepEqual(r.removed.map((l) => l.port), [p3]);
    assert.equal(await accepts(p2), true);
    open.destroy();
  });

  it('turning TLS on needs a new socket: unbound, then bound with the new spec', async () => {
    const r = await proxy.applyListeners([spec(p2, 'b3', { tls: true })]);
    assert.deepEqual([r.removed.map((l) => l.port), r.added.map((l) => l.port)], [[p2], [p2]]);
    assert.equal(await accepts(p2), true);
  });

  it('a port that is taken fails the whole call, names the address, and leaves the previous set serving', async () => {
    const blocker = net.createServer();
    const taken = await freePort();
    await new Promise<void>((r) => blocker.listen(taken, '127.0.0.1', r));
    try {
      const fresh = await freePort();
      await assert.rejects(proxy.applyListeners([spec(p2, 'b3', { tls: true }), spec(fresh, 'new'), spec(taken, 'busy')]), (err: NodeJS.ErrnoException) => {
        assert.equal(err.code, 'EADDRINUSE');
        assert.equal(err.message, `cannot listen on 127.0.0.1:${taken} (busy): address already in use`);
        return true;
      });
      assert.equal(await accepts(fresh), false, 'the listener bound by the failed call was released');
      assert.equal(await accepts(p2), true);
      assert.deepEqual(proxy.listeners.map((l) => l.port), [p2]);
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });
});

describe('ListenerSet through startUdpProxy', () => {
  it('adds and removes UDP listeners; a removed port is free again', async () => {
    const [u1, u2] = [await freePort(), await freePort()];
    const uspec = (port: number): UdpListenSpec => ({ host: '127.0.0.1', port, origin: `u${port}` });
    const proxy = await startUdpProxy({
      plane: createNodeUdpDataPlane(), listeners: [], snapshot: emptySnapshot, accessLog: new AccessLog({ disabled: true }), maxSessions: 4, responses: null,
    });
    try {
      assert.equal(proxy.listeners.length, 0);
      const r = await proxy.applyListeners([uspec(u1), uspec(u2)]);
      assert.deepEqual(r.added.map((l) => l.port), [u1, u2]);
      const r2 = await proxy.applyListeners([uspec(u2)]);
      assert.deepEqual(r2.removed.map((l) => l.port), [u1]);
      assert.deepEqual(proxy.listeners.map((l) => l.port), [u2]);
      // the removed port is free again: something else can bind it
      const again = await startUdpProxy({
        plane: createNodeUdpDataPlane(), listeners: [uspec(u1)], snapshot: emptySnapshot, accessLog: new AccessLog({ disabled: true }), maxSessions: 4, responses: null,
      });
      await again.shutdown(0);
    } finally {
      await proxy.shutdown(0);
    }
  });
});
