// What the inspection views read from a running weir: the live snapshot, the listeners, the open connection
// tables. Built once at start (src/cli/start.ts) and handed to the Admin API.

import type { Config } from '../config/types';
import type { ListenerLists } from '../control/listener-specs';
import type { TcpFlow } from '../proxy/flow/tcp-flow';
import type { UdpFlow } from '../proxy/flow/udp-flow';
import type { HealthView } from '../health/types';
import type { Snapshot } from '../snapshot/types';
import type { LiveTables } from './connections';
import { listenerViews, type ListenerView } from './listeners';
import type { AskPeers } from './worker-tables';

export interface InspectSources {
  /** The snapshot new connections use now. */
  snapshot(): Snapshot;
  /** The upstreams' running health checkers, beside the snapshot. */
  health: HealthView;
  listeners(): ListenerView[];
  /** This process's open connections and sessions. */
  live: LiveTables;
  /** The other workers' tables, asked over IPC (worker_processes > 1); absent or null with one process. */
  peers?: AskPeers | null;
  /** nginx_config.stream.real_ip_from: the peers whose PROXY header is believed (explain); absent: every peer. */
  realIpFrom?: readonly string[];
}

type Bound = readonly { host: string; port: number; origin: string }[];

/**
 * The sources of a running proxy. Listeners: those of the last apply (config items and stream_listeners
 * objects) when `listeners` is given, else the config's.
 */
export function inspectSources(parts: {
  snapshot: () => Snapshot;
  health: HealthView;
  config: () => Config;
  listeners?: { specs(): ListenerLists };
  tcp: { readonly listeners: Bound; readonly flow: TcpFlow };
  udp: { readonly listeners: Bound; readonly flow: UdpFlow };
  peers?: AskPeers | null;
}): InspectSources {
  return {
    snapshot: parts.snapshot,
    health: parts.health,
    listeners: () => listenerViews(parts.listeners?.specs() ?? parts.config().stream, { tcp: parts.tcp.listeners, udp: parts.udp.listeners }),
    live: { tcp: parts.tcp.flow, udp: parts.udp.flow },
    peers: parts.peers ?? null,
    // read on each use: a reload may change nginx_config.stream.real_ip_from
    get realIpFrom() {
      return parts.config().realIpFrom;
    },
  };
}
