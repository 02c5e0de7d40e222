// nginx_config.stream.real_ip_from: which peers may name the client in a PROXY protocol header.
// Runs once at start (pure). The listener side compiles the list (src/proxy/match/trust.ts).

import { parseCidr } from '../lib/ip';
import { canonicalIp } from './listen';
import { ConfigError } from './types';
import { describeValue } from './read';

/**
 * Read `real_ip_from`: a list of IP addresses and CIDRs (a single string is a list of one). Absent: undefined,
 * and every peer of a proxy_protocol listener is trusted, as in nginx. Returns canonical texts ("10.0.0.0/8",
 * "2001:db8::/32"); throws ConfigError naming the item for anything else.
 */
export function readRealIpFrom(value: unknown, path: string): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  const items = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(items)) {
    throw new ConfigError(path, `expected a list of IP addresses or CIDRs like "10.0.0.0/8", got ${describeValue(value)}`);
  }
  if (items.length === 0) {
    throw new ConfigError(path, 'an empty list would refuse every PROXY header; leave the key out to trust every peer');
  }
  return items.map((item, i) => {
    const where = typeof value === 'string' ? path : `${path}[${i}]`;
    if (typeof item !== 'string') throw new ConfigError(where, `expected an IP address or CIDR, got ${describeValue(item)}`);
    if (item.startsWith('unix:')) throw new ConfigError(where, 'weir listens on no UNIX sockets; name IP addresses or CIDRs');
    const cidr = parseCidr(item.trim());
    if (cidr === null) {
      throw new ConfigError(where, `${describeValue(item)} is not an IP address or CIDR (e.g. "10.0.0.0/8", "2001:db8::/32")`);
    }
    const slash = item.indexOf('/');
    const addr = canonicalIp(slash < 0 ? item.trim() : item.trim().slice(0, slash))!;
    return `${addr}/${cidr.prefix}`;
  });
}
