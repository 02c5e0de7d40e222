// Connection ids: one number per TCP connection or UDP session, the same in the access log (`id`), in
// GET /v1/connections and in DELETE /v1/connections/{id}. A per-process counter: it stays a small integer
// (no heap number) for the first billion connections, so nothing is allocated for it. With several workers
// each counts on its own; the Admin API (worker 0) shows and ends worker 0's connections.

let last = 0;

/** The next id of this process. Called once per accepted connection or new UDP session. */
export function nextConnectionId(): number {
  return ++last;
}
