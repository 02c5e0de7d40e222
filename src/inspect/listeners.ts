// The listeners as the inspection views see them: where connections can arrive, with which TLS mode and PROXY
// protocol flags. They come from the listener specs, so config.yaml items (apisix.stream_proxy) and
// stream_listeners objects (src/control/listener-specs.ts) are seen alike.

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
  /** proxy_protocol_to_upstream: true: the upstream gets a PROXY header (v1 on TCP, v2 on UDP) before the bytes. */
  proxyProtocolToUpstream?: boolean;
  /** Where it is configured: "apisix.stream_proxy.tcp[0]", or "stream_listeners/<id>" for a listener object. */
  origin: string;
}

/** Copy a spec's PROXY protocol flags onto its view (only those set). */
function copyProxyFlags(view: ListenerView, spec: { proxyProtocol?: true; proxyProtocolToUpstream?: true } | undefined): ListenerView {
  if (spec?.proxyProtocol === true) view.proxyProtocol = true;
  if (spec?.proxyProtocolToUpstream === true) view.proxyProtocolToUpstream = true;
  return view;
}

/** Bound addresses (port 0 resolved) joined with their specs' TLS modes, by origin. */
export function listenerViews(
  specs: { tcp: readonly TcpListenSpec[]; udp: readonly UdpListenSpec[] },
  bound?: { tcp: readonly { host: string; port: number; origin: string }[]; udp: readonly { host: string; port: number; origin: string }[] },
): ListenerView[] {
  const tcpSpec = new Map(specs.tcp.map((s) => [s.origin, s]));
  const tcp = (bound?.tcp ?? specs.tcp).map((b) => {
    const spec = tcpSpec.get(b.origin);
    return copyProxyFlags({ protocol: 'tcp', host: b.host, port: b.port, tls: spec === undefined ? null : tlsModeOf(spec), origin: b.origin }, spec);
  });
  const udpSpec = new Map(specs.udp.map((s) => [s.origin, s]));
  const udp = (bound?.udp ?? specs.udp).map((b) => copyProxyFlags({ protocol: 'udp', host: b.host, port: b.port, tls: null, origin: b.origin }, udpSpec.get(b.origin)));
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
