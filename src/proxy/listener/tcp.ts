// The TCP listen phase: bind the listeners a list names (through the listener manager) and hand every
// accepted connection to the TCP flow. Accepting is all that happens here.

import type { TcpListenSpec } from '../../config/types';
import type { AccessLog } from '../../log/logger';
import type { TcpDataPlane, TcpListener } from '../../runtime/types';
import type { Snapshot } from '../../snapshot/types';
import { type HealthView, NO_HEALTH } from '../../health/types';
import type { FlowMetrics } from '../../metrics/types';
import { TcpFlow } from '../flow/tcp-flow';
import { compileTrust } from '../match/trust';
import { type TlsMode, tlsModeOf } from '../prelude/tls';
import type { RouteChange } from '../session/policy';
import { type ApplyResult, type BoundListener, type ListenerBinder, ListenerSet } from './manager';
import { ConnectionLimiter, LimitedAccept, type ListenerCount, ReleasingRecorder } from './conn-limit';

/** An already listening socket this process inherited (binary upgrade), by protocol and address; taken once. */
export type InheritedFd = (proto: 'tcp' | 'udp', host: string, port: number) => number | undefined;

export interface TcpProxyOptions {
  plane: TcpDataPlane;
  listeners: TcpListenSpec[];
  /** The snapshot new connections use; read once per phase that needs it. */
  snapshot: () => Snapshot;
  /** The upstreams' running health checkers, beside the snapshot (default: none). */
  health?: HealthView;
  accessLog: AccessLog;
  /** TLS listeners: apisix.ssl.fallback_sni and the preread / handshake timeouts (defaults 30 s). */
  tls?: TcpTlsOptions;
  /** nginx_config.stream.real_ip_from (canonical CIDRs); absent: every peer of a proxy_protocol listener is trusted. */
  realIpFrom?: readonly string[];
  /** apisix.stream_proxy.max_connections: open connections beyond it are refused at accept; null/absent = no cap. */
  maxConnections?: number | null;
  /** The metrics sink when the prometheus export server runs (default: none). */
  metrics?: FlowMetrics | null;
  /** Sockets handed over by the previous process (`weir upgrade`): used instead of binding those addresses. */
  inherited?: InheritedFd;
}

export interface TcpTlsOptions {
  fallbackSni: string | null;
  prereadTimeoutMs?: number;
  handshakeTimeoutMs?: number;
}

export type BoundTcpListener = BoundListener;

export interface TcpProxy {
  /** The addresses actually bound (port 0 in the config becomes the real port). */
  readonly listeners: readonly BoundTcpListener[];
  /**
   * Bind and unbind so the listeners equal `specs`. Open connections of a removed listener follow its
   * `onChange` (the spec of the same origin in `specs` when it only moved, else the removed one's): keep by default.
   */
  applyListeners(specs: readonly TcpListenSpec[]): Promise<ApplyResult>;
  /** After a snapshot swap: open connections of changed routes follow their route's policy. */
  applyRouteChanges(changes: readonly RouteChange[]): void;
  /** Config reload: new TLS settings for the next connections. */
  setTls(tls: TcpTlsOptions): void;
  /** Listening sockets by address, for a binary upgrade to pass on (fd undefined where the plane has none). */
  sockets(): Array<{ host: string; port: number; fd: number | undefined }>;
  /** Connections accepted and not yet finished (ClientHello preread, TLS handshake, dialling or piping). */
  activeConnections(): number;
  /** Stop accepting; open connections continue. */
  stopAccepting(): Promise<void>;
  /** The flow, whose open connections the Admin API lists and closes (src/inspect/connections.ts). */
  readonly flow: TcpFlow;
  /** The connection caps and their refusal counts (weir_stream_refused_connections_total{reason}). */
  readonly limiter: ConnectionLimiter;
  /** Stop accepting, wait up to graceMs for open connections to finish, then abort the rest. */
  shutdown(graceMs: number): Promise<void>;
}

function hasProxyFlags(spec: TcpListenSpec): boolean {
  return spec.proxyProtocol === true || spec.proxyProtocolToUpstream === true;
}

/**
 * TCP listeners: a plain one hands connections straight to the flow; a TLS one, or one with PROXY protocol
 * flags, reads its current spec per accept (one closure per listener, not per connection).
 */
