// How busy the event loop is: the share of wall time it spent running code rather than waiting for I/O since
// the last reading (Node's event-loop utilization). Bun has no such measure and Deno's always reads 0, so there
// the answer is null and callers rely on timer lateness alone. Read once per clock tick, never per datagram.

interface Elu {
  idle: number;
  active: number;
  utilization: number;
}
type EluCall = (a?: Elu, b?: Elu) => Elu;

/**
 * A reader of the loop's utilization (0..1) since its previous call, or null when this runtime has no such
 * measure. The reader itself answers null while the runtime reports nothing (Deno's zeros, or Node before its
 * loop started). Decided by trying the measure, not by naming the runtime.
 */
export function loopUtilizationReader(): (() => number | null) | null {
  // the global `performance` (Node's is perf_hooks'): no module to load on runtimes without the measure
  const elu = (performance as unknown as { eventLoopUtilization?: EluCall }).eventLoopUtilization;
  if (typeof elu !== 'function') return null;
  let last = elu.call(performance);
  return () => {
    const now = elu.call(performance);
    const delta = elu.call(performance, now, last);
    last = now;
    return delta.idle + delta.active > 0 ? delta.utilization : null;
  };
}
