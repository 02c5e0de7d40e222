// Shared contract suite for every UdpDataPlane implementation (node:dgram now, Bun.udpSocket later).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { UdpDataPlane, UdpListener, UdpSocketError, UdpUpstream, UdpUpstreamHandlers } from '../../../src/runtime/types';
import { deadUdpPort, startUdpEcho, udpClient, until, wait, type UdpEcho } from '../../helpers/udp';

interface Seen {
  address: string;
  port: number;
  text: string;
  listener: UdpListener;
}

/** Context object of the upstream sockets opened by the tests: what each socket received. */
interface Ctx {
  name: string;
  data: string[];
  errors: UdpSocketError[];
}

const handlers: UdpUpstreamHandlers<Ctx> = {
  onDatagram: (sock, data) => sock.context.data.push(Buffer.from(data).toString()),
  onError: (sock, err) => sock.context.errors.push(err),
};

export function runUdpDataPlaneContract(makePlane: () => UdpDataPlane): void {
  describe('UdpDataPlane contract', () => {
    const plane = makePlane();
    const listeners: UdpListener[] = [];
    const sockets: UdpUpstream<Ctx>[] = [];
    let echo: UdpEcho;
    const seen: Seen[] = [];
    const record = (listener: UdpListener, data: Uint8Array, address: string, port: number): void => {
      seen.push({ listener, address, port, text: Buffer.from(data).toString() });
    };

    before(async () => {
      echo = await startUdpEcho('echo:');
    });
    after(async () => {
      for (const s of sockets) s.close();
      await Promise.all(listeners.map((l) => l.close()));
      await echo.close();
    });

    async function bound(host: string): Promise<UdpListener> {
      const l = await plane.bind({ host, port: 0 }, record);
      listeners.push(l);
      return l;
    }

    it('binds an ephemeral port, reports each datagram with its sender, and replies from the listener', async () => {
      const l = await bound('127.0.0.1');
      assert.equal(l.host, '127.0.0.1');
      assert.ok(l.port > 0);
      const c = await udpClient();
      try {
        seen.length = 0;
        c.send('one', l.port);
        c.send('two', l.port);
        await until(() => seen.length === 2);
        assert.deepEqual(
          seen.map((s) => [s.text, s.address, s.port, s.listener === l]),
          [
            ['one', '127.0.0.1', c.port, true],
            ['two', '127.0.0.1', c.port, true],
          ],
        );
        l.send(Buffer.from('reply'), '127.0.0.1', c.port);
        await c.waitReplies(1);
        assert.deepEqual(c.replies, [{ text: 'reply', address: '127.0.0.1', port: l.port }]);
      } finally {
        await c.close();
      }
    });

    it('takes a burst beyond the default receive buffer without loss, in order', async () => {
      // 212992 bytes (rmem_default) hold 256 small datagrams; a listener that asks for a larger buffer holds
      // at least 512 even where net.core.rmem_max is left at that default (Linux doubles the granted size).
      const BURST = 400;
      const l = await bound('127.0.0.1');
      const c = await udpClient();
      try {
        seen.length = 0;
        for (let i = 0; i < BURST; i++) c.send(`b${i}`, l.port);
        await until(() => seen.length === BURST, 10_000, `${BURST} datagrams`);
        assert.deepEqual(
          seen.map((s) => s.text),
          Array.from({ length: BURST }, (_, i) => `b${i}`),
        );
      } finally {
        await c.close();
      }
    });

    it('reports IPv4 clients of a dual-stack "::" listener as plain IPv4 and replies to them', async () => {
      const l = await bound('::');
      const c = await udpClient();
      try {
        seen.length = 0;
        c.send('v4', l.port);
        await until(() => seen.length === 1);
        assert.deepEqual([seen[0]!.address, seen[0]!.port], ['127.0.0.1', c.port]);
        l.send(Buffer.from('back'), seen[0]!.address, seen[0]!.port);
        assert.deepEqual(await c.waitReplies(1), ['back']);
      } finally {
        await c.close();
      }
    });

    it('serves IPv6 clients on "::1"', async () => {
      const l = await bound('::1');
      const c = await udpClient('::1');
      try {
        seen.length = 0;
        c.send('v6', l.port, '::1');
        await until(() => seen.length === 1);
        assert.deepEqual([seen[0]!.address, seen[0]!.port], ['::1', c.port]);
        l.send(Buffer.from('back6'), '::1', c.port);
        assert.deepEqual(await c.waitReplies(1), ['back6']);
        assert.equal(c.replies[0]!.port, l.port);
      } finally {
        await c.close();
      }
    });

    it('rejects a port already in use with EADDRINUSE', async () => {
      const l = await bound('127.0.0.1');
      await assert.rejects(plane.bind({ host: '127.0.0.1', port: l.port }, record), { code: 'EADDRINUSE' });
    });

    it('releases the port on close', async () => {
      const l = await plane.bind({ host: '127.0.0.1', port: 0 }, record);
      await l.close();
      const again = await plane.bind({ host: '127.0.0.1', port: l.port }, record);
      listeners.push(again);
      assert.equal(again.port, l.port);
    });

    it('sends right after open (queued until connected) and delivers the replies with the context', async () => {
      const ctx: Ctx = { name: 'a', data: [], errors: [] };
      const up = plane.open('127.0.0.1', echo.port, handlers, ctx);
      sockets.push(up);
      assert.equal(up.context, ctx);
      assert.deepEqual([up.remoteAddress, up.remotePort], ['127.0.0.1', echo.port]);
      up.send(Buffer.from('q1'));
      up.send(Buffer.from('q2'));
      await until(() => ctx.data.length === 2);
      assert.deepEqual(ctx.data, ['echo:q1', 'echo:q2']);
      assert.deepEqual(ctx.errors, []);
      // one socket: both datagrams came from the same source port
      assert.equal(echo.sources.size, 1);
    });

    it('reports ICMP port unreachable as kind "refused"', async () => {
      const ctx: Ctx = { name: 'dead', data: [], errors: [] };
      const up = plane.open('127.0.0.1', await deadUdpPort(), handlers, ctx);
      sockets.push(up);
      up.send(Buffer.from('anyone?'));
      await until(() => ctx.errors.length > 0);
      assert.equal(ctx.errors[0]!.kind, 'refused');
      assert.equal(ctx.errors[0]!.code, 'ECONNREFUSED');
      assert.deepEqual(ctx.data, []);
    });

    it('close() right after send still sends, and no callback fires afterwards', async () => {
      const ctx: Ctx = { name: 'closing', data: [], errors: [] };
      const before = echo.received.length;
      const up = plane.open('127.0.0.1', echo.port, handlers, ctx);
      up.send(Buffer.from('last words'));
      up.close();
      up.close();
      await until(() => echo.received.length === before + 1);
      assert.equal(echo.received.at(-1), 'last words');
      await wait(50); // the echo's answer reaches a closed socket
      assert.deepEqual(ctx.data, []);
      assert.deepEqual(ctx.errors, []);
    });

    it('opens upstream sockets to IPv6 nodes', async () => {
      const echo6 = await startUdpEcho('six:', 1, '::1');
      const ctx: Ctx = { name: 'v6', data: [], errors: [] };
      const up = plane.open('::1', echo6.port, handlers, ctx);
      try {
        up.send(Buffer.from('hi'));
        await until(() => ctx.data.length === 1);
        assert.deepEqual(ctx.data, ['six:hi']);
      } finally {
        up.close();
        await echo6.close();
      }
    });
  });
}
