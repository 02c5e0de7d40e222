// Shared contract suite for every TcpDataPlane implementation (node:net now, Bun-native later).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { createHash } from 'node:crypto';
import { missingServers, startStalledListener } from '../../helpers/servers';
import { pem } from '../../tls/fixtures';
import type { ConnectError, InboundConn, OutboundConn, PipeOptions, PipeResult, PipeThrottle, PrereadState, TcpDataPlane, TcpListener } from '../../../src/runtime/types';
import { TokenBucket } from '../../../src/lib/token-bucket';

/** A loopback proxy built from the plane alone: accept -> connect -> pipe, results collected. */
interface TestProxy {
  port: number;
  results: PipeResult[];
  /** pipe `done` calls per connection, in accept order */
  doneCalls: number[];
  /** per connection: `done` got the very options object given to pipe() back */
  optsBack: boolean[];
  inbound: InboundConn[];
  next(): Promise<PipeResult>;
}

function wait(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Poll (bounded) until cond() holds. */
async function until(cond: () => boolean, ms = 5000): Promise<void> {
  for (let waited = 0; !cond(); waited += 5) {
    if (waited >= ms) throw new Error('condition not reached in time');
    await wait(5);
  }
}

function listenServer(handler: (s: net.Socket) => void): Promise<net.Server> {
  const srv = net.createServer({ allowHalfOpen: true }, handler);
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve(srv)));
}

function portOf(srv: net.Server): number {
  return (srv.address() as net.AddressInfo).port;
}

function connectClient(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () => resolve(s));
    s.once('error', reject);
  });
}

/** Read everything until FIN (or close); resolves with the bytes. */
function readAll(s: net.Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  s.on('data', (d: Buffer) => chunks.push(d));
  s.on('error', () => {});
  // with allowHalfOpen the client socket stays open after the proxy's FIN: the FIN is the end of the reply
  return new Promise((resolve) => {
    const finish = (): void => resolve(Buffer.concat(chunks));
    s.once('end', finish);
    s.once('close', finish);
  });
}

/** Deterministic pseudo-random 64 KiB block (xorshift). */
function block(seed: number): Buffer {
  const b = Buffer.allocUnsafe(65536);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < b.length; i += 4) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    b.writeUInt32LE(x, i);
  }
  return b;
}

/** Send `total` bytes with backpressure, then FIN; resolves with the sha256. */
function sendBulk(s: net.Socket, total: number, seed: number): Promise<string> {
  const h = createHash('sha256');
  let sent = 0;
  let n = seed;
  return new Promise((resolve) => {
    const more = (): void => {
      while (sent < total) {
        let b = block(n++);
        if (sent + b.length > total) b = b.subarray(0, total - sent);
        h.update(b);
        sent += b.length;
        if (!s.write(b)) return void s.once('drain', more);
      }
      s.end();
      resolve(h.digest('hex'));
    };
    more();
  });
}

/** A throttle for the tests: a token bucket per limited direction, and how often the plane asked. */
function testThrottle(rate: number, burst: number, dirs: { upload: boolean; download: boolean }): PipeThrottle & { calls: number } {
  const now = (): number => performance.now();
  const up = dirs.upload ? new TokenBucket(rate, burst, now()) : null;
  const down = dirs.download ? new TokenBucket(rate, burst, now()) : null;
  return {
    calls: 0,
    consumed(upload, bytes) {
      this.calls++;
      const b = upload ? up : down;
      return b === null ? 0 : b.take(bytes, now());
    },
  };
}

/** Receive until FIN, pausing 20 ms every 4 MiB (a slow reader forces backpressure in the proxy). */
function receiveSlowly(s: net.Socket): Promise<{ sha: string; bytes: number }> {
  const h = createHash('sha256');
  let got = 0;
  let mark = 4 << 20;
  s.on('data', (d: Buffer) => {
    h.update(d);
    got += d.length;
    if (got >= mark) {
      mark += 4 << 20;
      s.pause();
      setTimeout(() => s.resume(), 20);
    }
  });
  return new Promise((resolve) => s.once('end', () => resolve({ sha: h.digest('hex'), bytes: got })));
}

