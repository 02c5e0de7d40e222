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

/**
 * An id as a client wrote it, for any worker: "<pid>-<n>" names its process, a bare n is this process's;
 * null when it is no id at all. Runs per admin request.
 */
export function splitConnectionId(text: string): { pid: number; n: number } | null {
  const m = /^(?:(\d{1,10})-)?(\d{1,16})$/.exec(text);
  if (m === null) return null;
  const pid = m[1] === undefined ? process.pid : Number(m[1]);
  const n = Number(m[2]);
  return Number.isSafeInteger(n) && n >= 1 && pid >= 1 ? { pid, n } : null;
}
