// IP addresses between text and network-order bytes, without ipaddr.js objects: the PROXY protocol's codec.
// Runs per connection that reads or writes a PROXY header, so it parses in place and allocates no arrays.

const HEX = '0123456789abcdef';

/**
 * Parse a strict dotted-quad IPv4 (no leading zeros, as the PROXY v1 spec and weir's schemas require) from
 * text[start, end) into out[at, at + 4). Returns false, leaving out partly written, when it is not one.
 */
export function parseIpv4Into(text: string, start: number, end: number, out: Uint8Array, at: number): boolean {
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = start; i <= end; i++) {
    const c = i < end ? text.charCodeAt(i) : 0x2e;
    if (c >= 0x30 && c <= 0x39) {
      if (digits === 1 && value === 0) return false; // leading zero
      value = value * 10 + (c - 0x30);
      if (++digits > 3 || value > 255) return false;
    } else if (c === 0x2e) {
      if (digits === 0 || part > 3) return false;
      out[at + part++] = value;
      value = 0;
      digits = 0;
    } else {
      return false;
    }
  }
  return part === 4;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

/**
 * Parse an IPv6 literal (RFC 4291 text: one "::" at most, an optional dotted IPv4 tail, no zone, no
 * brackets) from text[start, end) into out[at, at + 16). Returns false when it is not one.
 */
export function parseIpv6Into(text: string, start: number, end: number, out: Uint8Array, at: number): boolean {
  if (end - start < 2 || end - start > 45) return false;
  let groups = 0;
  let gap = -1;
  let i = start;
  if (text.charCodeAt(i) === 0x3a) {
    if (text.charCodeAt(i + 1) !== 0x3a) return false;
    gap = 0;
    i += 2;
  }
  while (i < end) {
    if (groups >= 8) return false;
    const groupStart = i;
    let value = 0;
    let digits = 0;
    let h: number;
    while (i < end && (h = hexValue(text.charCodeAt(i))) >= 0) {
      value = value * 16 + h;
      if (++digits > 4) break;
      i++;
    }
    if (i < end && text.charCodeAt(i) === 0x2e) {
      // dotted IPv4 tail: the last 32 bits
      if (groups > 6 || !parseIpv4Into(text, groupStart, end, out, at + groups * 2)) return false;
      groups += 2;
      i = end;
      break;
    }
    if (digits === 0 || digits > 4) return false;
    out[at + groups * 2] = value >> 8;
    out[at + groups * 2 + 1] = value & 0xff;
    groups++;
    if (i === end) break;
    if (text.charCodeAt(i) !== 0x3a) return false;
    i++;
    if (i < end && text.charCodeAt(i) === 0x3a) {
      if (gap >= 0) return false;
      gap = groups;
      i++;
    } else if (i === end) {
      return false; // a single trailing colon
    }
  }
  if (gap < 0) return groups === 8;
  if (groups > 7) return false; // "::" stands for at least one zero group
  const tail = (groups - gap) * 2;
  const to = at + 16 - tail;
  out.copyWithin(to, at + gap * 2, at + groups * 2);
  out.fill(0, at + gap * 2, to);
  return true;
}

/**
 * Parse an IP literal as a socket reports it ("1.2.3.4", "::1", "fe80::1%eth0") into out[0, 16): returns 4
 * with the IPv4 bytes in out[0, 4) (an IPv4-mapped IPv6 counts as IPv4, as weir reports clients), 6 with
 * 16 IPv6 bytes, or 0 when the text is neither.
 */
export function parseIpInto(text: string, out: Uint8Array): 0 | 4 | 6 {
  if (typeof text !== 'string') return 0; // a destroyed node socket reports remoteAddress undefined
  const zone = text.indexOf('%');
  const end = zone < 0 ? text.length : zone;
  if (zone < 0 && parseIpv4Into(text, 0, end, out, 0)) return 4;
  if (!parseIpv6Into(text, 0, end, out, 0)) return 0;
  if (isIpv4Mapped(out, 0)) {
    out.copyWithin(0, 12, 16);
    return 4;
  }
  return 6;
}

/** True for ::ffff:a.b.c.d at bytes[at, at + 16). */
export function isIpv4Mapped(bytes: Uint8Array, at: number): boolean {
  for (let i = 0; i < 10; i++) if (bytes[at + i] !== 0) return false;
  return bytes[at + 10] === 0xff && bytes[at + 11] === 0xff;
}

/** "a.b.c.d" from bytes[at, at + 4). */
export function formatIpv4(bytes: Uint8Array, at: number): string {
  return `${bytes[at]}.${bytes[at + 1]}.${bytes[at + 2]}.${bytes[at + 3]}`;
}

/**
 * RFC 5952 text of bytes[at, at + 16): lowercase, no leading zeros, the longest run (first on a tie) of two
 * or more zero groups as "::". With `unmap` (the default) an IPv4-mapped address comes out as dotted IPv4,
 * the way weir reports client addresses everywhere (see unmapIpv4 in ./ip).
 */
export function formatIpv6(bytes: Uint8Array, at: number, unmap = true): string {
  if (isIpv4Mapped(bytes, at)) {
    const v4 = formatIpv4(bytes, at + 12);
    return unmap ? v4 : `::ffff:${v4}`;
  }
  let bestStart = -1;
  let bestLen = 1;
  let runStart = -1;
  for (let g = 0; g <= 8; g++) {
    const zero = g < 8 && bytes[at + g * 2] === 0 && bytes[at + g * 2 + 1] === 0;
    if (zero) {
      if (runStart < 0) runStart = g;
    } else if (runStart >= 0) {
      if (g - runStart > bestLen) {
        bestStart = runStart;
        bestLen = g - runStart;
      }
      runStart = -1;
    }
  }
  let text = '';
  for (let g = 0; g < 8; g++) {
    if (g === bestStart) {
      text += g === 0 ? '::' : ':';
      g += bestLen - 1;
      continue;
    }
    text += hexGroup((bytes[at + g * 2]! << 8) | bytes[at + g * 2 + 1]!);
    if (g < 7) text += ':';
  }
  return text;
}

function hexGroup(value: number): string {
  if (value < 0x10) return HEX[value]!;
  if (value < 0x100) return HEX[value >> 4]! + HEX[value & 15]!;
  if (value < 0x1000) return HEX[value >> 8]! + HEX[(value >> 4) & 15]! + HEX[value & 15]!;
  return HEX[value >> 12]! + HEX[(value >> 8) & 15]! + HEX[(value >> 4) & 15]! + HEX[value & 15]!;
}