export function runTcpDataPlaneContract(make: () => TcpDataPlane): void {
  describe('TcpDataPlane contract', { timeout: 150_000 }, () => {
    let plane: TcpDataPlane;
    const cleanups: Array<() => unknown> = [];

    before(() => {
      plane = make();
    });
    after(async () => {
      for (const undo of cleanups.reverse()) await undo();
    });

    async function server(handler: (s: net.Socket) => void): Promise<number> {
      const srv = await listenServer(handler);
      cleanups.push(() => new Promise((r) => srv.close(r)));
      return portOf(srv);
    }

    /**
     * pipeDelayMs > 0: pipe() runs that long after the connect, so both sides can send before it.
     * `prefix` is the pipe's upstreamPrefix; `prereadBytes` > 0: preread() until that many client bytes arrived,
     * then connect (the bytes stay queued for pipe()).
     */
    async function proxyTo(
      upPort: number,
      idleTimeoutMs = 5000,
      pipeDelayMs = 0,
      {
        prefix = null,
        prereadBytes = 0,
        latencies,
        timeReply = true,
        throttle = null,
      }: { prefix?: Uint8Array | null; prereadBytes?: number; latencies?: number[]; timeReply?: boolean; throttle?: PipeThrottle | null } = {},
    ): Promise<TestProxy> {
      const proxy: TestProxy = { port: 0, results: [], doneCalls: [], optsBack: [], inbound: [], next: () => Promise.reject(new Error('unset')) };
      let served = 0;
      proxy.next = async () => {
        const want = ++served;
        await until(() => proxy.results.length >= want, 20_000);
        return proxy.results[want - 1]!;
      };
      const listener: TcpListener = await plane.listen({ host: '127.0.0.1', port: 0 }, (conn) => {
        const i = proxy.inbound.push(conn) - 1;
        proxy.doneCalls[i] = 0;
        if (prereadBytes === 0) return dial(conn, i);
        plane.preread(conn, 4096, 2000, (bytes, state) => {
          if (state === 'data' && bytes.length < prereadBytes) return false;
          dial(conn, i);
          return true;
        });
      });
      const dial = (conn: InboundConn, i: number): void =>
        plane.connect('127.0.0.1', upPort, 2000, (err, out) => {
          if (err || !out) return plane.destroy(conn);
          const opts: PipeOptions = { idleTimeoutMs, upstreamPrefix: prefix, throttle };
          // the latency hook as ewma's sessions use it: asked for, and reported through a method
          if (latencies !== undefined) Object.assign(opts, { timeReply, replyLatency: (ms: number) => latencies.push(ms) });
          const start = (): void =>
            plane.pipe(conn, out, opts, (r, back) => {
              proxy.optsBack[i] = back === opts;
              proxy.doneCalls[i]!++;
              proxy.results.push(r);
            });
          if (pipeDelayMs > 0) setTimeout(start, pipeDelayMs);
          else start();
        });
      cleanups.push(() => listener.stop());
      proxy.port = listener.port;
      return proxy;
    }

    const echo = (s: net.Socket): void => {
      s.on('error', () => {});
      s.pipe(s);
    };

    it('echoes a round trip, reports exact byte counts and calls done once', async () => {
      const proxy = await proxyTo(await server(echo));
      const c = await connectClient(proxy.port);
      const got = readAll(c);
      c.write('hello weir');
      await until(() => c.bytesRead >= 10);
      c.end();
      assert.equal((await got).toString(), 'hello weir');
      const r = await proxy.next();
      assert.deepEqual(r, { bytesFromClient: 10, bytesToClient: 10, reason: 'closed' });
      assert.equal(proxy.inbound[0]!.remoteAddress, '127.0.0.1');
      assert.equal(proxy.inbound[0]!.localPort, proxy.port);
      await wait(50);
      assert.deepEqual(proxy.doneCalls, [1]);
      assert.deepEqual(proxy.optsBack, [true], 'done() hands the pipe options back (one shared callback serves all)');
    });

    it('moves 64 MiB each way at once with slow readers, intact (sha256) and counted', { timeout: 120_000 }, async () => {
      const TOTAL = 64 * 1024 * 1024;
      let upstreamSide: Promise<[string, { sha: string; bytes: number }]> | null = null;
      const proxy = await proxyTo(
        await server((s) => {
          upstreamSide = Promise.all([sendBulk(s, TOTAL, 1000), receiveSlowly(s)]);
        }),
      );
      const c = await connectClient(proxy.port);
      const [clientSent, clientGot] = await Promise.all([sendBulk(c, TOTAL, 1), receiveSlowly(c)]);
      await until(() => upstreamSide !== null);
      const [upSent, upGot] = await upstreamSide!;
      assert.equal(upGot.bytes, TOTAL);
      assert.equal(clientGot.bytes, TOTAL);
      assert.equal(upGot.sha, clientSent, 'client -> upstream bytes differ');
      assert.equal(clientGot.sha, upSent, 'upstream -> client bytes differ');
      const r = await proxy.next();
      assert.deepEqual(r, { bytesFromClient: TOTAL, bytesToClient: TOTAL, reason: 'closed' });
      c.destroy();
    });

    it('passes a client half-close on and still delivers the whole reply', async () => {
      // upstream answers only after the client's FIN: 1 MiB reply, then its own FIN
      const proxy = await proxyTo(
        await server((s) => {
          let n = 0;
          s.on('data', (d: Buffer) => (n += d.length));
          s.on('end', () => s.end(Buffer.alloc(1 << 20, n % 256)));
        }),
      );
      const c = await connectClient(proxy.port);
      const got = readAll(c);
      c.end('abc'); // request + FIN at once
      const reply = await got;
      assert.equal(reply.length, 1 << 20);
      assert.equal(reply[0], 3);
      assert.deepEqual(await proxy.next(), { bytesFromClient: 3, bytesToClient: 1 << 20, reason: 'closed' });
    });

    it('delivers, in order, what both sides sent before pipe() started', async () => {
      // the upstream greets at once (as MySQL does); the client writes three requests while pipe() waits
      let upstreamGot: Promise<Buffer> | null = null;
      const proxy = await proxyTo(
        await server((s) => {
          s.write('greeting;');
          const chunks: Buffer[] = [];
          s.on('data', (d: Buffer) => chunks.push(d));
          upstreamGot = new Promise((resolve) => s.once('end', () => resolve(Buffer.concat(chunks))));
          s.once('end', () => s.end('bye'));
        }),
        5000,
        150,
      );
      const c = await connectClient(proxy.port);
      const got = readAll(c);
      for (const part of ['one;', 'two;', 'three;']) {
        c.write(part);
        await wait(20);
      }
      c.end();
      assert.equal((await got).toString(), 'greeting;bye');
      await until(() => upstreamGot !== null);
      assert.equal((await upstreamGot!).toString(), 'one;two;three;');
      assert.deepEqual(await proxy.next(), { bytesFromClient: 14, bytesToClient: 12, reason: 'closed' });
    });

    /** An upstream that keeps every byte it gets; on the client's FIN it answers `reply` and ends. */
    function recordingServer(reply: string): { port: Promise<number>; got: Buffer[] } {
      const got: Buffer[] = [];
      const port = server((s) => {
        s.on('error', () => {});
        s.on('data', (d: Buffer) => got.push(d));
        s.on('end', () => s.end(reply));
      });
      return { port, got };
    }

    // a PROXY protocol v1 header, as the next issue will send
    const HEADER = Buffer.from('PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n');

    it('writes upstreamPrefix to the upstream once, before the client\'s bytes, and does not count it', async () => {
      const up = recordingServer('ok');
      const proxy = await proxyTo(await up.port, 5000, 0, { prefix: HEADER });
      const c = await connectClient(proxy.port);
      const got = readAll(c);
      c.end('abc');
      assert.equal((await got).toString(), 'ok');
      assert.equal(Buffer.concat(up.got).toString(), `${HEADER}abc`);
      assert.deepEqual(await proxy.next(), { bytesFromClient: 3, bytesToClient: 2, reason: 'closed' });
    });

    /** The client sends 'hello' (preread), then ' world' once the upstream holds the first bytes, then FIN. */
    async function prereadThenRest(prefix: Uint8Array | null): Promise<{ upstream: string; result: PipeResult }> {
      const up = recordingServer('ok');
      const proxy = await proxyTo(await up.port, 5000, 0, { prefix, prereadBytes: 5 });
      const c = await connectClient(proxy.port);
      const got = readAll(c);
      c.write('hello');
      // the preread bytes have gone through once the upstream holds them: only then does the client go on
      await until(() => Buffer.concat(up.got).length >= (prefix?.length ?? 0) + 5);
      c.end(' world');
      assert.equal((await got).toString(), 'ok');
      return { upstream: Buffer.concat(up.got).toString(), result: await proxy.next() };
    }

    it('writes the prefix, then the bytes preread() left queued, then the rest', async () => {
      assert.deepEqual(await prereadThenRest(HEADER), {
        upstream: `${HEADER}hello world`,
        result: { bytesFromClient: 11, bytesToClient: 2, reason: 'closed' },
      });
    });

    it('with a null prefix the upstream gets exactly the client\'s bytes, preread ones first', async () => {
      assert.deepEqual(await prereadThenRest(null), {
        upstream: 'hello world',
        result: { bytesFromClient: 11, bytesToClient: 2, reason: 'closed' },
      });
    });

    it('runs a second preread after the first: it sees the queued bytes again, then more; pipe forwards all once', async () => {
      const up = recordingServer('ok');
      const upPort = await up.port;
      const seen: string[] = [];
      const results: PipeResult[] = [];
      const listener = await plane.listen({ host: '127.0.0.1', port: 0 }, (conn) => {
        plane.preread(conn, 4096, 2000, (first, state) => {
          seen.push(`1:${state}:${Buffer.from(first).toString()}`);
          if (state === 'data' && first.length < 3) return false;
          // the second preread (a filter's, after the TLS prelude's) starts from the same bytes
          plane.preread(conn, 4096, 2000, (bytes, state2) => {
            seen.push(`2:${state2}:${Buffer.from(bytes).toString()}`);
            if (state2 === 'data' && bytes.length < 8) return false;
            plane.connect('127.0.0.1', upPort, 2000, (err, out) => {
              if (err || !out) return plane.destroy(conn);
              plane.pipe(conn, out, { idleTimeoutMs: 5000, upstreamPrefix: null }, (r) => results.push(r));
            });
            return true;
          });
          return true;
        });
      });
      cleanups.push(() => listener.stop());
      const c = await connectClient(listener.port);
      const got = readAll(c);
      c.write('abc');
      await until(() => seen.length >= 2);
      await wait(30);
      c.write('defgh');
      await until(() => Buffer.concat(up.got).length >= 8);
      c.end('!');
      assert.equal((await got).toString(), 'ok');
      await until(() => results.length === 1);
      assert.equal(Buffer.concat(up.got).toString(), 'abcdefgh!');
      assert.deepEqual(results[0], { bytesFromClient: 9, bytesToClient: 2, reason: 'closed' });
      assert.deepEqual(seen[0], '1:data:abc');
      assert.deepEqual(seen[1], '2:data:abc');
      assert.deepEqual(seen[seen.length - 1], '2:data:abcdefgh');
    });

    it('pipeCounts() reads a running pipe\'s byte counts and idle time; false before pipe() and after it ended', async () => {
      let inbound: InboundConn | null = null;
      const counts = { bytesFromClient: -1, bytesToClient: -1, idleMs: -1 };
      const bytes = (): number[] => [counts.bytesFromClient, counts.bytesToClient];
      const upPort = await server(echo);
      const results: PipeResult[] = [];
      let beforePipe: boolean | null = null;
      const listener = await plane.listen({ host: '127.0.0.1', port: 0 }, (conn) => {
        inbound = conn;
        beforePipe = plane.pipeCounts(conn, counts);
        plane.connect('127.0.0.1', upPort, 2000, (err, out) => {
          if (err || !out) return plane.destroy(conn);
          plane.pipe(conn, out, { idleTimeoutMs: 5000, upstreamPrefix: null }, (r) => results.push(r));
        });
      });
      cleanups.push(() => listener.stop());
      const c = await connectClient(listener.port);
      const got = readAll(c);
      c.write('0123456789');
      await until(() => c.bytesRead >= 10);
      assert.equal(beforePipe, false);
      assert.equal(plane.pipeCounts(inbound!, counts), true);
      assert.deepEqual(bytes(), [10, 10]);
      assert.ok(counts.idleMs >= 0 && counts.idleMs < 5000, String(counts.idleMs));
      c.write('abcde');
      await until(() => c.bytesRead >= 15);
      assert.equal(plane.pipeCounts(inbound!, counts), true);
      assert.deepEqual(bytes(), [15, 15]);
      c.end();
      await got;
      await until(() => results.length === 1);
      assert.equal(plane.pipeCounts(inbound!, counts), false);
      assert.deepEqual(bytes(), [15, 15], 'left as the last read wrote it');
    });

    it('delivers the prefix to the upstream while the client sends nothing', async () => {
      const got: Buffer[] = [];
      const upPort = await server((s) => {
        s.on('error', () => {});
        s.on('data', (d: Buffer) => {
          got.push(d);
          if (Buffer.concat(got).length >= HEADER.length) s.end('bye'); // answers the header alone
        });
      });
      const proxy = await proxyTo(upPort, 5000, 0, { prefix: HEADER });
      const c = await connectClient(proxy.port);
      const reply = readAll(c);
      assert.equal((await reply).toString(), 'bye');
      c.end();
      assert.deepEqual(Buffer.concat(got), HEADER);
      assert.deepEqual(await proxy.next(), { bytesFromClient: 0, bytesToClient: 3, reason: 'closed' });
    });

    it('queues a prefix larger than the socket takes, and the client\'s bytes behind it (slow upstream)', { timeout: 60_000 }, async () => {
      // 8 MiB is more than loopback socket buffers hold: the plane must queue part of the prefix, keep the
      // client's bytes behind it and wait for the upstream's drain
      const prefix = Buffer.concat(Array.from({ length: 128 }, (_, i) => block(500 + i)));
      const CLIENT = 1 << 20;
      let upstreamGot: Promise<{ sha: string; bytes: number; head: Buffer }> | null = null;
      const upPort = await server((s) => {
        s.pause(); // reads nothing for 200 ms
        const h = createHash('sha256');
        let bytes = 0;
        let head = Buffer.alloc(0);
        s.on('data', (d: Buffer) => {
          h.update(d);
          if (head.length < 64) head = Buffer.concat([head, d]).subarray(0, 64);
          bytes += d.length;
        });
        upstreamGot = new Promise((resolve) => s.once('end', () => resolve({ sha: h.digest('hex'), bytes, head })));
        s.once('end', () => s.end('ok'));
        setTimeout(() => s.resume(), 200);
      });
      const proxy = await proxyTo(upPort, 10_000, 0, { prefix });
      const c = await connectClient(proxy.port);
      const got = readAll(c);
      const want = createHash('sha256').update(prefix);
      let n = 9000;
      const sent: Buffer[] = [];
      for (let at = 0; at < CLIENT; at += 65536) sent.push(block(n++));
      for (const b of sent) want.update(b);
      for (const b of sent) c.write(b);
      c.end();
      assert.equal((await got).toString(), 'ok');
      await until(() => upstreamGot !== null);
      const up = await upstreamGot!;
      assert.equal(up.bytes, prefix.length + CLIENT);
      assert.deepEqual(up.head, prefix.subarray(0, 64));
      assert.equal(up.sha, want.digest('hex'), 'the upstream did not get prefix then client bytes, in order');
      assert.deepEqual(await proxy.next(), { bytesFromClient: CLIENT, bytesToClient: 2, reason: 'closed' });
    });

    /**
     * A listener whose preread drops everything up to the first "\n" (a stand-in for a PROXY header) with
     * consume(), then waits until `more` bytes follow it before dialling; `views` records every callback.
     */
    async function consumingProxy(upPort: number, more: number, connectPrefix: Uint8Array | null = null) {
      const views: Array<{ state: string; text: string }> = [];
      const results: PipeResult[] = [];
      const listener = await plane.listen({ host: '127.0.0.1', port: 0 }, (conn) => {
        let header = -1;
        plane.preread(conn, 64, 2000, (bytes, state) => {
          views.push({ state, text: Buffer.from(bytes).toString() });
          if (state !== 'data') {
            plane.destroy(conn);
            return true;
          }
          let rest = bytes;
          if (header < 0) {
            header = bytes.indexOf(0x0a);
            if (header < 0) return false;
            plane.consume(conn, header + 1);
            rest = bytes.subarray(header + 1);
          }
          if (rest.length < more) return false;
          plane.connect('127.0.0.1', upPort, 2000, (err, out) => {
            if (err || !out) return plane.destroy(conn);
            plane.pipe(conn, out, { idleTimeoutMs: 5000, upstreamPrefix: null }, (r) => results.push(r));
          }, null, connectPrefix);
          return true;
        });
      });
      cleanups.push(() => listener.stop());
      return { port: listener.port, views, results };
    }

    it('consume() in a preread callback drops a header split over segments; the pipe starts after it', async () => {
      const up = recordingServer('ok');
      const proxy = await consumingProxy(await up.port, 5);
      const c = await connectClient(proxy.port);
      const got = readAll(c);
      for (const part of ['HD', 'R:x', '\nhe', 'llo']) {
        c.write(part);
        await until(() => proxy.views.length > 0 && proxy.views.at(-1)!.text.endsWith(part.slice(-1)));
      }
      await until(() => Buffer.concat(up.got).length >= 5);
      c.end(' world');
      assert.equal((await got).toString(), 'ok');
      assert.equal(Buffer.concat(up.got).toString(), 'hello world');
      // before the "\n" the views grow; after consume() they start after it
      assert.deepEqual(proxy.views.map((v) => v.text), ['HD', 'HDR:x', 'HDR:x\nhe', 'hello']);
      await until(() => proxy.results.length === 1);
      assert.deepEqual(proxy.results, [{ bytesFromClient: 11, bytesToClient: 2, reason: 'closed' }]);
    });

    it('consume() of a header that came with the data in one segment leaves exactly the data', async () => {
      const up = recordingServer('ok');
      const proxy = await consumingProxy(await up.port, 3);
      const c = await connectClient(proxy.port);
      const got = readAll(c);
      c.end('HEADER\nabc');
      assert.equal((await got).toString(), 'ok');
      assert.equal(Buffer.concat(up.got).toString(), 'abc');
      assert.deepEqual(proxy.views, [{ state: 'data', text: 'HEADER\nabc' }]);
    });

    it('a FIN right behind a consumed header reaches the upstream: the pipe passes it on, the reply comes back', async () => {
      // the end arrives while the upstream is dialled (reading the header off the socket may end its stream
      // before any pipe listens); a lost FIN left the connection open until its idle timeout
      const up = recordingServer('ok');
      const proxy = await consumingProxy(await up.port, 0);
      const c = await connectClient(proxy.port);
      const got = readAll(c);
      c.end('HEADER\n');
      await until(() => proxy.results.length === 1, 3000);
      assert.equal((await got).toString(), 'ok');
      assert.equal(Buffer.concat(up.got).toString(), '');
      assert.deepEqual(proxy.results, [{ bytesFromClient: 0, bytesToClient: 2, reason: 'closed' }]);
    });

    it('shows every chunk as data before reporting full, and consumed bytes do not count against maxBytes', async () => {
      const up = recordingServer('ok');
      const proxy = await consumingProxy(await up.port, 1000);
      const c = await connectClient(proxy.port);
      c.on('error', () => {});
      // 40 header bytes + 40 more: 80 seen, but only 40 held after consume(), under maxBytes 64
      c.write(`${'h'.repeat(39)}\n${'a'.repeat(40)}`);
      await until(() => proxy.views.length >= 1);
      await wait(30);
      assert.deepEqual(proxy.views.map((v) => v.state), proxy.views.map(() => 'data'));
      // 40 more bytes: 80 held, over maxBytes -> the callback sees them, asks for more, then 'full'
      c.write('b'.repeat(40));
      await until(() => proxy.views.at(-1)!.state === 'full');
      const last = proxy.views.slice(-2);
      assert.deepEqual(last.map((v) => [v.state, v.text.length]), [['data', 80], ['full', 80]]);
      c.destroy();
    });

    it('connect() writes its prefix before anything pipe() sends', async () => {
      const up = recordingServer('ok');
      const proxy = await consumingProxy(await up.port, 3, HEADER);
      const c = await connectClient(proxy.port);
      const got = readAll(c);
      c.end('x\nabc');
      assert.equal((await got).toString(), 'ok');
      assert.equal(Buffer.concat(up.got).toString(), `${HEADER}abc`);
      await until(() => proxy.results.length === 1);
      assert.deepEqual(proxy.results, [{ bytesFromClient: 3, bytesToClient: 2, reason: 'closed' }]);
    });

    it('connect() with TLS writes the prefix in the clear, then runs the handshake after it', async () => {
      // the upstream reads the header off the raw socket, then terminates TLS on the rest of the stream
      const seen: { head: string; next: number } = { head: '', next: -1 };
      const upPort = await server((raw) => {
        raw.on('error', () => {});
        let buf = Buffer.alloc(0);
        const onData = (d: Buffer): void => {
          buf = Buffer.concat([buf, d]);
          if (buf.length <= HEADER.length) return;
          raw.off('data', onData);
          raw.pause();
          seen.head = buf.subarray(0, HEADER.length).toString();
          seen.next = buf[HEADER.length]!;
          raw.unshift(buf.subarray(HEADER.length));
          const secure = new tls.TLSSocket(raw, { isServer: true, cert: pem.a.cert, key: pem.a.key });
          secure.on('error', () => {});
          secure.on('data', (m: Buffer) => secure.end(`tls:${m}`));
        };
        raw.on('data', onData);
      });
      const results: PipeResult[] = [];
      const listener = await plane.listen({ host: '127.0.0.1', port: 0 }, (conn) => {
        plane.connect('127.0.0.1', upPort, 2000, (err, out) => {
          if (err || !out) return plane.destroy(conn);
          plane.pipe(conn, out, { idleTimeoutMs: 5000, upstreamPrefix: null }, (r) => results.push(r));
        }, { config: { verify: false, ca: null, cert: null, key: null }, servername: 'a.test.com' }, HEADER);
      });
      cleanups.push(() => listener.stop());
      const c = await connectClient(listener.port);
      const got = readAll(c);
      c.write('ping');
      assert.equal((await got).toString(), 'tls:ping');
      c.end();
      assert.deepEqual(seen, { head: HEADER.toString(), next: 0x16 }); // 0x16: a TLS handshake record
      await until(() => results.length === 1);
      assert.deepEqual(results, [{ bytesFromClient: 4, bytesToClient: 8, reason: 'closed' }]);
    });

    it('passes an upstream half-close on while the client keeps sending', async () => {
      let upstreamGot: Promise<Buffer> | null = null;
      const proxy = await proxyTo(
        await server((s) => {
          s.end('bye'); // greeting + FIN first
          const chunks: Buffer[] = [];
          s.on('data', (d: Buffer) => chunks.push(d));
          upstreamGot = new Promise((resolve) => s.once('end', () => resolve(Buffer.concat(chunks))));
        }),
      );
      const c = await connectClient(proxy.port);
      const got = readAll(c);
      await new Promise((resolve) => c.once('end', resolve)); // the upstream's FIN reached the client
      c.write('after the fin');
      c.end();
      assert.equal((await got).toString(), 'bye');
      await until(() => upstreamGot !== null);
      assert.equal((await upstreamGot!).toString(), 'after the fin');
      assert.deepEqual(await proxy.next(), { bytesFromClient: 13, bytesToClient: 3, reason: 'closed' });
    });

    it('closes both sides after the idle timeout, and traffic resets it', async () => {
      const proxy = await proxyTo(await server(echo), 200);
      const c = await connectClient(proxy.port);
      const got = readAll(c);
      let lastWrite = 0;
      for (let i = 0; i < 5; i++) {
        if (i > 0) await wait(100);
        c.write('x'); // a byte each 100 ms keeps the pair alive past 200 ms
        lastWrite = Date.now();
      }
      await wait(50);
      assert.equal(proxy.results.length, 0, 'closed while traffic was flowing');
      const r = await proxy.next();
      const idle = Date.now() - lastWrite;
      assert.equal(r.reason, 'idle_timeout');
      assert.equal(r.bytesFromClient, 5);
      assert.equal(r.bytesToClient, 5);
      // the tick is idle/8, so the close comes between 200 and ~250 ms after the last byte (+ scheduling)
      assert.ok(idle >= 195 && idle < 500, `idle close after ${idle} ms`);
      assert.equal((await got).length, 5);
    });

    it('a throttled upload moves at its rate (burst first), intact, and the download is left alone', { timeout: 30_000 }, async () => {
      const RATE = 4 << 20;
      const BURST = 256 << 10;
      const TOTAL = 8 << 20;
      let upstreamGot: Promise<{ sha: string; bytes: number }> | null = null;
      let upstreamSent: Promise<string> | null = null;
      const throttle = testThrottle(RATE, BURST, { upload: true, download: false });
      const proxy = await proxyTo(await server((s) => {
        s.on('error', () => {});
        upstreamGot = receiveSlowly(s);
        upstreamSent = sendBulk(s, TOTAL, 11); // the download is not limited: it is done long before the upload
      }), 5000, 0, { throttle });
      const c = await connectClient(proxy.port);
      const t0 = performance.now();
      const down = receiveSlowly(c);
      const sent = await sendBulk(c, TOTAL, 1);
      const downGot = await down;
      const downMs = performance.now() - t0;
      await until(() => upstreamGot !== null);
      const got = await upstreamGot!;
      const upMs = performance.now() - t0;
      assert.equal(got.sha, sent);
      assert.equal(downGot.sha, await upstreamSent!);
      // (8 MiB - 256 KiB) / 4 MiB/s = 1.94 s; generous bounds for a shared machine
      const expected = ((TOTAL - BURST) / RATE) * 1000;
      assert.ok(upMs > expected * 0.85 && upMs < expected * 1.6, `upload took ${upMs.toFixed(0)} ms, expected ~${expected.toFixed(0)}`);
      assert.ok(downMs < upMs, `the unlimited download (${downMs.toFixed(0)} ms) did not wait for the upload`);
      const r = await proxy.next();
      assert.deepEqual([r.reason, r.bytesFromClient, r.bytesToClient], ['closed', TOTAL, TOTAL]);
      assert.ok(throttle.calls > 0);
    });

    it('a throttled download stops reading the upstream: it cannot pile bytes up in the proxy', { timeout: 30_000 }, async () => {
      const RATE = 1 << 20;
      let upstream: net.Socket | null = null;
      let flushed = 0;
      const proxy = await proxyTo(await server((s) => {
        upstream = s;
        s.on('error', () => {});
        // write as fast as the proxy reads (with backpressure), up to 64 MiB
        let n = 0;
        const more = (): void => {
          while (n < 1024) {
            n++;
            if (!s.write(block(n))) return void s.once('drain', more);
          }
          s.end();
        };
        more();
        s.on('drain', () => (flushed = s.bytesWritten - s.writableLength));
      }), 5000, 0, { throttle: testThrottle(RATE, RATE / 4, { upload: false, download: true }) });
      const c = await connectClient(proxy.port);
      let got = 0;
      c.on('data', (d: Buffer) => (got += d.length));
      c.on('error', () => {});
      await wait(1500);
      await until(() => upstream !== null);
      const taken = upstream!.bytesWritten - upstream!.writableLength;
      flushed = Math.max(flushed, taken);
      // ~1.75 MiB delivered; what the upstream got rid of is that plus what the kernel's socket buffers hold on
      // the way (a few MiB on loopback), far from the 64 MiB it offered
      assert.ok(got > 1 << 20 && got < 3 << 20, `client got ${got} bytes in 1.5 s at 1 MiB/s`);
      assert.ok(flushed - got < 24 << 20, `the upstream got rid of ${flushed} bytes while the client got ${got}`);
      c.destroy();
      const r = await proxy.next();
      assert.equal(r.bytesToClient >= got, true);
    });

    it('a throttle that never asks to wait changes nothing: exact bytes both ways', async () => {
      const throttle = testThrottle(1e12, 1e12, { upload: true, download: true });
      const proxy = await proxyTo(await server(echo), 5000, 0, { throttle });
      const c = await connectClient(proxy.port);
      const got = readAll(c);
      c.end('hello, throttled weir');
      assert.equal((await got).toString(), 'hello, throttled weir');
      const r = await proxy.next();
      assert.deepEqual(r, { bytesFromClient: 21, bytesToClient: 21, reason: 'closed' });
      assert.equal(throttle.calls, 2);
    });

    it('reports an upstream reset as upstream_error and closes the client', async () => {
      const proxy = await proxyTo(
        await server((s) => {
          s.on('error', () => {});
          s.once('data', () => s.resetAndDestroy());
        }),
      );
      const c = await connectClient(proxy.port);
      const got = readAll(c);
      c.write('boom');
      await got; // the client is closed, no reply
      const r = await proxy.next();
      assert.equal(r.reason, 'upstream_error');
      assert.equal(r.bytesFromClient, 4);
      assert.equal(r.bytesToClient, 0);
      assert.match(r.error ?? '', /ECONNRESET/);
      await wait(50);
      assert.deepEqual(proxy.doneCalls, [1]);
    });

    it('aborts a running pipe on destroy(): reason aborted, done once', async () => {
      const proxy = await proxyTo(await server(echo));
      const c = await connectClient(proxy.port);
      const got = readAll(c);
      c.write('x');
      await until(() => c.bytesRead === 1);
      plane.destroy(proxy.inbound[0]!);
      await got;
      assert.deepEqual(await proxy.next(), { bytesFromClient: 1, bytesToClient: 1, reason: 'aborted' });
      await wait(50);
      assert.deepEqual(proxy.doneCalls, [1]);
    });

    it('times the first reply after the first client byte once, when asked (timeReply)', async () => {
      // the upstream greets first (not timed: no client byte yet), then answers each chunk after 120 ms
      const upPort = await server((s) => {
        s.on('error', () => {});
        s.write('hi;');
        s.on('data', (d: Buffer) => setTimeout(() => s.write(d), 120));
        s.on('end', () => s.end());
      });
      const latencies: number[] = [];
      const proxy = await proxyTo(upPort, 5000, 0, { latencies });
      const c = await connectClient(proxy.port);
      const got = readAll(c);
      await until(() => c.bytesRead >= 3);
      c.write('one;');
      await until(() => c.bytesRead >= 7);
      c.write('two;');
      await until(() => c.bytesRead >= 11);
      c.end();
      assert.equal((await got).toString(), 'hi;one;two;');
      await proxy.next();
      assert.equal(latencies.length, 1, 'reported once per pipe');
      assert.ok(latencies[0]! >= 100 && latencies[0]! < 1000, `reply after ${latencies[0]} ms`);
    });

    it('times nothing when timeReply is false, even with a replyLatency method', async () => {
      const latencies: number[] = [];
      const proxy = await proxyTo(await server(echo), 5000, 0, { latencies, timeReply: false });
      const c = await connectClient(proxy.port);
      const got = readAll(c);
      c.write('x');
      await until(() => c.bytesRead === 1);
      c.end('y');
      assert.equal((await got).toString(), 'xy');
      assert.deepEqual(await proxy.next(), { bytesFromClient: 2, bytesToClient: 2, reason: 'closed' });
      assert.deepEqual(latencies, []);
    });

    /** Dial `port` and exchange `request`; the callback decides on a CRLF. Resolves with every callback state. */
    async function exchangeWith(port: number, request: string, timeoutMs = 2000): Promise<Array<[string, PrereadState]>> {
      const conn = await new Promise<OutboundConn>((resolve, reject) =>
        plane.connect('127.0.0.1', port, 2000, (err, out) => (err || !out ? reject(new Error(err?.code)) : resolve(out))),
      );
      const calls: Array<[string, PrereadState]> = [];
      await new Promise<void>((resolve) =>
        plane.exchange(conn, Buffer.from(request), 64, timeoutMs, (bytes, state) => {
          calls.push([Buffer.from(bytes).toString(), state]);
          const done = state !== 'data' || Buffer.from(bytes).includes('\r\n');
          if (done) setImmediate(resolve);
          return done;
        }),
      );
      plane.destroy(conn);
      return calls;
    }

    it('exchange(): writes the request and shows the reply until the callback has enough', async () => {
      const port = await server((s) => {
        s.on('error', () => {});
        s.on('end', () => s.end());
        s.once('data', (d: Buffer) => {
          s.write(`got ${d.length}`); // the answer comes in two pieces
          setTimeout(() => s.write(' bytes\r\nrest'), 30);
        });
      });
      assert.deepEqual(await exchangeWith(port, 'PING\r\n'), [
        ['got 6', 'data'],
        ['got 6 bytes\r\nrest', 'data'],
      ]);
    });

    it('exchange(): reports eof when the upstream closes without a full answer, and timeout when it is silent', async () => {
      const closes = await server((s) => {
        s.on('error', () => {});
        s.once('data', () => s.end('partial'));
      });
      const calls = await exchangeWith(closes, 'GET\r\n');
      assert.deepEqual(calls.at(-1), ['partial', 'eof']);
      const silent = await server((s) => s.on('error', () => {}).on('data', () => {}).on('end', () => s.end()));
      const started = Date.now();
      assert.deepEqual(await exchangeWith(silent, 'GET\r\n', 200), [['', 'timeout']]);
      assert.ok(Date.now() - started >= 190, 'timed out before timeoutMs');
    });

    it('reports a refused connect as kind refused, exactly once', async () => {
      const srv = await listenServer(() => {});
      const freePort = portOf(srv);
      await new Promise((r) => srv.close(r));
      const calls: Array<ConnectError | null> = [];
      plane.connect('127.0.0.1', freePort, 1000, (err) => calls.push(err));
      await until(() => calls.length > 0);
      await wait(50);
      assert.equal(calls.length, 1);
      assert.equal(calls[0]!.kind, 'refused');
      assert.equal(calls[0]!.code, 'ECONNREFUSED');
    });

    it('reports a connect to a peer that never answers as kind timeout, after the timeout', async (t) => {
      const skip = missingServers('python3');
      if (skip) return t.skip(skip);
      const stalled = await startStalledListener();
      try {
        const calls: Array<ConnectError | null> = [];
        const started = Date.now();
        plane.connect('127.0.0.1', stalled.port, 300, (err) => calls.push(err));
        await until(() => calls.length > 0, 5000);
        const elapsed = Date.now() - started;
        await wait(50);
        assert.equal(calls.length, 1);
        assert.equal(calls[0]!.kind, 'timeout');
        assert.equal(calls[0]!.code, 'ETIMEDOUT');
        assert.ok(elapsed >= 250, `gave up after ${elapsed} ms, before the 300 ms timeout`);
      } finally {
        stalled.close();
      }
    });

    it('rejects listen on a busy port with code EADDRINUSE', async () => {
      const busy = await server(() => {});
      await assert.rejects(
        plane.listen({ host: '127.0.0.1', port: busy }, () => {}),
        (err: NodeJS.ErrnoException) => err.code === 'EADDRINUSE',
      );
    });

    it('reports IPv4 peers of a dual-stack listener as plain IPv4', async (t) => {
      let listener: TcpListener;
      const seen: InboundConn[] = [];
      try {
        listener = await plane.listen({ host: '::', port: 0 }, (conn) => {
          seen.push(conn);
          plane.destroy(conn);
        });
      } catch {
        return t.skip('no IPv6 on this host');
      }
      cleanups.push(() => listener.stop());
      const c = net.connect({ port: listener.port, host: '127.0.0.1' });
      c.on('error', () => {});
      await until(() => seen.length === 1);
      c.destroy();
      assert.equal(seen[0]!.remoteAddress, '127.0.0.1');
      assert.equal(seen[0]!.localAddress, '127.0.0.1');
    });
  });
}
