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

export interface InspectSources {
  /** The snapshot new connections use now. */
  snapshot(): Snapshot;
  /** The upstreams' running health checkers, beside the snapshot. */
  health: HealthView;
  listeners(): ListenerView[];
  live: LiveTables;
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
}): InspectSources {
  return {
    snapshot: parts.snapshot,
    health: parts.health,
    listeners: () => listenerViews(parts.listeners?.specs() ?? parts.config().stream, { tcp: parts.tcp.listeners, udp: parts.udp.listeners }),
    live: { tcp: parts.tcp.flow, udp: parts.udp.flow },
  };
}
