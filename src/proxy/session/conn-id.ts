// Connection ids: one number per TCP connection or UDP session, the same in the access log (`id`), in
// GET /v1/connections and in DELETE /v1/connections/{id}. A counter: nothing is allocated for it.

/**
 * Workers count from their own base (worker 1 from 1e12, worker 2 from 2e12, ...), so ids stay unique in a
 * shared access log; read once when the module loads (WEIR_WORKER is set before a worker starts).
 */
let last = (Number(process.env.WEIR_WORKER) || 0) * 1e12;

/** The next id of this process. Called once per accepted connection or new UDP session. */
export function nextConnectionId(): number {
  return ++last;
}
