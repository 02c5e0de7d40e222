// Test helpers: real servers and clients on 127.0.0.1, all bounded in time and closed by the caller.

import dgram from 'node:dgram';
import net from 'node:net';
import { createHash } from 'node:crypto';

/** Ports freePort() handed out in this process: two calls before either port is bound must not agree. */
const handedOut = new Set<number>();

/**
 * freePort() picks below the kernel's ephemeral range (net.ipv4.ip_local_port_range, 32768-60999 by default):
 * a port the kernel chose (bind to 0) and we released is the kind it gives the next outgoing connection of any
 * process, and other engineers' tests on the same machine make thousands; a port outside that range is only
 * taken by someone who names it.
 */
const PICK_FROM = 20000;
const PICK_SPAN = 12000;

/** Whether `port` on `host` can be bound now, for TCP (listen) and for UDP. */
async function bindable(host: string, port: number): Promise<boolean> {
  const tcp = await new Promise<boolean>((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
  if (!tcp) return false;
  return new Promise<boolean>((resolve) => {
    const sock = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    sock.once('error', () => {
      try {
        sock.close();
      } catch {
        // a failed bind may have closed it already
      }
      resolve(false);
    });
    sock.bind(port, host, () => sock.close(() => resolve(true)));
  });
}

/**
 * A port on host that is free for TCP and for UDP (both are tried, then released), never one this process was
 * given before. The caller binds it later: a port outside the ephemeral range keeps that window safe.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = PICK_FROM + Math.floor(Math.random() * PICK_SPAN);
    if (handedOut.has(port)) continue;
    handedOut.add(port); // taken or not, it is not offered again
    if (await bindable(host, port)) return port;
  }
  throw new Error(`freePort: no bindable port on ${host} in 200 tries`);
}

export interface TestServer {
  port: number;
  /** Connections accepted so far. */
  accepted: number;
  close(): Promise<void>;
}

/**
 * Start a TCP server; `onConn` gets each socket. Sockets are destroyed on close(). `port` 0 (the default)
 * takes an ephemeral port; a fixed one brings a killed server back on the address weir already knows.
 */
export async function startServer(onConn: (s: net.Socket) => void, host = '127.0.0.1', port = 0): Promise<TestServer> {
  const sockets = new Set<net.Socket>();
  const srv = net.createServer({ allowHalfOpen: true }, (s) => {
    result.accepted++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    onConn(s);
  });
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(port, host, () => resolve());
  });
  const result: TestServer = {
    port: (srv.address() as net.AddressInfo).port,
    accepted: 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        srv.close(() => resolve());
      }),
  };
  return result;
}

/** Echo server: writes back what it reads, prefixed by `tag` once per connection when given. */
export function startEchoServer(tag = '', port = 0): Promise<TestServer> {
  return startServer(
    (s) => {
      if (tag) s.write(tag);
      s.pipe(s);
    },
    '127.0.0.1',
    port,
  );
}

/** Connect, send `payload`, half-close, and collect everything until the server closes (bounded by timeoutMs). */
export function exchange(
  port: number,
  payload: string | Buffer,
  opts: { host?: string; timeoutMs?: number; localAddress?: string } = {},
): Promise<{ data: Buffer; closedBy: 'end' | 'error' | 'timeout' }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const sock = net.connect({ port, host: opts.host ?? '127.0.0.1', localAddress: opts.localAddress, allowHalfOpen: true });
    const timer = setTimeout(() => finish('timeout'), opts.timeoutMs ?? 10_000);
    let done = false;
    function finish(closedBy: 'end' | 'error' | 'timeout'): void {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ data: Buffer.concat(chunks), closedBy });
    }
    sock.on('connect', () => sock.end(payload));
    sock.on('data', (d) => chunks.push(d));
    sock.on('end', () => finish('end'));
    sock.on('error', () => finish('error'));
    sock.on('close', () => finish('end'));
  });
}

/** Read from a socket until `predicate(received)` holds or the timeout passes. */
export function readUntil(sock: net.Socket, predicate: (data: Buffer) => boolean, timeoutMs = 10_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let data = Buffer.alloc(0);
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out after ${timeoutMs} ms with ${data.length} bytes: ${JSON.stringify(data.toString().slice(0, 80))}`));
    }, timeoutMs);
    const onData = (d: Buffer): void => {
      data = Buffer.concat([data, d]);
      if (predicate(data)) {
        cleanup();
        resolve(data);
      }
    };
    const onClose = (): void => {
      cleanup();
      reject(new Error(`closed after ${data.length} bytes: ${JSON.stringify(data.toString().slice(0, 80))}`));
    };
    function cleanup(): void {
      clearTimeout(timer);
      sock.off('data', onData);
      sock.off('close', onClose);
    }
    sock.on('data', onData);
    sock.on('close', onClose);
  });
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Connect and wait for the connection (or its failure). */
export function connect(port: number, host = '127.0.0.1'): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host, allowHalfOpen: true });
    sock.once('connect', () => resolve(sock));
    sock.once('error', reject);
  });
}
