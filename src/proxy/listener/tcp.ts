// The TCP listen phase: bind the listeners a list names (through the listener manager) and hand every
// accepted connection to the TCP flow. Accepting is all that happens here.

import type { TcpListenSpec } from '../../config/types';
import type { AccessLog } from '../../log/logger';
import type { TcpDataPlane, TcpListener } from '../../runtime/types';
import type { Snapshot } from '../../snapshot/types';
import { TcpFlow } from '../flow/tcp-flow';
import { type TlsMode, tlsModeOf } from '../prelude/tls';
import { AccessRecorder } from '../record/access';
import type { RouteChange } from '../session/policy';
import { type ApplyResult, type BoundListener, type ListenerBinder, ListenerSet } from './manager';

/** An already listening socket this process inherited (binary upgrade), by protocol and address; taken once. */
export type InheritedFd = (proto: 'tcp' | 'udp', host: string, port: number) => number | undefined;

export interface TcpProxyOptions {
  plane: TcpDataPlane;
  listeners: TcpListenSpec[];
  /** The snapshot new connections use; read once per phase that needs it. */
  snapshot: () => Snapshot;
  accessLog: AccessLog;
  /** TLS listeners: apisix.ssl.fallback_sni and the preread / handshake timeouts (defaults 30 s). */
  tls?: TcpTlsOptions;
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
  /** Stop accepting, wait up to graceMs for open connections to finish, then abort the rest. */
  shutdown(graceMs: number): Promise<void>;
}

/** TCP listeners: a plain one hands connections straight to the flow; a TLS one reads its current mode per accept. */
function tcpBinder(
  plane: TcpDataPlane,
  flow: TcpFlow,
  wanted: () => ReadonlyMap<string, TcpListenSpec>,
  inherited: InheritedFd | undefined,
): ListenerBinder<TcpListenSpec, TcpListener> {
  return {
    bindKey: (spec) => (tlsModeOf(spec) === null ? 'plain' : 'tls'),
    bind: (spec, _scope, entry) => {
      const fd = inherited?.('tcp', spec.host, spec.port);
      const addr = { host: spec.host, port: spec.port, ...(fd === undefined ? {} : { fd }) };
      if (tlsModeOf(spec) === null) return plane.listen(addr, flow.accept);
      // one closure per listener, not per connection; the mode can change without a new socket
      return plane.listen({ ...addr, tls: true }, (c) => flow.acceptTls(c, tlsModeOf(entry().spec) as TlsMode));
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

  /** The specs of the apply in progress, by origin: a listener that moved drains by its new policy. */
  private wanted: ReadonlyMap<string, TcpListenSpec> = new Map();

  constructor(opts: TcpProxyOptions) {
    this.flow = new TcpFlow({ plane: opts.plane, snapshot: opts.snapshot, recorder: new AccessRecorder(opts.accessLog), tls: opts.tls });
    this.set = new ListenerSet(tcpBinder(opts.plane, this.flow, () => this.wanted, opts.inherited));
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
