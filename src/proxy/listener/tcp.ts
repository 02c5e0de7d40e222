// The TCP listen phase: bind the listeners a list names (through the listener manager) and hand every
// accepted connection to the TCP flow. Accepting is all that happens here.

import type { TcpListenSpec } from '../../config/types';
import type { AccessLog } from '../../log/logger';
import type { TcpDataPlane, TcpListener } from '../../runtime/types';
import type { Snapshot } from '../../snapshot/types';
import { type HealthView, NO_HEALTH } from '../../health/types';
import type { FlowMetrics } from '../../metrics/types';
import { TcpFlow } from '../flow/tcp-flow';
import { type TlsMode, tlsModeOf } from '../prelude/tls';
import { AccessRecorder } from '../record/access';
import { type ApplyResult, type BoundListener, type ListenerBinder, ListenerSet } from './manager';

export interface TcpProxyOptions {
  plane: TcpDataPlane;
  listeners: TcpListenSpec[];
  /** The snapshot new connections use; read once per phase that needs it. */
  snapshot: () => Snapshot;
  /** The upstreams' running health checkers, beside the snapshot (default: none). */
  health?: HealthView;
  accessLog: AccessLog;
  /** TLS listeners: apisix.ssl.fallback_sni and the preread / handshake timeouts (defaults 30 s). */
  tls?: { fallbackSni: string | null; prereadTimeoutMs?: number; handshakeTimeoutMs?: number };
  /** The metrics sink when the prometheus export server runs (default: none). */
  metrics?: FlowMetrics | null;
}

export type BoundTcpListener = BoundListener;

export interface TcpProxy {
  /** The addresses actually bound (port 0 in the config becomes the real port). */
  readonly listeners: readonly BoundTcpListener[];
  /** Bind and unbind so the listeners equal `specs`; open connections are not touched. */
  applyListeners(specs: readonly TcpListenSpec[]): Promise<ApplyResult>;
  /** Connections accepted and not yet finished (ClientHello preread, TLS handshake, dialling or piping). */
  activeConnections(): number;
  /** Stop accepting; open connections continue. */
  stopAccepting(): Promise<void>;
  /** Stop accepting, wait up to graceMs for open connections to finish, then abort the rest. */
  shutdown(graceMs: number): Promise<void>;
}

/** TCP listeners: a plain one hands connections straight to the flow; a TLS one reads its current mode per accept. */
function tcpBinder(plane: TcpDataPlane, flow: TcpFlow): ListenerBinder<TcpListenSpec, TcpListener> {
  return {
    bindKey: (spec) => (tlsModeOf(spec) === null ? 'plain' : 'tls'),
    bind: (spec, _scope, entry) => {
      if (tlsModeOf(spec) === null) return plane.listen({ host: spec.host, port: spec.port }, flow.accept);
      // one closure per listener, not per connection; the mode can change without a new socket
      return plane.listen({ host: spec.host, port: spec.port, tls: true }, (c) => flow.acceptTls(c, tlsModeOf(entry().spec) as TlsMode));
    },
    unbind: (handle) => handle.stop(),
  };
}

class TcpProxyImpl implements TcpProxy {
  readonly flow: TcpFlow;
  readonly set: ListenerSet<TcpListenSpec, TcpListener>;

  constructor(opts: TcpProxyOptions) {
    this.flow = new TcpFlow({ plane: opts.plane, snapshot: opts.snapshot, health: opts.health ?? NO_HEALTH, recorder: new AccessRecorder(opts.accessLog), tls: opts.tls, metrics: opts.metrics });
    this.set = new ListenerSet(tcpBinder(opts.plane, this.flow));
  }

  get listeners(): readonly BoundTcpListener[] {
    return this.set.list();
  }

  applyListeners(specs: readonly TcpListenSpec[]): Promise<ApplyResult> {
    return this.set.apply(specs);
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
