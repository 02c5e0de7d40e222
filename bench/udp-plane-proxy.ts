// One UDP listener of weir's UdpProxy on a chosen data plane, for bench/udp-planes.ts (run under Bun):
//   bun bench/udp-plane-proxy.ts native|native-reuseport|dgram-reuseport LISTEN_PORT UPSTREAM_PORT
// native: Bun.udpSocket as one weir process binds it; native-reuseport: the same with the SO_REUSEPORT socket
// flag every worker sets when worker_processes > 1; dgram-reuseport: Bun's node:dgram with reusePort.

import { startUdpProxy } from '../src/proxy/listener/udp';
import { createBunUdpDataPlane } from '../src/runtime/udp/bun';
import { createNodeUdpDataPlane } from '../src/runtime/udp/node';
import { buildSnapshot } from '../src/snapshot/build';
import { AccessLog } from '../src/log/logger';

const [variant, listen, upstream] = process.argv.slice(2);
const plane =
  variant === 'native' ? createBunUdpDataPlane() : variant === 'native-reuseport' ? createBunUdpDataPlane({ reusePort: true }) : createNodeUdpDataPlane({ reusePort: true });
const value = { id: '1', upstream: { nodes: { [`127.0.0.1:${upstream}`]: 1 } } };
const snapshot = buildSnapshot({ revision: 1, streamRoutes: [{ id: '1', value, createdIndex: 1, modifiedIndex: 1, raw: JSON.stringify(value) }], upstreams: [], ssls: [], unreadable: [] }, null).snapshot;
await startUdpProxy({
  plane,
  listeners: [{ host: '127.0.0.1', port: Number(listen), origin: 'bench' }],
  snapshot: () => snapshot,
  accessLog: new AccessLog({ disabled: true }),
  maxSessions: 10_000,
  responses: null,
});
console.log(`ready ${variant}`);
setTimeout(() => process.exit(0), 10 * 60_000).unref();
setInterval(() => {}, 1 << 30);
