// The connect phase's PROXY header: which plan a connection's upstream sends (the upstream's own
// `proxy_protocol`, else the listener's proxy_protocol_to_upstream), and the facts it is written from.
//
// Plans are compiled when the snapshot is built; per connection this only runs for upstreams that send a header
// (the plain path reads one field of the upstream and one of the session and goes on).
// Sources of the facts, in one place:
// - source: the client (a trusted incoming header's source when there was one); destination: the incoming
//   header's destination when there was one (HAProxy chains accept-proxy to send-proxy the same way), else the
//   address and port the client connected to.
// - authority: the SNI weir read (terminated or passed through), else an incoming header's authority.
// - ssl: the TLS weir terminated, else an incoming header's SSL TLV (a TLS-terminating proxy in front).
// - netns, alpn: passed on from an incoming header; weir has no value of its own for them.
// - unique_id: the connection id the access log prints. $route_id: the matched route.

import { isPlainObject } from '../../lib/json';
import type { TcpDataPlane } from '../../runtime/types';
import type { CompiledUpstream } from '../../snapshot/types';
import type { ProxyEndpoint, ProxyHeader, ProxySsl } from '../prelude/proxy-protocol-types';
import {
  compileProxyHeaderPlan,
  planSends,
  type ProxyHeaderFacts,
  type ProxyHeaderPlan,
  type ProxyHeaderSsl,
  type ProxyHeaderSpec,
  writeProxyHeader,
} from './proxy-header';

/** An upstream's `proxy_protocol`, compiled for each transport a route may use it with. */
export interface UpstreamProxyPlans {
  readonly version: 1 | 2;
  readonly tcp: ProxyHeaderPlan;
  /** v2 always: v1 has no datagram form, so a `version: 1` upstream sends bare v2 headers on UDP. */
  readonly udp: ProxyHeaderPlan;
}

function mustCompile(spec: ProxyHeaderSpec, transport: 'tcp' | 'udp'): ProxyHeaderPlan {
  const plan = compileProxyHeaderPlan(spec, transport);
  if (typeof plan === 'string') throw new Error(plan);
  return plan;
}

/** proxy_protocol_to_upstream on a TCP listener: v1, as nginx's `proxy_protocol on` (APISIX's output) sends. */
export const LISTENER_TCP_PLAN: ProxyHeaderPlan = mustCompile({ version: 1 }, 'tcp');
/** ... on a UDP listener: v2 without TLVs (the only datagram form). */
export const LISTENER_UDP_PLAN: ProxyHeaderPlan = mustCompile({ version: 2 }, 'udp');

/**
 * Compile an upstream's `proxy_protocol` (validated by the schema already; still safe on anything). null when
 * absent; a string names the problem ("proxy_protocol.tlvs[1]: ...").
 */
export function compileUpstreamProxyPlans(value: unknown): UpstreamProxyPlans | string | null {
  if (value === undefined || value === null) return null;
  if (!isPlainObject(value)) return 'proxy_protocol: expected an object like {"version": 2, "tlvs": ["authority"]}';
  const tlvs = value.tlvs;
  if (tlvs !== undefined && !Array.isArray(tlvs)) return 'proxy_protocol.tlvs: expected a list';
  const spec = { version: value.version, tlvs } as ProxyHeaderSpec;
  const tcp = compileProxyHeaderPlan(spec, 'tcp');
  if (typeof tcp === 'string') return tcp;
  const udp = compileProxyHeaderPlan(spec.version === 1 ? { version: 2 } : spec, 'udp');
  if (typeof udp === 'string') return udp;
  return { version: spec.version, tcp, udp };
}

/** The plan a TCP connection to `upstream` sends, or null. Runs per connection: two reads on the plain path. */
export function tcpPlanOf(upstream: CompiledUpstream, listenerSends: boolean): ProxyHeaderPlan | null {
  const own = upstream.proxyProtocol;
  if (own != null) return own.tcp;
  return listenerSends ? LISTENER_TCP_PLAN : null;
}

/** The plan a UDP session to `upstream` sends, or null. Runs per new session. */
export function udpPlanOf(upstream: CompiledUpstream, listenerSends: boolean): ProxyHeaderPlan | null {
  const own = upstream.proxyProtocol;
  if (own != null) return own.udp;
  return listenerSends ? LISTENER_UDP_PLAN : null;
}

/** What a header is written from: a TCP session or a UDP session gives these. */
export interface ProxyPrefixSource {
  readonly remoteAddr: string;
  readonly remotePort: number;
  readonly serverAddr: string;
  readonly serverPort: number;
  readonly sni: string | null;
  /** The PROXY header that came in, or null. */
  readonly incoming: ProxyHeader | null;
  readonly routeId: string;
  connectionId(): string;
}

/** The facts of one header. `tls`: the terminated session's facts when weir terminated TLS, else null. */
export function proxyHeaderFacts(plan: ProxyHeaderPlan, src: ProxyPrefixSource, tls: ProxyHeaderSsl | null): ProxyHeaderFacts {
  const incoming = src.incoming;
  const tlvs = incoming === null ? null : incoming.tlvs;
  return {
    source: { addr: src.remoteAddr, port: src.remotePort },
    destination: ipEndpoint(incoming?.destination ?? null) ?? { addr: src.serverAddr, port: src.serverPort },
    authority: src.sni ?? tlvs?.authority ?? null,
    ssl: tls ?? (tlvs?.ssl ? sslFromHeader(tlvs.ssl) : null),
    uniqueId: planSends(plan, 'unique_id') ? src.connectionId() : null,
    netns: tlvs?.netns ?? null,
    alpn: tlvs?.alpn ? String.fromCharCode(...tlvs.alpn) : null,
    routeId: src.routeId,
  };
}

/** A header's destination when it is an IP one (a UNIX path says nothing the upstream could use). */
function ipEndpoint(e: ProxyEndpoint | null): ProxyEndpoint | null {
  return e !== null && e.port > 0 && e.addr.length > 0 && e.addr[0] !== '@' && e.addr[0] !== '/' ? e : null;
}

/** An incoming SSL TLV, passed on in the writer's terms. */
function sslFromHeader(ssl: ProxySsl): ProxyHeaderSsl | null {
  if (!ssl.tls) return null;
  return {
    version: ssl.version,
    cipher: ssl.cipher,
    cn: ssl.cn,
    sigAlg: ssl.sigAlg,
    keyAlg: ssl.keyAlg,
    certPresented: ssl.certInSession || ssl.certInConnection,
    certVerified: ssl.certVerified,
    sessionReused: ssl.certInSession && !ssl.certInConnection,
  };
}

/** The TLS facts of a connection weir terminated, when the plan sends them; else null. */
export function terminatedTls(plan: ProxyHeaderPlan, plane: TcpDataPlane, conn: Parameters<TcpDataPlane['tlsSession']>[0], terminated: boolean): ProxyHeaderSsl | null {
  if (!terminated || !planSends(plan, 'ssl')) return null;
  return plane.tlsSession(conn);
}

/** One TCP connection's header (the same bytes go out on every connect attempt). */
export function writeTcpProxyPrefix(plan: ProxyHeaderPlan, src: ProxyPrefixSource, tls: ProxyHeaderSsl | null): Uint8Array {
  return writeProxyHeader(plan, proxyHeaderFacts(plan, src, tls));
}
