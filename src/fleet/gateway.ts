// etcd's v3 JSON gateway, pure part: request bodies, base64 keys and values, prefix ranges, the watch stream's
// newline-delimited JSON, and error classification. No I/O here (the transport is src/runtime/http-client/).
// Wire facts (etcd 3.4): int64 fields are JSON strings, fields at their zero value are left out (a PUT event has
// no `type`, a DELETE event's kv has no value), keys and values are base64.

/** Response header of every call: revision is the store's, cluster_id tells a wiped or restored etcd apart. */
export interface EtcdHeader {
  revision: number;
  clusterId: string;
}

export interface EtcdKv {
  key: string;
  /** Null for a DELETE event. */
  value: string | null;
  createRevision: number;
  modRevision: number;
}

export interface WatchEvent {
  type: 'put' | 'delete';
  kv: EtcdKv;
}

/** One line of the watch stream, classified. */
export type WatchMessage =
  | { kind: 'created'; header: EtcdHeader }
  | { kind: 'events'; header: EtcdHeader; events: WatchEvent[] }
  /** No events: a progress notification (everything up to header.revision was sent). */
  | { kind: 'progress'; header: EtcdHeader }
  | { kind: 'compacted'; header: EtcdHeader; compactRevision: number }
  /** Canceled for another reason (a permission error comes this way, with status 200). */
  | { kind: 'canceled'; header: EtcdHeader; reason: string }
  | { kind: 'error'; message: string };

export function encodeBase64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

export function decodeBase64(text: string): string {
  return Buffer.from(text, 'base64').toString('utf8');
}

/** The end of a prefix range: the prefix with its last byte plus one ("/apisix/" -> "/apisix0"). */
export function prefixRangeEnd(prefix: string): string {
  const bytes = Buffer.from(prefix, 'utf8');
  for (let i = bytes.length - 1; i >= 0; i--) {
    if (bytes[i]! < 0xff) {
      const end = Buffer.from(bytes.subarray(0, i + 1));
      end[i]! += 1;
      return end.toString('base64');
    }
  }
  return Buffer.from([0]).toString('base64'); // every key from the prefix on
}

function int(value: unknown): number {
  const n = typeof value === 'string' ? Number(value) : typeof value === 'number' ? value : 0;
  return Number.isFinite(n) ? n : 0;
}

function obj(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

export function readHeader(raw: unknown): EtcdHeader {
  const h = obj(raw);
  return { revision: int(h.revision), clusterId: String(h.cluster_id ?? '') };
}

export function readKv(raw: unknown): EtcdKv {
  const kv = obj(raw);
  return {
    key: decodeBase64(String(kv.key ?? '')),
    value: typeof kv.value === 'string' ? decodeBase64(kv.value) : null,
    createRevision: int(kv.create_revision),
    modRevision: int(kv.mod_revision),
  };
}

/** A range request body; `keyBase64`/`rangeEndBase64` already encoded (paging continues from a raw key). */
export function rangeBody(keyBase64: string, rangeEndBase64: string, opts: { revision?: number; limit?: number }): string {
  const body: Record<string, unknown> = { key: keyBase64, range_end: rangeEndBase64 };
  if (opts.limit !== undefined) body.limit = String(opts.limit);
  if (opts.revision !== undefined && opts.revision > 0) body.revision = String(opts.revision);
  return JSON.stringify(body);
}

/** The key right after `key` in byte order (key + "\0"), base64: where the next page starts. */
export function nextKeyBase64(key: string): string {
  return Buffer.concat([Buffer.from(key, 'utf8'), Buffer.from([0])]).toString('base64');
}

export function watchBody(prefix: string, startRevision: number): string {
  return JSON.stringify({
    create_request: {
      key: encodeBase64(prefix),
      range_end: prefixRangeEnd(prefix),
      start_revision: String(startRevision),
      progress_notify: true,
    },
  });
}

/** Parse one watch line (`{"result":{...}}` or `{"error":{...}}`). */
export function parseWatchLine(line: string): WatchMessage {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return { kind: 'error', message: `watch: not JSON: ${line.slice(0, 200)}` };
  }
  const top = obj(parsed);
  if (top.error !== undefined) {
    const e = obj(top.error);
    return { kind: 'error', message: `watch: ${String(e.message ?? e.error ?? JSON.stringify(top.error))}` };
  }
  const r = obj(top.result);
  const header = readHeader(r.header);
  if (r.canceled === true) {
    const compact = int(r.compact_revision);
    if (compact > 0) return { kind: 'compacted', header, compactRevision: compact };
    return { kind: 'canceled', header, reason: String(r.cancel_reason ?? 'canceled by etcd') };
  }
  if (r.created === true) return { kind: 'created', header };
  const raw = Array.isArray(r.events) ? r.events : [];
  if (raw.length === 0) return { kind: 'progress', header };
  const events = raw.map((e) => {
    const ev = obj(e);
    return { type: ev.type === 'DELETE' ? 'delete' : 'put', kv: readKv(ev.kv) } as WatchEvent;
  });
  return { kind: 'events', header, events };
}

/** Splits a chunked body into lines; a line may span chunks. */
export class LineSplitter {
  private rest = '';

  /** The complete lines in rest + text (empty ones dropped); the unfinished tail is kept for the next push. */
  push(text: string): string[] {
    const all = this.rest + text;
    const parts = all.split('\n');
    this.rest = parts.pop()!;
    return parts.map((p) => p.trim()).filter((p) => p !== '');
  }
}

export type EtcdErrorKind = 'compacted' | 'auth' | 'permission' | 'unavailable' | 'not_gateway' | 'other';

/** A failed gateway call: HTTP status, etcd's gRPC code and message, and what weir does about it. */
export class EtcdError extends Error {
  constructor(
    readonly kind: EtcdErrorKind,
    message: string,
    readonly status = 0,
    readonly grpcCode = 0,
  ) {
    super(`ERR_ETCD_${kind.toUpperCase()}: ${message}`);
    this.name = 'EtcdError';
  }
}

/**
 * Classify a non-200 answer. Seen on 3.4.23: a compacted revision is 400 code 11; no token 400 code 3
 * ("user name is empty"), a bad or expired token 401 code 16; no permission 403 code 7; no gateway 404.
 */
export function classifyReply(path: string, status: number, body: string): EtcdError {
  let code = 0;
  let message = body.trim().slice(0, 300);
  try {
    const parsed = obj(JSON.parse(body));
    code = int(parsed.code);
    message = String(parsed.error ?? parsed.message ?? message);
  } catch {
    // not JSON: keep the text
  }
  const what = `${path}: HTTP ${status}: ${message}`;
  if (status === 404) return new EtcdError('not_gateway', `${what} (is etcd's gRPC gateway enabled? weir needs etcd >= 3.4)`, status, code);
  if (code === 11 || /compacted/.test(message)) return new EtcdError('compacted', what, status, code);
  if (status === 401 || code === 16 || /user name is empty|invalid auth token/.test(message)) return new EtcdError('auth', what, status, code);
  if (status === 403 || code === 7) return new EtcdError('permission', what, status, code);
  if (status >= 500 || code === 14) return new EtcdError('unavailable', what, status, code);
  return new EtcdError('other', what, status, code);
}
