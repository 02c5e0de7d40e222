// What the Admin API and the CLI need to know about fleet mode (no etcd code: src/admin/ imports only this).

import type { Resource, Store } from '../store/types';
import type { ObjectResult } from '../objects/read';
import type { FleetSyncStatus } from './sync';

export interface FleetView {
  role: 'data_plane' | 'control_plane';
  endpoints: readonly string[];
  /** True on a data plane: every Admin API write answers 403. */
  readOnly: boolean;
  status(): FleetSyncStatus;
  /** GET /status/ready: objects from etcd are in the store (now, or kept from an earlier sync). */
  ready(): boolean;
  originOf(res: Resource, id: string): 'etcd' | 'local';
  /**
   * control_plane: run an Admin API write through etcd (src/fleet/control-plane.ts). `rehearse(store)` runs the
   * Admin API's operation on `store` and rolls it back. Absent on a data plane.
   */
  writeThrough?(method: string, rehearse: (store: Store) => ObjectResult, store: Store): Promise<ObjectResult>;
}

/** The answer to every Admin API write on a data plane. */
export const DATA_PLANE_WRITE_REFUSAL =
  'configuration is managed by etcd (deployment.role: data_plane); change it through the control plane or etcd';
