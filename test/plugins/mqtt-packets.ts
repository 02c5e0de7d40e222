// MQTT CONNECT packets for tests, built field by field (MQTT 3.1.1 and 5.0 layouts).

export interface ConnectSpec {
  name?: string | number[];
  level?: number;
  flags?: number;
  keepAlive?: number;
  /** MQTT 5 property bytes (their length is prefixed); level 5 only unless `forceProps`. */
  props?: number[];
  clientId?: string | number[];
  /** Bytes after the client identifier (will, user name, password, or the next packet). */
  rest?: number[];
  /** Overrides the computed remaining length. */
  remaining?: number;
}

export function varint(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return out;
}

export function utf8(text: string): number[] {
  return [...Buffer.from(text, 'utf8')];
}

/** A 2-byte length, then the bytes. */
export function lp(bytes: string | number[]): number[] {
  const b = typeof bytes === 'string' ? utf8(bytes) : bytes;
  return [b.length >> 8, b.length & 0xff, ...b];
}

/** The variable header and payload up to (and including) the client id, plus `rest`. */
export function connectBody(spec: ConnectSpec = {}): number[] {
  const level = spec.level ?? 4;
  const keepAlive = spec.keepAlive ?? 60;
  const body = [...lp(spec.name ?? 'MQTT'), level, spec.flags ?? 0x02, keepAlive >> 8, keepAlive & 0xff];
  if (level === 5) body.push(...varint((spec.props ?? []).length), ...(spec.props ?? []));
  body.push(...lp(spec.clientId ?? 'client-1'), ...(spec.rest ?? []));
  return body;
}

export function connectPacket(spec: ConnectSpec = {}): Uint8Array {
  const body = connectBody(spec);
  return Uint8Array.from([0x10, ...varint(spec.remaining ?? body.length), ...body]);
}

/** APISIX's test vectors (t/stream-plugin/mqtt-proxy*.t): 3.1.1 "foo", 5.0 with an empty id, 5.0 "f". */
export const APISIX_V4_FOO = Uint8Array.from(Buffer.from('\x10\x0f\x00\x04MQTT\x04\x02\x00\x3c\x00\x03foo', 'latin1'));
export const APISIX_V5_EMPTY = Uint8Array.from(Buffer.from('\x10\x0d\x00\x04MQTT\x05\x02\x00\x3c\x00\x00\x00', 'latin1'));
export const APISIX_V5_F = Uint8Array.from(Buffer.from('\x10\x0e\x00\x04MQTT\x05\x02\x00\x3c\x00\x00\x01f', 'latin1'));
