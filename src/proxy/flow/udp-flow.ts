// The UDP flow: the phases of a session, in order, and nothing else.
//   first datagram of a client on a listener -> match -> filters (access) -> balance + connect (one connected
//   socket to the node) -> relay both ways (replies leave from the listener's socket) -> filters (log) -> record
// Later datagrams of the client find the session in the table: a map lookup, a list move and a send.

import type { ProxyProtocolFlags } from '../../config/types';
import { formatHostPort } from '../../lib/ip';
import { isLogged, logger } from '../../log/logger';
import { RateLimitedWarn } from '../../log/rate-limit';
import type { UdpDataPlane, UdpListener, UdpSocketError, UdpUpstreamHandlers } from '../../runtime/types';
import type { CompiledRoute, ConnInfo, Snapshot } from '../../snapshot/types';
import { NONE_TRIED, pickNode, RecentRefusals, releaseNode } from '../connect/pick';
import type { HealthView } from '../../health/types';
import { writeProxyHeader } from '../connect/proxy-header';
import { proxyHeaderFacts, udpPlanOf } from '../connect/proxy-prefix';
import { runAccess, runLog } from '../filter/chain';
import type { AccessVerdict } from '../filter/types';
import { selectRoute } from '../match/route';
import type { TrustCheck } from '../match/trust';
import { parseProxyDatagram } from '../prelude/proxy-protocol';
import type { ProxyHeader } from '../prelude/proxy-protocol-types';
import type { AccessRecorder } from '../record/access';
import type { EndReason } from '../session/end-reason';
import { EmptyWaiters } from '../session/open-set';
import { ProxiedUdpSession, UdpSession } from '../session/udp-session';
import { SessionTable } from '../session/udp-table';
import { type PolicyReason, type RouteChange, type SessionVerdict, SessionReaper, decideSession, describeVerdict } from '../session/policy';
import { WarnOnce } from './warn-once';
import { nextConnectionId } from '../session/conn-id';

export interface UdpFlowOptions {
  plane: UdpDataPlane;
  /** The snapshot new sessions use; read once per new session. */
  snapshot: () => Snapshot;
  /** The upstreams' running health checkers, beside the snapshot. */
  health: HealthView;
  recorder: AccessRecorder;
  /** Bound of the session table (nginx_config.stream.udp_max_sessions). */
  maxSessions: number;
  /** nginx proxy_responses: replies expected per client datagram; null = unlimited (end on idle only). */
  responses: number | null;
  /** Session clock period; tests shorten it. */
  tickMs?: number;
  /** nginx_config.stream.real_ip_from compiled; null: every peer of a proxy_protocol listener is trusted. */
  trust?: TrustCheck | null;
}

/** Counters since start, for the log and tests. */
export interface UdpStats {
  sessions: number;
  /** Datagrams from new clients dropped because no route matched (or its upstream could not forward). */
  noRoute: number;
  /** Sessions ended because the table was full. */
  evicted: number;
  /** Sessions ended because an upstream answered with ICMP refused / unreachable. */
  refused: number;
  /** Datagrams of a proxy_protocol listener dropped: no valid v2 header in front. */
  proxyInvalid: number;
  /** Datagrams of a proxy_protocol listener dropped: the peer is outside real_ip_from. */
  proxyUntrusted: number;
}

/** A node that refused a session is passed over by new sessions for this long while others remain. */
const REFUSED_AVOID_MS = 10_000;
/** At most one "dropped without a route" summary line per this period. */
const NO_ROUTE_REPORT_MS = 10_000;
/** While shutting down, a session quiet for this long is over (UDP has no close to wait for). */
const DRAIN_QUIET_MS = 1000;

