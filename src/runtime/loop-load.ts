// How busy the event loop is: the share of wall time it spent running code rather than waiting for I/O since
// the last reading (Node's event-loop utilization). Bun has no such measure and Deno's always reads 0, so there
// the reader is null and callers rely on timer lateness alone. Read once per clock tick, never per datagram.

import { performance } from 'node:perf_hooks';

interface Elu {
  idle: number;
  active: number;
  utilization: number;
}
type EluCall = (a?: Elu, b?: Elu) => Elu;

/**
 * A reader of the loop's utilization (0..1) since its previous call, or null when this runtime cannot tell.
 * Decided by trying the measure once, not by naming the runtime.
 */
export function loopUtilizationReader(): (() => number) | null {
  const elu = (performance as unknown as { eventLoopUtilization?: EluCall }).eventLoopUtilization;
  if (typeof elu !== 'function') return null;
  let last = elu.call(performance);
  // Deno answers with zeros; Node has counted some idle time by the time anything is bound
  if (last.idle + last.active === 0) return null;
  return () => {
    const now = elu.call(performance);
    const delta = elu.call(performance, now, last);
    last = now;
    return delta.utilization;
  };
}
