// Connection ids: one per TCP connection or UDP session, the same everywhere it shows: the access log's `id`,
// GET/DELETE /v1/connections and /v1/udp_sessions, and a PROXY header's unique_id TLV, so a line in weir's log,
// the admin view and the backend's log can be matched up.
//
// Kept as a number (a per-process counter: a small integer, no heap object, for the first billion connections)
// and shown as "<pid>-<n>": the pid tells the worker processes apart, each with its own counter, so shown ids
// are unique among the processes running at the same time; a restart begins again at 1.

const PREFIX = `${process.pid}-`;
let last = 0;

/** The next id of this process. Called once per accepted connection or new UDP session. */
export function nextConnectionId(): number {
  return ++last;
}

/** How an id is shown: "<pid>-<n>". */
export function connectionIdText(id: number): string {
  return PREFIX + id;
}

/** An id as a client wrote it ("<pid>-<n>" of this process, or the bare n); null when it is none of ours. */
export function parseConnectionId(text: string): number | null {
  const n = Number(text.startsWith(PREFIX) ? text.slice(PREFIX.length) : text);
  return Number.isSafeInteger(n) && n >= 1 ? n : null;
}