export class UdpFlow {
  readonly counters: UdpStats = { sessions: 0, noRoute: 0, evicted: 0, refused: 0, proxyInvalid: 0, proxyUntrusted: 0 };
  /** PROXY protocol flags of each listener scope that has any (set by the listener set's binder). */
  private readonly proxyFlags: Array<ProxyProtocolFlags | undefined> = [];
  private readonly dropWarnings = new RateLimitedWarn();
  private readonly table: SessionTable<UdpSession>;
  private readonly refusals = new RecentRefusals(REFUSED_AVOID_MS);
  private readonly cannotForward = new WarnOnce<CompiledRoute>('route cannot forward; its datagrams are dropped');
  /** The session clock; only while some UDP listener is bound (a TCP-only weir wakes up for nothing else). */
  private timer: NodeJS.Timeout | null = null;
  private readonly expired: UdpSession[] = [];
  /**
   * New sessions of upstreams with passive checks, until their first reply: the clock tick counts those
   * still unanswered after checks.passive.timeout as a timeout (weir extension). Sessions of upstreams
   * without passive checks never enter it.
   */
  private awaitingReply: UdpSession[] = [];
  private accepting = true;
  /** Shutting down: answered or briefly quiet sessions end instead of waiting for their idle timeout. */
  private draining = false;
  private reportedNoRoute = 0;
  private reportedAt = 0;
  private readonly drained = new EmptyWaiters();
  /** Drains of session policies (route or node changes): timers per change, none per session. */
  private readonly reaper = new SessionReaper<UdpSession>(
    (s) => s.list !== 0,
    (s, reason: PolicyReason, note) => this.end(s, reason, note),
  );

  private readonly handlers: UdpUpstreamHandlers<UdpSession> = {
    onDatagram: (sock, data) => this.onReply(sock.context, data),
    onError: (sock, err) => this.onUpstreamError(sock.context, err),
  };

  constructor(private readonly opts: UdpFlowOptions) {
    this.table = new SessionTable<UdpSession>(opts.maxSessions, Date.now());
  }

