// The MQTT CONNECT packet, read from the first bytes a client sends (mqtt-proxy): the fixed header, the variable
// header (protocol name and level, connect flags, keep alive, MQTT 5 properties) and the client identifier.
// Pure: bytes in, a verdict out. It reads only as far as the client identifier (the will, user name and
// password that may follow are the broker's business), never throws, and says exactly what is wrong.
// MQTT 3.1.1: https://docs.oasis-open.org/mqtt/mqtt/v3.1.1/os/mqtt-v3.1.1-os.html section 3.1
// MQTT 5.0: https://docs.oasis-open.org/mqtt/mqtt/v5.0/os/mqtt-v5.0-os.html section 3.1

/** The CONNECT packet's first byte: type 1, reserved flags 0. */
export const CONNECT_TYPE_BYTE = 0x10;

/** Connect flags (byte 8 of the variable header), decoded. */
export interface ConnectFlags {
  /** "Clean Session" (3.1.1) / "Clean Start" (5.0). */
  cleanStart: boolean;
  will: boolean;
  willQos: number;
  willRetain: boolean;
  password: boolean;
  username: boolean;
}

/** MQTT 5 CONNECT properties; absent ones are undefined. */
export interface ConnectProperties {
  sessionExpiryInterval?: number;
  receiveMaximum?: number;
  maximumPacketSize?: number;
  topicAliasMaximum?: number;
  requestResponseInformation?: number;
  requestProblemInformation?: number;
  authenticationMethod?: string;
  /** Length of the authentication data (its bytes are not kept). */
  authenticationDataLength?: number;
  /** User properties in order (name, value). */
  userProperties: Array<[string, string]>;
}

export interface MqttConnect {
  protocolName: string;
  protocolLevel: number;
  flags: ConnectFlags;
  keepAlive: number;
  /** MQTT 5 (level 5) only; null for the other levels. */
  properties: ConnectProperties | null;
  /** May be empty (the broker then assigns one, or refuses). */
  clientId: string;
  /** Bytes from the packet's start through the client identifier: what had to arrive. */
  parsedLength: number;
  /** The whole packet: fixed header plus remaining length. */
  packetLength: number;
}

export type MqttConnectParse =
  | { kind: 'need-more' }
  | { kind: 'invalid'; reason: string }
  | { kind: 'connect'; connect: MqttConnect };

const NEED_MORE: MqttConnectParse = Object.freeze({ kind: 'need-more' });

function invalid(reason: string): MqttConnectParse {
  return { kind: 'invalid', reason };
}

const hex = (n: number): string => `0x${n.toString(16).padStart(2, '0')}`;

/** A fatal UTF-8 decoder: malformed sequences and encoded surrogates are refused, as MQTT requires. */
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** MQTT's UTF-8 string rules (1.5.4 / 1.5.3): well-formed UTF-8 and no U+0000. Null when not. */
function decodeMqttString(bytes: Uint8Array): string | null {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] === 0) return null;
  try {
    return UTF8.decode(bytes);
  } catch {
    return null;
  }
}

/**
 * A variable byte integer at `at`: [value, bytes used], 'more' when it is cut off at the end of `buf`,
 * or null when it is longer than 4 bytes.
 */
function readVarint(buf: Uint8Array, at: number, end: number): [number, number] | 'more' | null {
  let value = 0;
  let multiplier = 1;
  for (let i = 0; i < 4; i++) {
    if (at + i >= end) return 'more';
    const byte = buf[at + i]!;
    value += (byte & 0x7f) * multiplier;
    if ((byte & 0x80) === 0) return [value, i + 1];
    multiplier *= 128;
  }
  return null;
}

/** Property identifiers allowed in CONNECT (MQTT 5, 3.1.2.11), with their names for messages. */
const PROPERTY_NAMES: ReadonlyMap<number, string> = new Map([
  [0x11, 'Session Expiry Interval'],
  [0x21, 'Receive Maximum'],
  [0x27, 'Maximum Packet Size'],
  [0x22, 'Topic Alias Maximum'],
  [0x19, 'Request Response Information'],
  [0x17, 'Request Problem Information'],
  [0x26, 'User Property'],
  [0x15, 'Authentication Method'],
  [0x16, 'Authentication Data'],
]);

