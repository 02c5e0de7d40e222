// A set of IPs and CIDRs, compiled for membership tests per connection (ip-restriction's whitelist/blacklist,
// resty.ipmatcher's job in APISIX). Addresses are grouped by prefix length: a test is one hash lookup per
// distinct length in the set (at most 33 for IPv4, 129 for IPv6), however many entries it holds.

import { parseIpv6Into } from '../../lib/ip-bytes';
import { compileCidr, maskV4, parseIpv4, v6Key } from './cidr';

interface V4Group {
  prefix: number;
  masked: Set<number>;
}

interface V6Group {
  prefix: number;
  keys: Set<string>;
}

/** IPv6 bytes of the address being tested; one buffer, since a test never outlives its call. */
const scratch = new Uint8Array(16);

export class IpSet {
  private readonly v4: V4Group[] = [];
  private readonly v6: V6Group[] = [];

  /**
   * Compile entries ("10.0.0.1", "10.0.0.0/8", "::1", "fe80::/10"). Runs at snapshot build. Throws on an entry
   * that is not a strict IP or CIDR (the schema has refused those before).
   */
  constructor(entries: readonly string[]) {
    for (const text of entries) {
      const rule = compileCidr(text);
      if (rule === null) throw new Error(`invalid ip address: ${text}`);
      if (rule.family === 4) {
        let g = this.v4.find((x) => x.prefix === rule.prefix);
        if (g === undefined) this.v4.push((g = { prefix: rule.prefix, masked: new Set() }));
        g.masked.add(rule.v4);
      } else {
        let g = this.v6.find((x) => x.prefix === rule.prefix);
        if (g === undefined) this.v6.push((g = { prefix: rule.prefix, keys: new Set() }));
        g.keys.add(rule.v6key);
      }
    }
    // longest prefixes first: single addresses are the common entries
    this.v4.sort((a, b) => b.prefix - a.prefix);
    this.v6.sort((a, b) => b.prefix - a.prefix);
  }

  /** Is the address (text as the socket reports it, IPv4-mapped already unwrapped) in the set? */
  has(address: string): boolean {
    const v4 = parseIpv4(address);
    if (v4 >= 0) {
      const groups = this.v4;
      for (let i = 0; i < groups.length; i++) {
        const g = groups[i]!;
        if (g.masked.has(maskV4(v4, g.prefix))) return true;
      }
      return false;
    }
    if (this.v6.length === 0 || !parseIpv6Into(address, 0, address.length, scratch, 0)) return false;
    for (const g of this.v6) if (g.keys.has(v6Key(scratch, g.prefix))) return true;
    return false;
  }
}
