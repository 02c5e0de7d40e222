// The one way into the node:net and node:dgram data planes, imported on first use. index.ts takes them on Node
// and Deno (and on Bun with WEIR_DATA_PLANE=node); the Bun TCP plane borrows the TCP one for node:tls (upstream
// TLS, WEIR_TLS_PLANE=node) and bridges its connections into its own pump through socketOf(). Loading lazily
// keeps node:net, node:tls and node:dgram out of a Bun process that never uses them (builtin.ts says why).

import type { Socket } from 'node:net';
import type { InboundConn, OutboundConn, TcpDataPlane, UdpDataPlane } from './types';

/** The node:net TCP plane, plus what another plane needs to pump one of its connections. */
export interface NodeTcpPlane extends TcpDataPlane {
  /**
   * The node socket carrying a connection this plane made (the TLS socket once startTls() or a TLS connect
   * succeeded); null for a connection of another plane. Read when the connection is piped, not before.
   */
  socketOf(conn: InboundConn | OutboundConn): Socket | null;
}

/** A node:net TCP plane; its modules (and node:net, node:tls) are imported on the first call. */
export function loadNodeTcpPlane(): Promise<NodeTcpPlane> {
  return import('./tcp/node/plane').then((m) => m.createNodeTcpDataPlane());
}

/** A node:dgram UDP plane; its module (and node:dgram) is imported on the first call. */
export function loadNodeUdpPlane(opts: { reusePort?: boolean } = {}): Promise<UdpDataPlane> {
  return import('./udp/node').then((m) => m.createNodeUdpDataPlane(opts));
}
