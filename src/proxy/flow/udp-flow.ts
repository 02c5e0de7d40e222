// The UDP flow: the phases of a session, in order, and nothing else.
//   first datagram of a client on a listener -> match -> filters (access) -> balance + connect (one connected
//   socket to the node) -> relay both ways (replies leave from the listener's socket) -> filters (log) -> record
// Later datagrams of the client find the session in the table: a map lookup, a list move and a send. A datagram
// that finds none asks the admission first (per-source cap, the listener's cap, new-session rate:
// session/udp-admission.ts).
// Filters that decide later (limit-conn's delay) keep the session in the table with its first datagrams held
// (bounded, HeldDatagrams) until their verdict; a send to the held ones is the same call as to a socket.

import type { ProxyProtocolFlags } from '../../config/types';
import { formatHostPort } from '../../lib/ip';
import { isLogged, logger } from '../../log/logger';
import { RateLimitedWarn } from '../../log/rate-limit';
import type { UdpDataPlane, UdpListener, UdpSocketError, UdpUpstream, UdpUpstreamHandlers } from '../../runtime/types';
import type { CompiledRoute, CompiledUpstream, ConnInfo, Snapshot } from '../../snapshot/types';
import { DEFAULT_IDLE_TIMEOUT_MS } from '../../snapshot/build';
import type { FlowMetrics, LiveSource } from '../../metrics/types';
import { NONE_TRIED, pickNode, RecentRefusals, releaseNode } from '../connect/pick';
import type { HealthView } from '../../health/types';
import { writeProxyHeader } from '../connect/proxy-header';
import { proxyHeaderFacts, udpPlanOf } from '../connect/proxy-prefix';
import { runAccess, runLog } from '../filter/chain';
import type { AccessVerdict, ConnThrottle, Rejection } from '../filter/types';
import { selectRoute } from '../match/route';
import type { TrustCheck } from '../match/trust';
import { parseProxyDatagram } from '../prelude/proxy-protocol';
import type { ProxyHeader } from '../prelude/proxy-protocol-types';
import type { AccessRecorder } from '../record/access';
import type { EndReason } from '../session/end-reason';
import { EmptyWaiters } from '../session/open-set';
import { HeldDatagrams, ProxiedUdpSession, UdpSession } from '../session/udp-session';
import { SessionTable } from '../session/udp-table';
import { DEFAULT_UDP_ADMISSION, type ListenerSessionCap, SessionAdmission, type UdpAdmissionSettings } from '../session/udp-admission';
import { type PolicyReason, type RouteChange, type SessionVerdict, SessionReaper, decideSession, describeVerdict } from '../session/policy';
import { WarnOnce } from './warn-once';
import { loopUtilizationReader } from '../../runtime/loop-load';
import { nextConnectionId } from '../session/conn-id';

/** Bound of a session held while its filters decide (nginx's preread_timeout default); then it ends as idle. */
const HELD_IDLE_MS = 30_000;

export interface UdpFlowOptions {
  plane: UdpDataPlane;
  /** The snapshot new sessions use; read once per new session. */
  snapshot: () => Snapshot;
  /** The upstreams' running health checkers, beside the snapshot. */
  health: HealthView;
  recorder: AccessRecorder;
  /** Bound of the session table (nginx_config.stream.udp_max_sessions). */
  maxSessions: number;
  /** Limits on new sessions: per source address, and a rate (default DEFAULT_UDP_ADMISSION). */
  admission?: UdpAdmissionSettings;
  /** nginx proxy_responses: replies expected per client datagram; null = unlimited (end on idle only). */
  responses: number | null;
  /** Session clock period; tests shorten it. */
  tickMs?: number;
  /** nginx_config.stream.real_ip_from compiled; null: every peer of a proxy_protocol listener is trusted. */
  trust?: TrustCheck | null;
  /** The metrics sink when the prometheus export server runs; absent or null: nothing is counted. */
  metrics?: FlowMetrics | null;
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
  /** New sessions refused: the client address held udp_max_sessions_per_source already. */
  refusedPerSource: number;
  /** New sessions refused: the listener held its max_connections sessions already. */
  refusedListener: number;
  /** New sessions refused: over udp_session_rate, or over its narrowed share while the event loop ran late. */
  refusedRate: number;
}

