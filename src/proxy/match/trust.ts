// Which peers may name the client in a PROXY header (nginx_config.stream.real_ip_from), compiled once at start.
// Checked once per connection (or datagram) on a proxy_protocol listener, before any byte of it is read.

import { cidrContains, compileCidr, type CompiledCidr, parseIpv4, parseIpv6 } from './cidr';

/** True when the peer's PROXY header is believed. Never throws. */
export type TrustCheck = (peer: string) => boolean;

/**
 * Compile the real_ip_from list (canonical IPs and CIDRs, already validated by the config reader).
 * `undefined` (no list) gives null: every peer is trusted and callers skip the check.
 */
export function compileTrust(cidrs: readonly string[] | undefined): TrustCheck | null {
  if (cidrs === undefined) return null;
  const rules: CompiledCidr[] = [];
  for (const text of cidrs) {
    const rule = compileCidr(text);
    if (rule === null) throw new Error(`ERR_CONFIG: real_ip_from item ${JSON.stringify(text)} is not an IP address or CIDR`);
    rules.push(rule);
  }
  return (peer) => {
    const v4 = parseIpv4(peer);
    const v6 = v4 >= 0 ? null : parseIpv6(peer);
    if (v4 < 0 && v6 === null) return false;
    for (let i = 0; i < rules.length; i++) if (cidrContains(rules[i]!, v4, v6)) return true;
    return false;
  };
}
