// Prelude, PROXY protocol part: on a `proxy_protocol: true` listener, refuse a peer outside real_ip_from, read
// the header (v1 or v2, split over any number of segments, within preread_timeout) through the data plane's
// preread, let its source become the client, drop its bytes, and go on: to the ClientHello step in the same
// preread on a TLS listener (prelude/tls.ts), else to the match phase.
// Never throws for anything a client sends: a bad header is a closed connection with a precise reason.

import type { RateLimitedWarn } from '../../log/rate-limit';
import { PP2_ADDR_UNIX, PP2_FIXED_LENGTH, PP2_TLV_CAP } from '../../lib/proxy-protocol-wire';
import type { PrereadCallback, PrereadState, TcpDataPlane } from '../../runtime/types';
import type { TrustCheck } from '../match/trust';
import type { EndReason } from '../session/end-reason';
import type { TcpSession } from '../session/tcp-session';
import { parseProxyHeader } from './proxy-protocol';
import { TLS_PREREAD_MAX } from './tls';

/** The longest header the parser waits for (v2 with a UNIX address block and the TLV cap; v1 is 107). */
export const PROXY_PREREAD_MAX = PP2_FIXED_LENGTH + PP2_ADDR_UNIX + PP2_TLV_CAP;

export interface ProxyPreludeOptions {
  plane: TcpDataPlane;
  /** nginx_config.stream.real_ip_from; null: every peer is trusted (nginx without set_real_ip_from). */
  trust: TrustCheck | null;
  prereadTimeoutMs: number;
  /** Refusals are warned about at most once per kind per period: a scanner cannot flood the error log. */
  warnings: RateLimitedWarn;
  /** Continue with the next phases (match, filters, connect, pipe). */
  proceed(s: TcpSession): void;
  /** The connection ends here: close it and write its access record. */
  reject(s: TcpSession, end: EndReason, error: string): void;
}

const PREREAD_FAILURE: Record<Exclude<PrereadState, 'data'>, [EndReason, string]> = {
  timeout: ['preread_timeout', 'no PROXY protocol header before the preread timeout'],
  eof: ['client_closed', 'client closed before sending its PROXY protocol header'],
  full: ['proxy_protocol_invalid', 'PROXY protocol header too large'],
  error: ['client_error', 'socket error before the PROXY protocol header'],
};

/**
 * The PROXY step of a connection on a proxy_protocol listener. `next`: the ClientHello step of a TLS listener
 * (tlsPreread), which then sees the bytes after the header in the same preread; null on a plain listener.
 * Runs once per such connection: a closure and the parse of one header.
 */
export function acceptProxyHeader(o: ProxyPreludeOptions, s: TcpSession, next: PrereadCallback | null): void {
  const peer = s.client.remoteAddress;
  if (o.trust !== null && !o.trust(peer)) {
    const why = `peer ${peer} is not in nginx_config.stream.real_ip_from`;
    o.warnings.warn('proxy_untrusted', 'PROXY protocol header refused', { peer: `${peer}:${s.client.remotePort}`, reason: why });
    return o.reject(s, 'proxy_protocol_untrusted', why);
  }
  let read = false;
  const max = next === null ? PROXY_PREREAD_MAX : Math.max(PROXY_PREREAD_MAX, TLS_PREREAD_MAX);
  o.plane.preread(s.client, max, o.prereadTimeoutMs, (bytes, state) => {
    if (!read) {
      if (state !== 'data') {
        const [end, why] = PREREAD_FAILURE[state];
        o.reject(s, end, why);
        return true;
      }
      const r = parseProxyHeader(bytes);
      if (r.kind === 'need-more') return false;
      if (r.kind === 'invalid') {
        o.warnings.warn('proxy_invalid', 'PROXY protocol header refused', { peer: `${peer}:${s.client.remotePort}`, reason: r.reason });
        o.reject(s, 'proxy_protocol_invalid', r.reason);
        return true;
      }
      read = true;
      s.setProxyHeader(r.header);
      o.plane.consume(s.client, r.header.headerLength);
      if (next === null) {
        o.proceed(s);
        return true;
      }
      bytes = bytes.subarray(r.header.headerLength);
      if (bytes.length === 0) return false; // the ClientHello comes in a later segment
    }
    return next === null || next(bytes, state);
  });
}
