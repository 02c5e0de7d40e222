// [weir] stream_listeners objects: one address weir listens on, added or removed while it runs.
// `{addr, protocol: tcp|udp, tls, tls_passthrough, proxy_protocol, proxy_protocol_to_upstream, max_connections, on_change,
// name, desc, labels}`.

import * as v from 'valibot';
import { parseListenAddr } from '../config/listen';
import { MAX_CAP } from '../config/limits';
import { type AnySchema, bool, commonEntries, fieldError, intRange, nameSchema, oneOf, opt, runSchema, strictObj } from './common';
import { sessionPolicySchema } from './session-policy';

const addrSchema: AnySchema = v.custom(
  (x) => typeof x === 'string' || typeof x === 'number',
  (i) => `wrong type: expected string or integer, got ${i.input === null ? 'null' : Array.isArray(i.input) ? 'array' : typeof i.input}`,
);

export const streamListenerSchema: AnySchema = strictObj({
  ...commonEntries(),
  name: opt(nameSchema()),
  addr: addrSchema,
  protocol: opt(oneOf(['tcp', 'udp'])),
  tls: opt(bool()),
  tls_passthrough: opt(bool()),
  proxy_protocol: opt(bool()),
  proxy_protocol_to_upstream: opt(bool()),
  // as on an apisix.stream_proxy item: open connections (TCP) or sessions (UDP) of this listener
  max_connections: opt(intRange(1, MAX_CAP)),
  on_change: opt(sessionPolicySchema),
});

/** The one address of a listener object, canonical host; throws the message for `addr`. */
export function listenerAddress(addr: unknown): { host: string; port: number } {
  let range: { host: string; start: number; end: number };
  try {
    range = parseListenAddr(addr, 'addr');
  } catch (err) {
    throw new Error((err as Error).message.replace(/^addr: /, ''));
  }
  if (range.start !== range.end) throw new Error(`${JSON.stringify(addr)}: one object is one address (no port ranges)`);
  return { host: range.host, port: range.start };
}

/** Fields a UDP listener cannot have (no DTLS); PROXY protocol is fine, as on apisix.stream_proxy.udp items. */
const TCP_ONLY = ['tls', 'tls_passthrough'] as const;

/** Full stream listener validation; null when valid. Whether the address can be bound is found out by binding it. */
export function checkStreamListener(body: unknown): string | null {
  const shapeError = runSchema(streamListenerSchema, body);
  if (shapeError) return shapeError;
  const listener = body as Record<string, unknown>;
  try {
    listenerAddress(listener.addr);
  } catch (err) {
    return fieldError(['addr'], (err as Error).message);
  }
  if (listener.protocol === 'udp') {
    for (const key of TCP_ONLY) {
      if (listener[key] === true) return fieldError([key], 'UDP listeners have no TLS (weir has no DTLS)');
    }
  }
  return null;
}
