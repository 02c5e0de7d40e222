// One active probe of one node, by type: a TCP connect; an HTTP/1.1 request (over TLS for https) whose status
// line decides; a UDP datagram whose reply decides. Everything goes through the runtime seam (the TCP plane's
// connect, TLS connect and exchange; the UDP plane's connected sockets), so every runtime probes alike.
// Outcomes follow lua-resty-healthcheck: refused or broken -> tcp_failure (a failed TLS handshake too),
// any step slower than `timeout` -> timeout, an unhealthy status or no status line -> http_failure.

import { writeProxyLocalHeader } from '../proxy/connect/proxy-header';
import type { OutboundConn, PrereadState, TcpDataPlane, TlsClientConfig, UdpDataPlane, UdpSocketError, UdpUpstream, UdpUpstreamHandlers } from '../runtime/types';
import type { UpstreamNode } from '../snapshot/types';
import { buildProbeRequest, httpOutcome, MAX_STATUS_LINE_BYTES, probeServerName } from './probe-http';
import { udpReplyMatches } from './probe-udp';
import type { ActiveCheckConfig, ProbeOutcome } from './types';

/** The part of the TCP data plane probes use. Every runtime's plane has it. */
export type ProbePlane = Pick<TcpDataPlane, 'connect' | 'destroy' | 'exchange'>;
/** The part of the UDP data plane UDP probes use. */
export type UdpProbePlane = Pick<UdpDataPlane, 'open'>;

/** What probes of one checker use: the planes and the TLS settings of https probes. */
export interface ProbePorts {
  tcp: ProbePlane;
  udp: UdpProbePlane | null;
  /** https probes: verify or not, and the CA (apisix.ssl.ssl_trusted_certificate); one object per checker. */
  tls: TlsClientConfig | null;
}

/** Called exactly once per probe with its outcome and how long it took (ms, fractions allowed). */
export type ProbeDone = (outcome: ProbeOutcome, latencyMs: number) => void;

function connectOutcome(kind: string): ProbeOutcome {
  return kind === 'timeout' ? 'timeout' : 'tcp_failure';
}

/** The PROXY header a probe sends when checks.active.proxy_protocol asks: it names no client (v2 LOCAL, v1 UNKNOWN). */
const LOCAL_HEADERS = { 1: writeProxyLocalHeader(1), 2: writeProxyLocalHeader(2) } as const;

/** Run one probe of `node` (to checks.active.port when set). Never throws; calls `done` once. */
export function runProbe(ports: ProbePorts, config: ActiveCheckConfig, node: UpstreamNode, done: ProbeDone): void {
  const started = performance.now();
  const finish = (outcome: ProbeOutcome): void => done(outcome, performance.now() - started);
  const port = config.port ?? node.port;
  if (config.type === 'udp') return probeUdp(ports.udp, config, node.host, port, finish);
  const tls = config.type === 'https' && ports.tls !== null ? { config: ports.tls, servername: probeServerName(config, node) } : null;
  // checks.active.proxy_protocol: the header goes first, before any TLS handshake (as the proxy's own connects)
  const prefix = config.proxyProtocol === null ? null : LOCAL_HEADERS[config.proxyProtocol];
  ports.tcp.connect(node.host, port, config.timeoutMs, (err, conn) => {
    if (err !== null || conn === null) return finish(connectOutcome(err?.kind ?? 'other'));
    if (config.type === 'tcp') {
      ports.tcp.destroy(conn);
      return finish('success');
    }
    exchangeHttp(ports, config, node, conn, finish);
  }, tls, prefix);
}

function exchangeHttp(ports: ProbePorts, config: ActiveCheckConfig, node: UpstreamNode, conn: OutboundConn, finish: (o: ProbeOutcome) => void): void {
  const request = new TextEncoder().encode(buildProbeRequest(config, node));
  ports.tcp.exchange(conn, request, MAX_STATUS_LINE_BYTES, config.timeoutMs, (answer: Uint8Array, state: PrereadState) => {
    const outcome = httpOutcome(config, answer, state);
    if (outcome === undefined) return false;
    ports.tcp.destroy(conn);
    finish(outcome);
    return true;
  });
}

/** A UDP probe in flight: the socket's context. */
class UdpProbe {
  sock: UdpUpstream<UdpProbe> | null = null;
  timer: ReturnType<typeof setTimeout> | null = null;
  constructor(
    readonly config: ActiveCheckConfig,
    private readonly finish: (o: ProbeOutcome) => void,
  ) {}

  settle(outcome: ProbeOutcome): void {
    if (this.sock === null) return; // settled already
    this.sock.close();
    this.sock = null;
    if (this.timer !== null) clearTimeout(this.timer);
    this.finish(outcome);
  }
}

/** Shared by every UDP probe socket: the socket's context is the probe. */
const UDP_HANDLERS: UdpUpstreamHandlers<UdpProbe> = {
  onDatagram(sock, data) {
    const probe = sock.context;
    // a reply that does not show a healthy node is an unhealthy answer, as an unhealthy HTTP status is
    probe.settle(udpReplyMatches(probe.config.udp!, data) ? 'success' : 'http_failure');
  },
  // ICMP port unreachable (nothing listens) or another socket error: an L4 failure at once, no waiting for the timeout
  onError(sock, _err: UdpSocketError) {
    sock.context.settle('tcp_failure');
  },
};

function probeUdp(plane: UdpProbePlane | null, config: ActiveCheckConfig, host: string, port: number, finish: (o: ProbeOutcome) => void): void {
  if (plane === null || config.udp === null) return finish('tcp_failure'); // no UDP plane given: cannot probe
  const probe = new UdpProbe(config, finish);
  probe.sock = plane.open(host, port, UDP_HANDLERS, probe);
  probe.timer = setTimeout(() => probe.settle('timeout'), config.timeoutMs);
  probe.sock.send(config.udp.send);
}
