// The UDP listen phase: bind the listeners a list names (through the listener manager) and hand every
// datagram to the UDP flow, with the listener's scope (part of the session key). Receiving is all that happens here.

import type { UdpListenSpec } from '../../config/types';
import type { AccessLog } from '../../log/logger';
import type { UdpDataPlane, UdpListener } from '../../runtime/types';
import type { Snapshot } from '../../snapshot/types';
import { type HealthView, NO_HEALTH } from '../../health/types';
import type { FlowMetrics } from '../../metrics/types';
import { UdpFlow, type UdpStats } from '../flow/udp-flow';
import { compileTrust } from '../match/trust';
import { AccessRecorder } from '../record/access';
import type { UdpAdmissionSettings } from '../session/udp-admission';
import type { RouteChange } from '../session/policy';
import { type ApplyResult, type BoundListener, type ListenerBinder, type ListenerEntry, ListenerSet } from './manager';
import type { InheritedFd } from './tcp';

export type { UdpStats } from '../flow/udp-flow';

export interface UdpProxyOptions {
  plane: UdpDataPlane;
  listeners: UdpListenSpec[];
  /** The snapshot new sessions use; read once per new session. */
  snapshot: () => Snapshot;
  /** The upstreams' running health checkers, beside the snapshot (default: none). */
  health?: HealthView;
  accessLog: AccessLog;
  /** Bound of the session table (nginx_config.stream.udp_max_sessions). */
  maxSessions: number;
  /** Limits on new sessions per source address and per second (default DEFAULT_UDP_ADMISSION). */
  admission?: UdpAdmissionSettings;
  /** nginx proxy_responses: replies expected per client datagram; null = unlimited (end on idle only). */
  responses: number | null;
  /** Idle sweep period; tests shorten it. */
  tickMs?: number;
  /** nginx_config.stream.real_ip_from (canonical CIDRs); absent: every peer of a proxy_protocol listener is trusted. */
  realIpFrom?: readonly string[];
  /** The metrics sink when the prometheus export server runs (default: none). */
  metrics?: FlowMetrics | null;
  /** Sockets handed over by the previous process (`weir upgrade`): used instead of binding those addresses. */
  inherited?: InheritedFd;
}

export type BoundUdpListener = BoundListener;

function udpBinder(plane: UdpDataPlane, flow: UdpFlow, inherited: InheritedFd | undefined): ListenerBinder<UdpListenSpec, UdpListener> {
  return {
    // PROXY protocol on or off changes the datagram handler: a new socket
    bindKey: (spec) => `udp${spec.proxyProtocol ? '+in' : ''}${spec.proxyProtocolToUpstream ? '+out' : ''}`,
    // one closure per listener (not per datagram) carries the listener's scope into the session key
    bind: (spec, scope, entry) => {
      flow.setListenerProxy(scope, spec.proxyProtocol || spec.proxyProtocolToUpstream ? spec : undefined);
      // the cap is read from the current spec on each new client (a reload may change it in place); the entry
      // exists once the bind resolves, the spec bound until then
      const current = (): UdpListenSpec => (entry() as ListenerEntry<UdpListenSpec, UdpListener> | undefined)?.spec ?? spec;
      flow.setListenerCap(scope, {
        get max() {
          return current().maxSessions ?? null;
        },
        get origin() {
          return current().origin;
        },
      });
      const fd = inherited?.('udp', spec.host, spec.port);
      const addr = { host: spec.host, port: spec.port, ...(fd === undefined ? {} : { fd }) };
      if (spec.proxyProtocol) return plane.bind(addr, (l, data, address, port) => flow.onProxiedDatagram(scope, l, data, address, port));
      return plane.bind(addr, (l, data, address, port) => flow.onDatagram(scope, l, data, address, port));
    },
    // whatever the listener's on_change: a session's replies leave from this socket, so its sessions end with it
    unbind: async ({ handle, scope }, why) => {
      flow.endListener(scope, why === 'apply' ? 'listener_removed' : 'shutdown');
      flow.setListenerProxy(scope, undefined);
      flow.setListenerCap(scope, undefined);
      await handle.close();
    },
  };
}

export class UdpProxy {
  /** The flow, whose open sessions the Admin API lists and closes (src/inspect/connections.ts). */
  readonly flow: UdpFlow;
  private readonly set: ListenerSet<UdpListenSpec, UdpListener>;

  constructor(opts: UdpProxyOptions) {
    this.flow = new UdpFlow({
      plane: opts.plane,
      snapshot: opts.snapshot,
      health: opts.health ?? NO_HEALTH,
      recorder: new AccessRecorder(opts.accessLog),
      maxSessions: opts.maxSessions,
      admission: opts.admission,
      responses: opts.responses,
      tickMs: opts.tickMs,
      trust: compileTrust(opts.realIpFrom),
      metrics: opts.metrics,
    });
    this.set = new ListenerSet(udpBinder(opts.plane, this.flow, opts.inherited));
  }

  /** The addresses actually bound. */
  get listeners(): readonly BoundUdpListener[] {
    return this.set.list();
  }

  /** Bind and unbind so the listeners equal `specs`; sessions of an unbound listener end (`listener_removed`). */
  async applyListeners(specs: readonly UdpListenSpec[]): Promise<ApplyResult> {
    try {
      return await this.set.apply(specs);
    } finally {
      this.flow.setClock(this.set.size > 0);
    }
  }

  /** After a snapshot swap: sessions of changed routes follow their route's policy. */
  applyRouteChanges(changes: readonly RouteChange[]): void {
    this.flow.applyRouteChanges(changes);
  }

  /**
   * Config reload: nginx_config.stream.udp_max_sessions, proxy_responses, and udp_max_sessions_per_source /
   * udp_session_rate / udp_session_burst; open sessions are kept. Every worker runs it (src/control/reload.ts).
   */
  setSettings(settings: { maxSessions: number; responses: number | null; admission?: UdpAdmissionSettings }): void {
    this.flow.setSettings(settings);
  }

  /** Bound sockets by address, for a binary upgrade to pass on. */
  sockets(): Array<{ host: string; port: number; fd: number | undefined }> {
    return this.set.listEntries().map(({ handle }) => ({ host: handle.host, port: handle.port, fd: handle.fd }));
  }

  /** Sessions open now. */
  activeSessions(): number {
    return this.flow.activeSessions();
  }

  stats(): UdpStats {
    return this.flow.stats();
  }

  /** New clients are ignored from now on; open sessions continue. */
  stopAccepting(): void {
    this.flow.stopAccepting();
  }

  /**
   * Binary upgrade: the new process reads these sockets now (it inherited them), so this one stops reading at
   * once: the sockets are closed here and the sessions end ('shutdown'); their replies had no other way out.
   */
  async release(): Promise<void> {
    this.flow.stopAccepting();
    await this.set.closeAll();
  }

  /** Stop new sessions, drain within graceMs (see UdpFlow.shutdown), then release the ports. */
  async shutdown(graceMs: number): Promise<void> {
    await this.flow.shutdown(graceMs);
    await this.set.closeAll();
  }
}

/**
 * Bind every UDP listener and start proxying. If one address cannot be bound, the ones already bound
 * are closed and the promise rejects with an Error naming the address and its config origin.
 */
export async function startUdpProxy(opts: UdpProxyOptions): Promise<UdpProxy> {
  const proxy = new UdpProxy(opts);
  await proxy.applyListeners(opts.listeners);
  return proxy;
}