/** A node that refused a session is passed over by new sessions for this long while others remain. */
const REFUSED_AVOID_MS = 10_000;
/** At most one "dropped without a route" summary line per this period. */
const NO_ROUTE_REPORT_MS = 10_000;
/** While shutting down, a session quiet for this long is over (UDP has no close to wait for). */
const DRAIN_QUIET_MS = 1000;

export class UdpFlow implements LiveSource {
  readonly counters: Omit<UdpStats, 'refusedPerSource' | 'refusedListener' | 'refusedRate'> = { sessions: 0, noRoute: 0, evicted: 0, refused: 0, proxyInvalid: 0, proxyUntrusted: 0 };
  /** Asked by a datagram that finds no session, before anything else is done for it (a flood's cheap exit). */
  readonly admission: SessionAdmission;
  /** PROXY protocol flags of each listener scope that has any (set by the listener set's binder). */
  private readonly proxyFlags: Array<ProxyProtocolFlags | undefined> = [];
  /** Each bound listener's own session cap (max_connections), by scope; read by new-session admission only. */
  private readonly listenerCaps: Array<ListenerSessionCap | undefined> = [];
  private readonly dropWarnings = new RateLimitedWarn();
  private readonly table: SessionTable<UdpSession>;
  private readonly refusals = new RecentRefusals(REFUSED_AVOID_MS);
  private readonly cannotForward = new WarnOnce<CompiledRoute>('route cannot forward; its datagrams are dropped');
  /** The session clock; only while some UDP listener is bound (a TCP-only weir wakes up for nothing else). */
  private timer: NodeJS.Timeout | null = null;
  /** When the clock last ticked: how late the next tick is tells the admission whether the event loop keeps up. */
  private tickedAt = 0;
  /** The event loop's busy share since the last tick (null: this runtime cannot tell; lateness alone counts). */
  private readonly loopUtilization = loopUtilizationReader();
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
    (s, reason: PolicyReason, note) => this.cut(s, reason, note),
  );

  private readonly handlers: UdpUpstreamHandlers<UdpSession> = {
    onDatagram: (sock, data) => this.onReply(sock.context, data),
    onError: (sock, err) => this.onUpstreamError(sock.context, err),
  };
  /** Sessions with limit-bandwidth: replies over the rate are dropped before they count. */
  private readonly policedHandlers: UdpUpstreamHandlers<UdpSession> = {
    onDatagram: (sock, data) => {
      if (sock.context.filters!.throttle!.admit(false, data.byteLength)) this.onReply(sock.context, data);
    },
    onError: (sock, err) => this.onUpstreamError(sock.context, err),
  };

  private metrics: FlowMetrics | null;

  constructor(private readonly opts: UdpFlowOptions) {
    this.table = new SessionTable<UdpSession>(opts.maxSessions, Date.now());
    this.table.clockStepMs = opts.tickMs ?? 250;
    this.admission = new SessionAdmission(opts.admission ?? DEFAULT_UDP_ADMISSION, Date.now());
    this.metrics = opts.metrics ?? null;
    this.metrics?.addLiveSource(this);
    this.metrics?.addUdpRefusals(this.admission);
  }

  /** A reload turned the metrics on or off, or renewed them: events from now on count there (or nowhere). */
  setMetrics(metrics: FlowMetrics | null): void {
    this.metrics = metrics;
    metrics?.addLiveSource(this);
    metrics?.addUdpRefusals(this.admission);
  }

  /** Run the session clock while listeners exist. Called by the listener set after each change. */
  setClock(running: boolean): void {
    if (running && this.timer === null) {
      this.tickedAt = Date.now();
      this.timer = setInterval(() => this.tick(), this.opts.tickMs ?? 250);
      this.timer.unref();
    } else if (!running && this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  /**
   * Config reload: the table's cap, proxy_responses and the limits on new sessions (per source, rate, burst)
   * apply from the next datagram on; open sessions are kept.
   */
  setSettings(settings: { maxSessions: number; responses: number | null; admission?: UdpAdmissionSettings }): void {
    if (settings.admission !== undefined) this.admission.reconfigure(settings.admission);
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
      const v = decideSession(change, s.up === null ? null : s.up.key, s.node === null ? null : s.node.address);
      if (v !== null) verdicts.push([s, v]);
    }
    this.reaper.apply(verdicts, (s, v) => describeVerdict(`route ${s.route.id}`, v));
  }

  /** Sessions open now. */
  activeSessions(): number {
    return this.table.size;
  }

  stats(): UdpStats {
    const r = this.admission.refused();
    return { ...this.counters, refusedPerSource: r.per_source, refusedListener: r.listener_max_sessions, refusedRate: r.rate + r.overload };
  }

  /** A listener scope's PROXY protocol flags (the UDP listener set calls it on bind and unbind). */
  setListenerProxy(scope: number, flags: ProxyProtocolFlags | undefined): void {
    this.proxyFlags[scope] = flags;
  }

  /** A listener scope's own session cap (the UDP listener set calls it on bind and unbind); its `max` is read per new client. */
  setListenerCap(scope: number, cap: ListenerSessionCap | undefined): void {
    this.listenerCaps[scope] = cap;
  }

  /** Admission of a new client on the listener `scope`: the per-source and listener caps, then the rate. */
  private admits(scope: number, address: string): boolean {
    if (!this.accepting) return false;
    return this.admission.admit(this.table.countOf(address), Date.now(), this.listenerCaps[scope] ?? null, this.table.countIn(scope)) === null;
  }

  /** Accept phase, per datagram from a client. The established-session path allocates nothing. */
  onDatagram(scope: number, listener: UdpListener, data: Uint8Array, address: string, port: number): void {
    let s = this.table.get(scope, address, port);
    if (s === undefined) {
      if (!this.admits(scope, address)) return;
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
      if (!this.admits(scope, address)) return;
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
    // the node (through the session's PROXY prefix, if any), or (filters still deciding) the datagrams held for it
    s.forward(data);
    if (this.opts.responses === 0 && s.node !== null) this.end(s, 'responses');
  }

  /**
   * Match, filters, balance and connect for a client's first datagram. `header`: the PROXY header it came
   * with (a proxy_protocol listener), else null; `peer`: the proxy that sent it when the header named the client.
   */
  private open(scope: number, listener: UdpListener, address: string, port: number, header: ProxyHeader | null, peer: string | null, peerPort: number): UdpSession | undefined {
    // The table's clock moves on each tick; a burst of new clients can hold the tick back for a second or more,
    // and a session stamped with the stale time would look idle for that long at the next tick (ended before
    // its idle timeout, on a loaded machine before its first reply). A new session reads the real time.
    this.table.now = Date.now();
    const info: ConnInfo =
      peer === null
        ? { protocol: 'udp', id: nextConnectionId(), remoteAddr: address, remotePort: port, serverAddr: listener.host, serverPort: listener.port, sni: null }
        : { protocol: 'udp', id: nextConnectionId(), remoteAddr: address, remotePort: port, serverAddr: listener.host, serverPort: listener.port, sni: null, proxyPeer: formatHostPort(peer, peerPort) };
    const route = selectRoute(this.opts.snapshot(), info);
    if (route === undefined) {
      this.counters.noRoute++;
      if (this.metrics !== null) this.metrics.noRoute('udp', listener.host, listener.port);
      if (isLogged('debug')) logger.debug('not hit any route', { protocol: 'udp', client: formatHostPort(address, port), port: listener.port });
      return undefined;
    }
    const up = route.upstream;
    if (route.filters.access.length === 0) {
      if (up === null) return this.refuse(route);
      const s = this.createSession(scope, listener, info, route, up, header, peer, peerPort);
      if (!this.connect(s, up)) return undefined;
      return this.insert(s);
    }
    if (up === null && route.filters.setsUpstream !== true) return this.refuse(route);
    const s = this.createSession(scope, listener, info, route, up, header, peer, peerPort);
    let sync = true;
    runAccess(route.filters, s, (verdict) => this.filtered(s, verdict, sync));
    sync = false;
    if (s.aborted) return undefined; // refused at once (or admitted to an upstream without a node left)
    // admitted at once: connected; else the filters decide later (limit-conn's delay) and the session waits in
    // the table with its datagrams held
    if (s.upstream === null) {
      s.upstream = new HeldDatagrams(s);
      // the filters own the session's time until they decide (nginx's preread phase): the upstream's idle
      // timeout starts once it is admitted, so a limit-conn delay close to it cannot expire the session first
      s.idleMs = HELD_IDLE_MS;
    }
    return this.insert(s);
  }

  /**
   * A plain UdpSession, or a ProxiedUdpSession when a PROXY header named the client (`peer`) or the upstream
   * may get one (the listener's proxy_protocol_to_upstream, the upstream's proxy_protocol; a filter that
   * chooses the upstream may choose one that does).
   */
  private createSession(
    scope: number, listener: UdpListener, info: ConnInfo, route: CompiledRoute, up: CompiledUpstream | null,
    header: ProxyHeader | null, peer: string | null, peerPort: number,
  ): UdpSession {
    const idleMs = up?.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    const toUpstream = this.proxyFlags[scope]?.proxyProtocolToUpstream === true;
    const mayPrefix = route.filters.setsUpstream === true || (up !== null && udpPlanOf(up, toUpstream) !== null);
    if (peer === null && !mayPrefix) return new UdpSession(scope, listener, info, route, idleMs, Date.now());
    const p = new ProxiedUdpSession(scope, listener, info, route, idleMs, Date.now(), header);
    if (peer !== null) {
      p.peerAddr = peer;
      p.peerPort = peerPort;
    }
    return p;
  }

  /** The route cannot forward: the datagram is dropped (counted, warned about once per route). */
  private refuse(route: CompiledRoute): undefined {
    this.counters.noRoute++;
    this.cannotForward.warn(route, { route: route.id, problem: route.problem ?? undefined });
    return undefined;
  }

  /** Pick a node and open the session's socket; false when no node is left (nothing is open then). */
  private connect(s: UdpSession, up: CompiledUpstream): boolean {
    // a chash key may name a variable the filters set (ConnInfo.vars): the pick sees them
    const vars = s.filters?.vars ?? null;
    const info = vars === null ? s.info : { ...s.info, vars };
    const node = pickNode(up, info, NONE_TRIED, this.opts.health, this.refusals, this.table.now);
    if (node === undefined) {
      this.counters.noRoute++;
      s.route.filters.meter?.connectFailed(null, 'no_node');
      return false;
    }
    s.up = up;
    s.node = node;
    s.idleMs = up.idleTimeoutMs;
    if (s instanceof ProxiedUdpSession) {
      const plan = udpPlanOf(up, this.proxyFlags[s.scope]?.proxyProtocolToUpstream === true);
      if (plan !== null) s.prefix = writeProxyHeader(plan, proxyHeaderFacts(plan, s, null));
    }
    const throttle = s.filters?.throttle ?? null;
    if (throttle === null) {
      s.upstream = this.opts.plane.open(node.host, node.port, this.handlers, s);
    } else {
      // limit-bandwidth: datagrams over the rate are dropped each way (UDP cannot push back)
      s.upstream = new PolicedUpstream(this.opts.plane.open(node.host, node.port, this.policedHandlers, s), throttle);
    }
    // passive UDP checks: a session without a reply within checks.passive.timeout counts against its node
    if ((this.opts.health.checkerOf(up)?.passiveTimeoutMs ?? 0) > 0) this.awaitingReply.push(s);
    return true;
  }

  /** Put a new session in the table (a full table evicts one first). */
  private insert(s: UdpSession): UdpSession {
    const victim = this.table.add(s);
    if (victim !== null) {
      this.counters.evicted++;
      this.finish(victim, 'evicted');
    }
    this.counters.sessions++;
    return s;
  }

  /**
   * The filters phase of a new session is over. `sync`: decided within open() (nothing was held, the session
   * is not in the table yet); otherwise the session waited in the table and its held datagrams go on now.
   * A refused session's datagrams are dropped (nothing is sent back, as for no route) and it is recorded.
   */
  private filtered(s: UdpSession, verdict: AccessVerdict, sync: boolean): void {
    if (!sync && (s.aborted || s.list === 0)) return; // evicted or shut down meanwhile: recorded already
    const held = sync ? null : (s.upstream as HeldDatagrams);
    if (verdict !== undefined) {
      if (!sync) this.table.remove(s);
      held?.close();
      s.upstream = null;
      s.aborted = true;
      return this.rejected(s, verdict, sync);
    }
    const up = s.filters?.upstream ?? s.route.upstream;
    if (up === null || !this.connect(s, up)) {
      if (!sync) this.table.remove(s);
      held?.close();
      s.upstream = null;
      s.aborted = true;
      return this.runLogOf(s, up === null ? 'no_upstream' : 'connect_failed');
    }
    if (held === null) return; // open() puts it in the table and sends the first datagram
    this.table.touch(s); // idle from admission on (connect() set the upstream's idle time again)
    for (const data of held.held) s.forward(data);
    held.close();
    if (this.opts.responses === 0) this.end(s, 'responses');
  }

  private rejected(s: UdpSession, verdict: Rejection, sync: boolean): void {
    const error = `${verdict.code} ${verdict.reason}`;
    this.runLogOf(s, 'rejected', error, verdict.code);
    const meter = s.route.filters.meter;
    if (meter != null) {
      meter.rejected(verdict.code);
      meter.finished(null, 0, 0);
    }
    if (sync) this.opts.recorder.connection(s.info, s.route, null, s.startedAt, 0, 0, 'rejected', error);
    else this.opts.recorder.session(s, 'rejected', Date.now(), error);
  }

  /** The log phase of a session that had filters. `code`: the rejecting filter's. */
  private runLogOf(s: UdpSession, end: EndReason, error?: string, code?: number): void {
    const { route } = s;
    if (route.filters.log.length === 0) return;
    const vars = s.filters?.vars ?? null;
    runLog(route.filters, { conn: s, info: s.info, route, node: s.node, startedAt: s.startedAt, bytesFromClient: s.bytesFromClient, bytesToClient: s.bytesToClient, end, error, code, vars });
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
    const up = s.up!;
    this.opts.health.checkerOf(up)?.reportConnect(s.node!, null);
    if (up.balancer.observe !== undefined) up.balancer.observe(s.node!, Date.now() - s.startedAt, true);
  }

  /** Sessions still without a reply after checks.passive.timeout count as a timeout for their node, once. */
  private countUnanswered(now: number): void {
    const keep: UdpSession[] = [];
    for (const s of this.awaitingReply) {
      if (s.list === 0 || s.datagramsToClient > 0) continue; // over, or answered
      const health = s.up === null ? null : this.opts.health.checkerOf(s.up);
      const limit = health?.passiveTimeoutMs ?? 0;
      if (limit === 0) continue; // the checks changed meanwhile
      if (now - s.startedAt < limit) keep.push(s);
      else health!.reportConnect(s.node!, 'timeout');
    }
    this.awaitingReply = keep;
  }

  private onUpstreamError(s: UdpSession, err: UdpSocketError): void {
    if (s.list === 0) return;
    if (err.kind === 'other') {
      if (isLogged('debug')) logger.debug('udp upstream socket error', { node: s.node!.address, error: err.code });
      return;
    }
    this.counters.refused++;
    s.route.filters.meter?.connectFailed(s.node, err.kind);
    this.opts.health.checkerOf(s.up!)?.reportConnect(s.node!, 'tcp_failure');
    // One warning per node and avoidance window, so clients retrying against a dead node cannot flood the log.
    const first = this.refusals.note(s.node!.address, this.table.now);
    const fields = { route: s.route.id, node: s.node!.address, error: err.code };
    if (first) logger.warn('udp upstream refused; session closed', fields);
    else if (isLogged('debug')) logger.debug('udp upstream refused; session closed', fields);
    this.end(s, 'upstream_refused', err.code);
  }

  /** End a session that is still in the table. */
  private end(s: UdpSession, reason: EndReason, error?: string): void {
    if (this.table.remove(s)) this.finish(s, reason, error);
  }

  /** End a session on purpose (a session policy, an admin, its listener gone), counted in weir_stream_cut_total. */
  private cut(s: UdpSession, reason: PolicyReason | 'admin_closed', note?: string): void {
    if (!this.table.remove(s)) return;
    this.metrics?.cut('udp', reason);
    this.finish(s, reason, note);
  }

  /** Close a session already out of the table: filters (log) and record. */
  private finish(s: UdpSession, reason: EndReason, error?: string): void {
    s.aborted = true; // a session whose filters are still deciding is over: their verdict is ignored
    s.upstream?.close();
    if (s.node !== null) releaseNode(s.up!, s.node);
    this.runLogOf(s, reason, error);
    const meter = s.route.filters.meter;
    if (meter != null) meter.finished(s.node, s.bytesFromClient, s.bytesToClient);
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
    this.cut(s, 'admin_closed', 'closed through the Admin API');
    return true;
  }

  /** The table's coarse clock (ms): sessions' lastActive is on it. */
  clock(): number {
    return this.table.now;
  }

  /** LiveSource: open sessions into their routes' meters, with the bytes relayed so far. */
  addLive(): void {
    for (const s of this.table.entries()) {
      const meter = s.route.filters.meter;
      if (meter == null) continue;
      meter.liveSessions++;
      if (s.node === null) continue; // its filters are still deciding
      const node = meter.node(s.node);
      node.liveIn += s.bytesFromClient;
      node.liveOut += s.bytesToClient;
    }
  }

  /** End the sessions of an unbound listener: their replies would have no socket to leave from. */
  endListener(scope: number, reason: 'listener_removed' | 'shutdown' = 'listener_removed'): void {
    for (const s of this.table.entries()) {
      if (s.scope !== scope) continue;
      if (reason === 'shutdown') this.end(s, reason);
      else this.cut(s, reason);
    }
  }

  /** The clock tick: tell the admission how late it ran, expire idle sessions, forget old refusals, count unanswered sessions, report drops. */
  private tick(): void {
    const now = Date.now();
    const interval = now - this.tickedAt;
    this.admission.observeTick(interval, interval - (this.opts.tickMs ?? 250), this.loopUtilization?.() ?? null);
    this.tickedAt = now;
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
    this.admission.close();
  }
}

/** A session's upstream socket behind limit-bandwidth: client datagrams over the rate are dropped. */
class PolicedUpstream implements UdpUpstream<UdpSession> {
  constructor(
    private readonly inner: UdpUpstream<UdpSession>,
    private readonly throttle: ConnThrottle,
  ) {}
  get remoteAddress(): string {
    return this.inner.remoteAddress;
  }
  get remotePort(): number {
    return this.inner.remotePort;
  }
  get context(): UdpSession {
    return this.inner.context;
  }
  send(data: Uint8Array): void {
    if (this.throttle.admit(true, data.byteLength)) this.inner.send(data);
  }
  close(): void {
    this.inner.close();
  }
}