/**
 * Reads fields in order. Every read checks the bounds of what it is inside first (the packet, or the MQTT 5
 * property block: a field past it is malformed), then the bytes received so far (past them: need more).
 */
class Cursor {
  /** Set by a read that failed: the verdict to return. */
  stop: MqttConnectParse | null = null;
  constructor(
    readonly buf: Uint8Array,
    public pos: number,
    /** Where the enclosing structure ends, and its name for messages. */
    public end: number,
    public scope: string,
  ) {}

  /** True when `n` more bytes are there; else sets `stop`. */
  has(n: number, what: string): boolean {
    if (this.pos + n > this.end) {
      this.stop = invalid(`${what} runs past the end of ${this.scope}`);
      return false;
    }
    if (this.pos + n > this.buf.length) {
      this.stop = NEED_MORE;
      return false;
    }
    return true;
  }
  u8(what: string): number {
    if (!this.has(1, what)) return -1;
    return this.buf[this.pos++]!;
  }
  u16(what: string): number {
    if (!this.has(2, what)) return -1;
    const v = (this.buf[this.pos]! << 8) | this.buf[this.pos + 1]!;
    this.pos += 2;
    return v;
  }
  u32(what: string): number {
    if (!this.has(4, what)) return -1;
    const b = this.buf;
    const v = b[this.pos]! * 0x1000000 + ((b[this.pos + 1]! << 16) | (b[this.pos + 2]! << 8) | b[this.pos + 3]!);
    this.pos += 4;
    return v;
  }
  /** Binary data: a 2-byte length, then that many bytes. */
  bytes(what: string): Uint8Array | null {
    const n = this.u16(`${what} length`);
    if (n < 0 || !this.has(n, what)) return null;
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  /** A UTF-8 string: a 2-byte length, then the text. */
  text(what: string): string | null {
    const raw = this.bytes(what);
    if (raw === null) return null;
    const text = decodeMqttString(raw);
    if (text === null) this.stop = invalid(`${what} is not well-formed UTF-8 (or holds U+0000)`);
    return text;
  }
  varint(what: string): number {
    const limit = Math.min(this.end, this.buf.length);
    const r = readVarint(this.buf, this.pos, limit);
    if (r === null) {
      this.stop = invalid(`${what} is longer than 4 bytes`);
      return -1;
    }
    if (r === 'more') {
      this.stop = limit === this.end ? invalid(`${what} runs past the end of ${this.scope}`) : NEED_MORE;
      return -1;
    }
    this.pos += r[1];
    return r[0];
  }
}

function decodeFlags(byte: number): ConnectFlags {
  return {
    cleanStart: (byte & 0x02) !== 0,
    will: (byte & 0x04) !== 0,
    willQos: (byte >> 3) & 0x03,
    willRetain: (byte & 0x20) !== 0,
    password: (byte & 0x40) !== 0,
    username: (byte & 0x80) !== 0,
  };
}

/** The connect flags' rules (3.1.2.3 - 3.1.2.9); null when they hold. */
function flagsProblem(byte: number, flags: ConnectFlags, level: number): string | null {
  if ((byte & 0x01) !== 0) return 'connect flags: the reserved bit 0 is set';
  if (flags.willQos === 3) return 'connect flags: will QoS is 3';
  if (!flags.will && (flags.willQos !== 0 || flags.willRetain)) return 'connect flags: will QoS or will retain set without the will flag';
  if (level < 5 && flags.password && !flags.username) return 'connect flags: password flag set without the user name flag';
  return null;
}

/** MQTT 5 CONNECT properties: exactly `length` bytes of them. */
function readProperties(c: Cursor, length: number): ConnectProperties | null {
  const props: ConnectProperties = { userProperties: [] };
  const end = c.pos + length;
  const outer = [c.end, c.scope] as const;
  c.end = end;
  c.scope = `the properties (length ${length})`;
  const seen = new Set<number>();
  while (c.pos < end) {
    const id = c.varint('property identifier');
    if (id < 0) return null;
    const name = PROPERTY_NAMES.get(id);
    if (name === undefined) {
      c.stop = invalid(`property ${hex(id)} is not allowed in CONNECT`);
      return null;
    }
    if (id !== 0x26) {
      if (seen.has(id)) {
        c.stop = invalid(`property ${name} appears twice`);
        return null;
      }
      seen.add(id);
    }
    let value: number;
    switch (id) {
      case 0x11:
        if ((value = c.u32(name)) < 0) return null;
        props.sessionExpiryInterval = value;
        break;
      case 0x21:
      case 0x22: {
        if ((value = c.u16(name)) < 0) return null;
        if (id === 0x21 && value === 0) {
          c.stop = invalid('property Receive Maximum is 0');
          return null;
        }
        if (id === 0x21) props.receiveMaximum = value;
        else props.topicAliasMaximum = value;
        break;
      }
      case 0x27:
        if ((value = c.u32(name)) < 0) return null;
        if (value === 0) {
          c.stop = invalid('property Maximum Packet Size is 0');
          return null;
        }
        props.maximumPacketSize = value;
        break;
      case 0x19:
      case 0x17:
        if ((value = c.u8(name)) < 0) return null;
        if (value > 1) {
          c.stop = invalid(`property ${name} is ${value}, not 0 or 1`);
          return null;
        }
        if (id === 0x19) props.requestResponseInformation = value;
        else props.requestProblemInformation = value;
        break;
      case 0x26: {
        const key = c.text('user property name');
        if (key === null) return null;
        const val = c.text('user property value');
        if (val === null) return null;
        props.userProperties.push([key, val]);
        break;
      }
      case 0x15: {
        const method = c.text(name);
        if (method === null) return null;
        props.authenticationMethod = method;
        break;
      }
      default: {
        // 0x16, Authentication Data: binary
        const data = c.bytes(name);
        if (data === null) return null;
        props.authenticationDataLength = data.length;
      }
    }
  }
  [c.end, c.scope] = outer;
  if (props.authenticationDataLength !== undefined && props.authenticationMethod === undefined) {
    c.stop = invalid('property Authentication Data without Authentication Method');
    return null;
  }
  return props;
}

/**
 * Parse the start of a client's byte stream as an MQTT CONNECT packet. Call it again with more bytes after
 * 'need-more' (the answer for a prefix never contradicts the answer for the whole: 'invalid' and 'connect'
 * are final). Levels other than 5 are read with the 3.1.1 layout (3.1, "MQIsdp", has the same); whether
 * the name and level are the expected ones is the caller's decision.
 */
export function parseMqttConnect(buf: Uint8Array): MqttConnectParse {
  if (buf.length === 0) return NEED_MORE;
  const first = buf[0]!;
  if (first !== CONNECT_TYPE_BYTE) {
    // 0x11-0x1f are CONNECT with reserved flags set: malformed too, and worded the same way
    return invalid(`expected a CONNECT packet (first byte 0x10), got ${hex(first)}`);
  }
  const rl = readVarint(buf, 1, buf.length);
  if (rl === 'more') return NEED_MORE;
  if (rl === null) return invalid('remaining length is longer than 4 bytes');
  const [remaining, used] = rl;
  const start = 1 + used;
  const end = start + remaining;
  const c = new Cursor(buf, start, end, `the CONNECT packet (remaining length ${remaining})`);

  const protocolName = c.text('protocol name');
  if (protocolName === null) return c.stop!;
  const protocolLevel = c.u8('protocol level');
  if (protocolLevel < 0) return c.stop!;
  const flagByte = c.u8('connect flags');
  if (flagByte < 0) return c.stop!;
  const flags = decodeFlags(flagByte);
  const flagError = flagsProblem(flagByte, flags, protocolLevel);
  if (flagError !== null) return invalid(flagError);
  const keepAlive = c.u16('keep alive');
  if (keepAlive < 0) return c.stop!;

  let properties: ConnectProperties | null = null;
  if (protocolLevel === 5) {
    const length = c.varint('property length');
    if (length < 0) return c.stop!;
    if (c.pos + length > end) return invalid(`property length ${length} runs past the end of the CONNECT packet`);
    properties = readProperties(c, length);
    if (properties === null) return c.stop!;
  }

  const clientId = c.text('client identifier');
  if (clientId === null) return c.stop!;
  return {
    kind: 'connect',
    connect: { protocolName, protocolLevel, flags, keepAlive, properties, clientId, parsedLength: c.pos, packetLength: end },
  };
}
