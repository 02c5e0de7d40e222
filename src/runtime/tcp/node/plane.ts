// The TCP data plane on node:net: listen and accept here; the stages live next to it and share one
// Side per socket (side.ts) and one set of listeners (events.ts), no closures per
// connection: preread (preread.ts), TLS termination (tls.ts), dial (dial.ts),
// byte pump (pair.ts).

import net from 'node:net';
import { unmapIpv4 } from '../../../lib/ip';
import { logger } from '../../../log/logger';
import { dialTcp, dialTls } from './dial';
import { wire } from './events';
import { startPipe } from './pair';
import { consumePreread, startPreread } from './preread';
import { NodeInbound, type NodeOutbound, Side, type WeirSocket } from './side';
import { startTls, tlsSessionOf } from './tls';
import type { NodeTcpPlane } from '../../load-node-plane';
import type { TcpListener } from '../../types';

class NodeListener implements TcpListener {
  constructor(
    private readonly server: net.Server,
    readonly host: string,
    readonly port: number,
  ) {}
  /** Read only for a binary upgrade (node keeps the descriptor on its internal handle). */
  get fd(): number | undefined {
    const fd = (this.server as unknown as { _handle?: { fd?: number } | null })._handle?.fd;
    return typeof fd === 'number' && fd >= 0 ? fd : undefined;
  }

  stop(): Promise<void> {
    // server.close()'s callback waits for every open connection; stopping only means no new accepts.
    if (this.server.listening) this.server.close();
    return new Promise((resolve) => setImmediate(resolve));
  }
}

function accept(socket: net.Socket): NodeInbound | null {
  const { remoteAddress, remotePort, localAddress, localPort } = socket;
  if (remoteAddress === undefined || remotePort === undefined || localAddress === undefined || localPort === undefined) {
    socket.destroy(); // already gone between accept() and here
    return null;
  }
  const conn = new NodeInbound(socket as WeirSocket, unmapIpv4(remoteAddress), remotePort, unmapIpv4(localAddress), localPort);
  wire(socket);
  return conn;
}

/** The node:net data plane. One per process is enough; it holds no state of its own. */
export function createNodeTcpDataPlane(): NodeTcpPlane {
  return {
    listen(addr, onConn) {
      return new Promise<TcpListener>((resolve, reject) => {
        const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true });
        server.on('connection', (socket: net.Socket) => {
          const conn = accept(socket);
          if (conn !== null) onConn(conn);
        });
        const onListenError = (err: Error): void => reject(err);
        server.once('error', onListenError);
        // an inherited descriptor (binary upgrade) is bound and listening already
        const where = addr.fd !== undefined ? { fd: addr.fd } : { host: addr.host, port: addr.port, backlog: 4096 };
        server.listen(where, () => {
          server.off('error', onListenError);
          server.on('error', (err: Error) => logger.error('listener error', { error: err.message }));
          if (addr.fd !== undefined) return resolve(new NodeListener(server, addr.host, addr.port));
          const bound = server.address() as net.AddressInfo;
          resolve(new NodeListener(server, unmapIpv4(bound.address), bound.port));
        });
      });
    },

    connect(host, port, timeoutMs, done, tlsOpts, prefix) {
      const side = tlsOpts ? dialTls(host, port, timeoutMs, done, tlsOpts, prefix ?? null) : dialTcp(host, port, timeoutMs, done, prefix ?? null);
      wire(side.socket);
    },

    preread(conn, maxBytes, timeoutMs, cb) {
      startPreread(conn as NodeInbound, maxBytes, timeoutMs, cb);
    },

    consume(conn, bytes) {
      consumePreread(conn as NodeInbound, bytes);
    },

    startTls(conn, opts, done) {
      startTls(conn as NodeInbound, opts, done);
    },

    tlsSession(conn) {
      return conn instanceof Side ? tlsSessionOf(conn) : null;
    },

    pipe(client, upstream, opts, done) {
      startPipe(client as NodeInbound, upstream as NodeOutbound, opts, done);
    },

    exchange(conn, request, maxBytes, timeoutMs, cb) {
      const side = conn as NodeOutbound;
      if (!side.closed && side.error === null && request.length > 0) side.socket.write(request);
      startPreread(side, maxBytes, timeoutMs, cb);
    },

    destroy(conn) {
      const side = conn as unknown as Side;
      if (side.pair !== null && !side.pair.finished) side.pair.fail('aborted');
      else side.socket.destroy();
    },

    pipeCounts(client, into) {
      const pair = client instanceof Side ? client.pair : null;
      if (pair === null || pair.finished) return false;
      into.bytesFromClient = pair.bytesFromClient;
      into.bytesToClient = pair.bytesToClient;
      into.idleMs = pair.activity !== pair.seenActivity ? 0 : Date.now() - pair.quietSince;
      return true;
    },

    socketOf(conn) {
      return conn instanceof Side ? conn.socket : null;
    },
  };
}
