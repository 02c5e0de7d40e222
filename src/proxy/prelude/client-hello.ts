// ClientHello parser for SNI routing before (or without) TLS termination. Pure: bytes in, verdict out.
// It reads only what routing needs (the server_name extension) and never trusts a length field.

/** Outcome of looking at the first bytes a client sent. */
export type ClientHelloResult =
  /** Not enough bytes yet for a verdict; read more and call again with everything read so far. */
  | { kind: 'need-more' }
  /** The bytes are not a TLS ClientHello (or a malformed one); `reason` says what was wrong. */
  | { kind: 'not-tls'; reason: string }
  /** A complete ClientHello; `sni` is the host_name as sent (not normalised), or null when absent. */
  | { kind: 'hello'; sni: string | null };

const NEED_MORE: ClientHelloResult = { kind: 'need-more' };
const CONTENT_HANDSHAKE = 0x16;
const HANDSHAKE_CLIENT_HELLO = 0x01;
const EXT_SERVER_NAME = 0x0000;
const NAME_TYPE_HOST = 0x00;
/** RFC 8446 5.1: a record fragment is at most 2^14 bytes. */
const MAX_RECORD = 16384;
/** Largest ClientHello weir waits for; real ones are well under this even with post-quantum key shares. */
export const MAX_CLIENT_HELLO = 65536;
const HOST_CHARS = /^[A-Za-z0-9._-]+$/;

function notTls(reason: string): ClientHelloResult {
  return { kind: 'not-tls', reason };
}

/**
 * Gather the handshake bytes from consecutive handshake records (a ClientHello may be split across
 * records, and the records across TCP segments). Returns the bytes, or a verdict if none are possible.
 */
function handshakeBytes(buf: Uint8Array): Uint8Array | ClientHelloResult {
  if (buf.length === 0) return NEED_MORE;
  if (buf[0] !== CONTENT_HANDSHAKE) return notTls(`first byte 0x${buf[0]!.toString(16).padStart(2, '0')} is not a TLS handshake record`);
  const parts: Uint8Array[] = [];
  let total = 0;
  let wanted = -1; // handshake message length incl. its 4-byte header, once known
  let off = 0;
  while (wanted < 0 || total < wanted) {
    if (buf.length < off + 5) return NEED_MORE;
    if (buf[off] !== CONTENT_HANDSHAKE) return notTls('ClientHello interrupted by a non-handshake record');
    if (buf[off + 1] !== 0x03) return notTls(`unsupported record version ${buf[off + 1]}.${buf[off + 2]}`);
    const len = (buf[off + 3]! << 8) | buf[off + 4]!;
    if (len === 0 || len > MAX_RECORD) return notTls(`bad record length ${len}`);
    const end = Math.min(buf.length, off + 5 + len);
    parts.push(buf.subarray(off + 5, end));
    total += end - off - 5;
    if (wanted < 0 && total >= 4) {
      const first = parts.length === 1 ? parts[0]! : concat(parts, total);
      if (first[0] !== HANDSHAKE_CLIENT_HELLO) return notTls(`handshake type ${first[0]} is not ClientHello`);
      wanted = 4 + ((first[1]! << 16) | (first[2]! << 8) | first[3]!);
      if (wanted > MAX_CLIENT_HELLO) return notTls(`ClientHello of ${wanted} bytes is too large`);
    }
    if (end < off + 5 + len) {
      if (wanted >= 0 && total >= wanted) break;
      return NEED_MORE;
    }
    off += 5 + len;
  }
  return concat(parts, total).subarray(0, wanted);
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Walk the ClientHello body (after the 4-byte handshake header) to the server_name extension. */
function findServerName(msg: Uint8Array): ClientHelloResult {
  const end = msg.length;
  let p = 4 + 2 + 32; // header, legacy_version, random
  if (p + 1 > end) return notTls('ClientHello truncated before session_id');
  p += 1 + msg[p]!;
  if (p + 2 > end) return notTls('ClientHello truncated before cipher_suites');
  p += 2 + ((msg[p]! << 8) | msg[p + 1]!);
  if (p + 1 > end) return notTls('ClientHello truncated before compression_methods');
  p += 1 + msg[p]!;
  if (p === end) return { kind: 'hello', sni: null }; // no extensions at all
  if (p + 2 > end) return notTls('ClientHello truncated before extensions');
  const extEnd = p + 2 + ((msg[p]! << 8) | msg[p + 1]!);
  if (extEnd > end) return notTls('extensions overrun the ClientHello');
  p += 2;
  while (p + 4 <= extEnd) {
    const type = (msg[p]! << 8) | msg[p + 1]!;
    const len = (msg[p + 2]! << 8) | msg[p + 3]!;
    p += 4;
    if (p + len > extEnd) return notTls('an extension overruns the extension list');
    if (type === EXT_SERVER_NAME) return readServerName(msg.subarray(p, p + len));
    p += len;
  }
  return { kind: 'hello', sni: null };
}

/** RFC 6066 3: a list of (name_type, name); weir takes the first host_name. */
function readServerName(ext: Uint8Array): ClientHelloResult {
  if (ext.length < 2) return notTls('empty server_name extension');
  const listEnd = 2 + ((ext[0]! << 8) | ext[1]!);
  if (listEnd > ext.length) return notTls('server_name list overruns its extension');
  let p = 2;
  while (p + 3 <= listEnd) {
    const nameType = ext[p]!;
    const len = (ext[p + 1]! << 8) | ext[p + 2]!;
    p += 3;
    if (p + len > listEnd) return notTls('server name overruns its list');
    if (nameType === NAME_TYPE_HOST) {
      let name = '';
      for (let i = p; i < p + len; i++) name += String.fromCharCode(ext[i]!);
      if (len === 0 || len > 255 || !HOST_CHARS.test(name)) return notTls('server name is not a valid host name');
      return { kind: 'hello', sni: name };
    }
    p += len;
  }
  return { kind: 'hello', sni: null };
}

/**
 * Decide from the bytes read so far whether the client opened with a TLS ClientHello, and if so which
 * SNI it asked for. Call again with all bytes each time more arrive while it answers need-more.
 * Runs once or a few times per TLS connection; allocates only when the hello spans several records.
 */
export function parseClientHello(buf: Uint8Array): ClientHelloResult {
  const msg = handshakeBytes(buf);
  if (!(msg instanceof Uint8Array)) return msg;
  return findServerName(msg);
}