function tcpBinder(
  plane: TcpDataPlane,
  flow: TcpFlow,
  limits: LimitedAccept,
  wanted: () => ReadonlyMap<string, TcpListenSpec>,
  inherited: InheritedFd | undefined,
): ListenerBinder<TcpListenSpec, TcpListener> {
  return {
    // a plain listener's handler has no spec to read: turning PROXY protocol on or off gives it a new socket
    bindKey: (spec) => (tlsModeOf(spec) !== null ? 'tls' : hasProxyFlags(spec) ? 'plain+proxy' : 'plain'),
    bind: (spec, _scope, entry) => {
      const fd = inherited?.('tcp', spec.host, spec.port);
      const addr = { host: spec.host, port: spec.port, ...(fd === undefined ? {} : { fd }) };
      // the listener's cap is read per accept from its current spec (a reload may change it in place)
      const count: ListenerCount = { open: 0, origin: spec.origin, get max() { return entry().spec.maxConnections ?? null; } };
      if (tlsModeOf(spec) === null) {
        if (!hasProxyFlags(spec)) return plane.listen(addr, limits.wrap(count, flow.accept));
        return plane.listen(addr, limits.wrap(count, (c) => flow.acceptProxied(c, entry().spec)));
      }
      // the mode and the flags can change without a new socket
      return plane.listen({ ...addr, tls: true }, limits.wrap(count, (c) => {
        const current = entry().spec;
        if (hasProxyFlags(current)) flow.acceptProxied(c, current);
        else flow.acceptTls(c, tlsModeOf(current) as TlsMode);
      }));
    },
    unbind: async ({ handle, spec }, why) => {
      await handle.stop();
      if (why !== 'apply') return;
      const policy = (wanted().get(spec.origin) ?? spec).onChange ?? null;
      flow.endListener(handle.host, handle.port, policy, spec.origin);
    },
  };
}

class TcpProxyImpl implements TcpProxy {
  readonly flow: TcpFlow;
  readonly set: ListenerSet<TcpListenSpec, TcpListener>;
  readonly limiter: ConnectionLimiter;

  /** The specs of the apply in progress, by origin: a listener that moved drains by its new policy. */
  private wanted: ReadonlyMap<string, TcpListenSpec> = new Map();

  constructor(opts: TcpProxyOptions) {
    const recorder = new ReleasingRecorder(opts.accessLog);
    this.flow = new TcpFlow({
      plane: opts.plane,
      snapshot: opts.snapshot,
      health: opts.health ?? NO_HEALTH,
      recorder,
      tls: opts.tls,
      trust: compileTrust(opts.realIpFrom),
      metrics: opts.metrics,
    });
    this.limiter = new ConnectionLimiter(opts.maxConnections ?? null, () => this.flow.openConnections());
    opts.metrics?.addTcpRefusals(this.limiter);
    const limits = new LimitedAccept(this.limiter, (c) => opts.plane.destroy(c), (info, error) => recorder.connection(info, null, null, Date.now(), 0, 0, 'refused', error));
    recorder.accept = limits;
    this.set = new ListenerSet(tcpBinder(opts.plane, this.flow, limits, () => this.wanted, opts.inherited));
  }

  get listeners(): readonly BoundTcpListener[] {
    return this.set.list();
  }

  applyListeners(specs: readonly TcpListenSpec[]): Promise<ApplyResult> {
    this.wanted = new Map(specs.map((s) => [s.origin, s]));
    return this.set.apply(specs);
  }

  applyRouteChanges(changes: readonly RouteChange[]): void {
    this.flow.applyRouteChanges(changes);
  }

  setTls(tls: TcpTlsOptions): void {
    this.flow.setTls(tls);
  }

  sockets(): Array<{ host: string; port: number; fd: number | undefined }> {
    return this.set.listEntries().map(({ handle }) => ({ host: handle.host, port: handle.port, fd: handle.fd }));
  }

  activeConnections(): number {
    return this.flow.openConnections();
  }

  stopAccepting(): Promise<void> {
    return this.set.closeAll();
  }

  async shutdown(graceMs: number): Promise<void> {
    await this.stopAccepting();
    await this.flow.shutdown(graceMs);
    this.limiter.close();
  }
}

/**
 * Bind every TCP listener and start proxying. If one address cannot be bound, the ones already bound
 * are closed and the promise rejects with an Error naming the address and its config origin.
 */
export async function startTcpProxy(opts: TcpProxyOptions): Promise<TcpProxy> {
  const proxy = new TcpProxyImpl(opts);
  await proxy.applyListeners(opts.listeners);
  return proxy;
}
