// preread() on Bun-native connections: read the client's first bytes without consuming them (SNI peek, PROXY
// protocol). The chunks stay in the side's `early` list, which pipe() forwards before anything else and
// startTls() hands to the handshake; consume() drops a PROXY header from its front.

import { type BunSide, pauseSide, resumeSide } from './pair';
import type { PrereadCallback, PrereadState } from '../../types';

/** The running preread of one connection. */
export class Preread {
  timer: ReturnType<typeof setTimeout> | null = null;
  /** The callback is running: a close it causes (destroy() closes a Bun socket at once) must not call it again. */
  calling = false;
  constructor(
    readonly side: BunSide,
    readonly maxBytes: number,
    readonly cb: PrereadCallback,
  ) {}
}

const EMPTY = new Uint8Array(0);

/** Every byte seen so far as one view (a copy only when there is more than one chunk). */
function seen(side: BunSide): Uint8Array {
  const chunks = side.early;
  if (chunks === null || chunks.length === 0) return EMPTY;
  if (chunks.length === 1) return chunks[0]!;
  const all = Buffer.concat(chunks);
  side.early = [all]; // later calls start from the joined buffer
  return all;
}

/**
 * Stop the preread: no more callbacks. `state` null: the callback said it had seen enough. The socket is not
 * paused then: like a plain accept, reading stops at the next chunk before pipe() (onData), and usually none
 * comes (a client waits for its reply), which spares Bun's pause/resume pair of epoll and cork calls.
 */
export function endPreread(p: Preread, state: PrereadState | null): void {
  const side = p.side;
  if (side.preread !== p) return;
  side.preread = null;
  if (p.timer !== null) clearTimeout(p.timer);
  if (p.calling || state === null) return; // the running callback decided already
  // a callback that started TLS has swapped in the TLS socket, which must keep reading for its handshake
  if (side.socket !== null && !side.closed && side.tls === null) pauseSide(side);
  p.cb(seen(side), state);
}

/** Start reading for a preread (the socket may have read a first chunk into `early` and paused). */
export function startPreread(side: BunSide, maxBytes: number, timeoutMs: number, cb: PrereadCallback): void {
  const running = side.preread;
  // a callback may hand over to a new preread (the TLS prelude's done, a filter's next): the old one stops here
  if ((running !== null && !running.calling) || side.pair !== null) throw new Error('ERR_PREREAD: one preread at a time per connection, before pipe()');
  if (running !== null && running.timer !== null) clearTimeout(running.timer);
  const p = new Preread(side, maxBytes, cb);
  side.preread = p;
  if (side.closed) return endPreread(p, side.error !== null ? 'error' : 'eof');
  if (side.eof) return endPreread(p, 'eof');
  p.timer = setTimeout(endPreread, timeoutMs, p, 'timeout');
  const view = seen(side);
  if (view.length > 0 && onPrereadData(p, view.length)) return;
  resumeSide(side);
}

/** A chunk was appended to side.early. Returns true when the preread is over. */
export function onPrereadData(p: Preread, _added: number): boolean {
  const view = seen(p.side);
  p.calling = true;
  let enough: boolean;
  try {
    enough = p.cb(view, 'data');
  } finally {
    p.calling = false;
  }
  if (enough) {
    endPreread(p, null);
    return true;
  }
  // the socket went away while the callback ran but it asked for more: its final state is reported now
  if (p.side.preread !== p) {
    p.side.preread = p;
    endPreread(p, p.side.error !== null ? 'error' : 'eof');
    return true;
  }
  // 'full' only after the callback saw the bytes (what it consumed no longer counts)
  if (held(p.side) >= p.maxBytes) {
    endPreread(p, 'full');
    return true;
  }
  return false;
}

/** Bytes in `early` (one joined chunk once seen() ran). */
function held(side: BunSide): number {
  const chunks = side.early;
  if (chunks === null) return 0;
  let n = 0;
  for (let i = 0; i < chunks.length; i++) n += chunks[i]!.length;
  return n;
}

/** consume(): drop the first `bytes` of what the preread saw (they are all in `early`). */
export function consumeEarly(side: BunSide, bytes: number): void {
  if (bytes <= 0) return;
  const all = seen(side);
  side.early = bytes >= all.length ? null : [Buffer.from(all.buffer, all.byteOffset + bytes, all.length - bytes)];
}
