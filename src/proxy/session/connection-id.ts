// Connection ids: what the access log prints as `id` and a PROXY header's unique_id TLV carries, so a line in
// weir's log and one in the backend's can be matched up.
//
// "<pid>-<n>": n counts up per process from 1, and the pid tells the worker processes apart (each has its own
// counter), so ids are unique among the processes running at the same time; a restart begins again at 1. No
// coordination, no clock read, no randomness: one increment and a short string per connection.

const PREFIX = `${process.pid}-`;
let last = 0;

/** A fresh id. Called once per connection or UDP session: by its record, or earlier by a unique_id TLV. */
export function nextConnectionId(): string {
  return PREFIX + ++last;
}
