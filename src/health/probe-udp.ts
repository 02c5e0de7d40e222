// The reply check of a UDP probe (weir extension), pure: any reply passes when nothing is expected; else it
// must contain the expected bytes, or match the pattern read over its bytes as Latin-1 (one char per byte,
// so `\x12` in a pattern is the byte 0x12).

import type { UdpProbeConfig } from './types';

function contains(haystack: Uint8Array, needle: Uint8Array): boolean {
  if (needle.length === 0) return true;
  const first = needle[0]!;
  outer: for (let i = haystack.indexOf(first); i >= 0 && i + needle.length <= haystack.length; i = haystack.indexOf(first, i + 1)) {
    for (let k = 1; k < needle.length; k++) if (haystack[i + k] !== needle[k]) continue outer;
    return true;
  }
  return false;
}

/** Does a reply datagram show a healthy node? */
export function udpReplyMatches(udp: UdpProbeConfig, reply: Uint8Array): boolean {
  if (udp.expectBytes !== null) return contains(reply, udp.expectBytes);
  if (udp.expectRegex !== null) return udp.expectRegex.test(Buffer.from(reply.buffer, reply.byteOffset, reply.byteLength).toString('latin1'));
  return true;
}
