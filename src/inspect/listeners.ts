// The listeners as the inspection views see them: where connections can arrive, and with which TLS mode.
// Today they come from config.yaml (apisix.stream_proxy); once listeners are objects, from the store.

import type { TcpListenSpec, UdpListenSpec } from '../config/types';
import { formatHostPort } from '../lib/ip';
import { type TlsMode, tlsModeOf } from '../proxy/prelude/tls';

export interface ListenerView {
  protocol: 'tcp' | 'udp';
  host: string;
  port: number;
  /** null for plain TCP and for UDP. */
  tls: TlsMode | null;
  /** proxy_protocol: true: each connection (datagram) starts with a PROXY header whose source is the client. */
  proxyProtocol?: boolean;
  /** Where it is configured: "apisix.stream_proxy.tcp[0]" (or the listener object's id later). */
  origin: string;
}

/** Bound addresses (port 0 resolved) joined with their specs' TLS modes, by origin. */
export function listenerViews(
  specs: { tcp: readonly TcpListenSpec[]; udp: readonly UdpListenSpec[] },
  bound?: { tcp: readonly { host: string; port: number; origin: string }[]; udp: readonly { host: string; port: number; origin: string }[] },
): ListenerView[] {
  const tcpSpec = new Map(specs.tcp.map((s) => [s.origin, s]));
  const tcp = (bound?.tcp ?? specs.tcp).map((b) => {
    const spec = tcpSpec.get(b.origin);
    const view: ListenerView = { protocol: 'tcp', host: b.host, port: b.port, tls: spec === undefined ? null : tlsModeOf(spec), origin: b.origin };
    if (spec?.proxyProtocol === true) view.proxyProtocol = true;
    return view;
  });
  const udpSpec = new Map(specs.udp.map((s) => [s.origin, s]));
  const udp = (bound?.udp ?? specs.udp).map((b) => {
    const view: ListenerView = { protocol: 'udp', host: b.host, port: b.port, tls: null, origin: b.origin };
    if (udpSpec.get(b.origin)?.proxyProtocol === true) view.proxyProtocol = true;
    return view;
  });
  return [...tcp, ...udp];
}

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::';
}

/** The listener a connection to serverAddr:serverPort arrives on: an exact address first, then a wildcard bind. */
export function findListener(listeners: readonly ListenerView[], protocol: 'tcp' | 'udp', serverAddr: string, serverPort: number): ListenerView | null {
  const here = listeners.filter((l) => l.protocol === protocol && l.port === serverPort);
  const v6 = serverAddr.includes(':');
  return (
    here.find((l) => l.host === serverAddr) ??
    // "::" also takes IPv4 on dual-stack hosts; "0.0.0.0" takes IPv4 only
    here.find((l) => isWildcard(l.host) && (l.host === '::' || !v6)) ??
    null
  );
}

/** "tcp 127.0.0.1:9100 (apisix.stream_proxy.tcp[0], tls terminate)": for notes and logs. */
export function describeListener(l: ListenerView): string {
  return `${l.protocol} ${formatHostPort(l.host, l.port)} (${l.origin}${l.tls === null ? '' : `, tls ${l.tls}`})`;
}