  /** Run the session clock while listeners exist. Called by the listener set after each change. */
  setClock(running: boolean): void {
    if (running && this.timer === null) {
      this.timer = setInterval(() => this.tick(), this.opts.tickMs ?? 250);
      this.timer.unref();
    } else if (!running && this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  /** Config reload: the table's cap and proxy_responses apply from the next datagram on. */
  setSettings(settings: { maxSessions: number; responses: number | null }): void {
    this.table.maxSessions = settings.maxSessions;
    this.opts.responses = settings.responses;
  }

  /**
   * After a snapshot swap: the sessions of routes that changed follow their route's policy (see TcpFlow's).
   * `changes` holds only routes with a policy other than keep; usually it is empty.
   */
  applyRouteChanges(changes: readonly RouteChange[]): void {
    if (changes.length === 0) return;
    const byRoute = new Map<string, RouteChange>();
    for (const c of changes) byRoute.set(c.routeId, c);
    const verdicts: Array<[UdpSession, SessionVerdict]> = [];
    for (const s of this.table.entries()) {
      const change = byRoute.get(s.route.id);
      if (change === undefined) continue;
      const v = decideSession(change, s.node.address);
      if (v !== null) verdicts.push([s, v]);
    }
    this.reaper.apply(verdicts, (s, v) => describeVerdict(`route ${s.route.id}`, v));
  }

  /** Sessions open now. */
  activeSessions(): number {
    return this.table.size;
  }

  stats(): UdpStats {
    return { ...this.counters };
  }

  /** A listener scope's PROXY protocol flags (the UDP listener set calls it on bind and unbind). */
  setListenerProxy(scope: number, flags: ProxyProtocolFlags | undefined): void {
    this.proxyFlags[scope] = flags;
  }

  /** Accept phase, per datagram from a client. The established-session path allocates nothing. */
  onDatagram(scope: number, listener: UdpListener, data: Uint8Array, address: string, port: number): void {
    let s = this.table.get(scope, address, port);
    if (s === undefined) {
      if (!this.accepting) return;
      s = this.open(scope, listener, address, port, null, null, 0);
      if (s === undefined) return;
    } else if (s.datagramsToClient > 0) {
      this.table.assure(s);
    }
    this.relay(s, data);
  }

  /**
   * Accept phase on a proxy_protocol listener, per datagram: a trusted peer, a v2 header in front, and its
   * source is the client (the session key); the payload after it is what goes on. Replies go back to the peer.
   * A datagram without a valid header, or from an untrusted peer, is dropped and counted (never forwarded).
   */
  onProxiedDatagram(scope: number, listener: UdpListener, data: Uint8Array, peer: string, peerPort: number): void {
    const trust = this.opts.trust;
    if (trust != null && !trust(peer)) {
      this.counters.proxyUntrusted++;
      this.dropWarnings.warn('untrusted', 'udp datagram dropped: PROXY header from a peer outside real_ip_from', { peer: formatHostPort(peer, peerPort) });
      return;
    }
    const r = parseProxyDatagram(data);
    if (r.kind === 'invalid') {
      this.counters.proxyInvalid++;
      this.dropWarnings.warn('invalid', 'udp datagram dropped: no valid PROXY header', { peer: formatHostPort(peer, peerPort), reason: r.reason });
      return;
    }
    const h = r.header;
    const src = h.command === 'proxy' && (h.family === 'ipv4' || h.family === 'ipv6') ? h.source : null;
    const address = src === null ? peer : src.addr;
    const port = src === null ? peerPort : src.port;
    const payload = data.subarray(r.payloadOffset);
    let s = this.table.get(scope, address, port);
    if (s === undefined) {
      if (!this.accepting) return;
      // a LOCAL (or non-IP) header names no client: the peer is the client, and a plain session answers it
      s = this.open(scope, listener, address, port, h, src === null ? null : peer, peerPort);
      if (s === undefined) return;
    } else {
      if (s.datagramsToClient > 0) this.table.assure(s);
      if (s instanceof ProxiedUdpSession && s.peerAddr !== null && (s.peerAddr !== peer || s.peerPort !== peerPort)) {
        s.peerAddr = peer; // a load balancer may move a flow to another of its addresses: answer the latest
        s.peerPort = peerPort;
      }
    }
    this.relay(s, payload);
  }

  /** A client datagram on its session: count, keep the session fresh, forward. */
  private relay(s: UdpSession, data: Uint8Array): void {
    s.datagramsFromClient++;
    s.bytesFromClient += data.byteLength;
    this.table.touch(s);
    s.forward(data);
    if (this.opts.responses === 0) this.end(s, 'responses');
  }

  /**
   * Match, filters, balance and connect for a client's first datagram. `header`: the PROXY header it came
   * with (a proxy_protocol listener), else null; `peer`: the proxy that sent it when the header named the client.
   */
  private open(scope: number, listener: UdpListener, address: string, port: number, header: ProxyHeader | null, peer: string | null, peerPort: number): UdpSession | undefined {
    const info: ConnInfo =
      peer === null
        ? { protocol: 'udp', id: nextConnectionId(), remoteAddr: address, remotePort: port, serverAddr: listener.host, serverPort: listener.port, sni: null }
        : { protocol: 'udp', id: nextConnectionId(), remoteAddr: address, remotePort: port, serverAddr: listener.host, serverPort: listener.port, sni: null, proxyPeer: formatHostPort(peer, peerPort) };
    const route = selectRoute(this.opts.snapshot(), info);
    const up = route?.upstream ?? null;
    if (route === undefined || up === null) {
      this.counters.noRoute++;
      if (route !== undefined) this.cannotForward.warn(route, { route: route.id, problem: route.problem ?? undefined });
      else if (isLogged('debug')) logger.debug('not hit any route', { protocol: 'udp', client: formatHostPort(address, port), port: listener.port });
      return undefined;
    }
    if (route.filters.access.length !== 0 && this.rejectedByFilters(route, info)) return undefined;
    const node = pickNode(up, info, NONE_TRIED, this.opts.health, this.refusals, this.table.now);
    if (node === undefined) {
      this.counters.noRoute++;
      return undefined;
    }
    const plan = udpPlanOf(up, this.proxyFlags[scope]?.proxyProtocolToUpstream === true);
    let s: UdpSession;
    if (peer === null && plan === null) {
      s = new UdpSession(scope, listener, info, route, up, node, Date.now());
    } else {
      const p = new ProxiedUdpSession(scope, listener, info, route, up, node, Date.now(), header);
      if (peer !== null) {
        p.peerAddr = peer;
        p.peerPort = peerPort;
      }
      if (plan !== null) p.prefix = writeProxyHeader(plan, proxyHeaderFacts(plan, p, null));
      s = p;
    }
    const victim = this.table.add(s);
    if (victim !== null) {
      this.counters.evicted++;
      this.finish(victim, 'evicted');
    }
    this.counters.sessions++;
    s.upstream = this.opts.plane.open(node.host, node.port, this.handlers, s);
    if ((this.opts.health.checkerOf(up)?.passiveTimeoutMs ?? 0) > 0) this.awaitingReply.push(s);
    return s;
  }

  /**
   * The access phase of a new session. A rejected first datagram is dropped (nothing is sent back, as for
   * no route) and its rejection recorded.
   * TODO: filters that decide later (limit-conn's delay) need the session's first datagrams held; until the
   * plugins issue lands, such a verdict drops the datagram and the client's retry runs the chain again.
   */
  private rejectedByFilters(route: CompiledRoute, info: ConnInfo): boolean {
    let decided = false;
    let verdict: AccessVerdict = undefined;
    runAccess(route.filters, { info, route }, (v) => {
      decided = true;
      verdict = v;
    });
    if (!decided) return true;
    if (verdict === undefined) return false;
    const { code, reason } = verdict as { code: number; reason: string };
    const now = Date.now();
    const totals = { info, route, node: null, startedAt: now, bytesFromClient: 0, bytesToClient: 0, end: 'rejected' as const };
    runLog(route.filters, totals);
    this.opts.recorder.connection(info, route, null, now, 0, 0, 'rejected', `${code} ${reason}`);
    return true;
  }

  private onReply(s: UdpSession, data: Uint8Array): void {
    if (s.list === 0) return;
    // The first reply is UDP's "connected": a passive-check success, once per session; ewma's latency sample.
    if (s.datagramsToClient++ === 0) this.firstReply(s);
    s.bytesToClient += data.byteLength;
    this.table.touch(s);
    s.reply(data);
    const expected = this.opts.responses;
    if (expected !== null && s.datagramsToClient >= expected * s.datagramsFromClient) this.end(s, 'responses');
    else if (this.draining && s.answered()) this.end(s, 'shutdown');
  }

  private firstReply(s: UdpSession): void {
    this.opts.health.checkerOf(s.up)?.reportConnect(s.node, null);
    const { balancer } = s.up;
    if (balancer.observe !== undefined) balancer.observe(s.node, Date.now() - s.startedAt, true);
  }

  /** Sessions still without a reply after checks.passive.timeout count as a timeout for their node, once. */
  private countUnanswered(now: number): void {
    const keep: UdpSession[] = [];
    for (const s of this.awaitingReply) {
      if (s.list === 0 || s.datagramsToClient > 0) continue; // over, or answered
      const health = this.opts.health.checkerOf(s.up);
      const limit = health?.passiveTimeoutMs ?? 0;
      if (limit === 0) continue; // the checks changed meanwhile
      if (now - s.startedAt < limit) keep.push(s);
      else health!.reportConnect(s.node, 'timeout');
    }
    this.awaitingReply = keep;
  }

  private onUpstreamError(s: UdpSession, err: UdpSocketError): void {
    if (s.list === 0) return;
    if (err.kind === 'other') {
      if (isLogged('debug')) logger.debug('udp upstream socket error', { node: s.node.address, error: err.code });
      return;
    }
    this.counters.refused++;
    this.opts.health.checkerOf(s.up)?.reportConnect(s.node, 'tcp_failure');
    // One warning per node and avoidance window, so clients retrying against a dead node cannot flood the log.
    const first = this.refusals.note(s.node.address, this.table.now);
    const fields = { route: s.route.id, node: s.node.address, error: err.code };
    if (first) logger.warn('udp upstream refused; session closed', fields);
    else if (isLogged('debug')) logger.debug('udp upstream refused; session closed', fields);
    this.end(s, 'upstream_refused', err.code);
  }

  /** End a session that is still in the table. */
  private end(s: UdpSession, reason: EndReason, error?: string): void {
    if (this.table.remove(s)) this.finish(s, reason, error);
  }

  /** Close a session already out of the table: filters (log) and record. */
  private finish(s: UdpSession, reason: EndReason, error?: string): void {
    s.upstream?.close();
    releaseNode(s.up, s.node);
    if (s.route.filters.log.length !== 0) {
      runLog(s.route.filters, { info: s.info, route: s.route, node: s.node, startedAt: s.startedAt, bytesFromClient: s.bytesFromClient, bytesToClient: s.bytesToClient, end: reason });
    }
    this.opts.recorder.session(s, reason, Date.now(), error);
    if (this.table.size === 0) this.drained.wake();
  }

  /** Admin view: the open sessions, least recently active first. Allocates a list; not on any datagram's path. */
  openSessions(): UdpSession[] {
    return this.table.entries();
  }

  /** End one session on an admin's request (access record end "admin_closed"). False when it is not open. */
  closeByAdmin(s: UdpSession): boolean {
    if (s.list === 0) return false;
    this.end(s, 'admin_closed', 'closed through the Admin API');
    return true;
  }

  /** The table's coarse clock (ms): sessions' lastActive is on it. */
  clock(): number {
    return this.table.now;
  }

  /** End the sessions of an unbound listener: their replies would have no socket to leave from. */
  endListener(scope: number, reason: 'listener_removed' | 'shutdown' = 'listener_removed'): void {
    for (const s of this.table.entries()) if (s.scope === scope) this.end(s, reason);
  }

  /** The clock tick: expire idle sessions, forget old refusals, count unanswered sessions, report drops. */
  private tick(): void {
    const now = Date.now();
    this.table.sweep(now, this.expired, this.draining ? DRAIN_QUIET_MS : Infinity);
    const reason = this.draining ? 'shutdown' : 'idle_timeout';
    for (let i = 0; i < this.expired.length; i++) this.finish(this.expired[i]!, reason);
    this.expired.length = 0;
    this.refusals.expire(now);
    if (this.awaitingReply.length !== 0) this.countUnanswered(now);
    const dropped = this.counters.noRoute - this.reportedNoRoute;
    if (dropped > 0 && now - this.reportedAt >= NO_ROUTE_REPORT_MS) {
      logger.warn('udp datagrams dropped: not hit any route', { count: dropped, total: this.counters.noRoute });
      this.reportedNoRoute = this.counters.noRoute;
      this.reportedAt = now;
    }
  }

  /** New clients are ignored from now on; open sessions continue. */
  stopAccepting(): void {
    this.accepting = false;
  }

  /**
   * Stop new sessions and drain: answered sessions end now, the others when their last reply comes or
   * after DRAIN_QUIET_MS without traffic, all within graceMs; then the rest are aborted.
   */
  async shutdown(graceMs: number): Promise<void> {
    this.reaper.stop();
    this.stopAccepting();
    this.draining = true;
    for (const s of this.table.entries()) if (s.answered()) this.end(s, 'shutdown');
    if (this.table.size > 0 && graceMs > 0) await this.drained.wait(graceMs);
    for (const s of this.table.entries()) this.end(s, 'aborted');
    this.setClock(false);
    this.dropWarnings.close();
  }
}
