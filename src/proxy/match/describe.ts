// Compiled match conditions back as text, for the messages of shadow warnings, explain and dry runs.
// CIDRs come out masked ("10.0.1.7/24" is shown as 10.0.1.0/24, what the matcher compares); a full-length
// prefix is shown as the bare address.

import { formatIpv4, formatIpv6 } from '../../lib/ip-bytes';
import type { CompiledCidr } from './cidr';
import type { RouteRule } from './route';

export function formatCidr(c: CompiledCidr): string {
  let addr: string;
  if (c.family === 4) {
    const v = c.v4;
    addr = formatIpv4(Uint8Array.of(v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255), 0);
  } else {
    addr = formatIpv6(c.v6!, 0, false);
  }
  return c.prefix === (c.family === 4 ? 32 : 128) ? addr : `${addr}/${c.prefix}`;
}

/** The sni condition as written after normalising: "a.test.com" or "[a.test.com, *.b.com]"; null when none. */
export function formatSni(rule: Pick<RouteRule, 'sni' | 'snis'>): string | null {
  if (rule.snis) return rule.snis.length === 1 ? rule.snis[0]! : `[${rule.snis.join(', ')}]`;
  return rule.sni;
}

/** "server_port 9100, remote_addr 10.0.0.0/24, sni *.a.test.com", or "any connection". */
export function formatRule(rule: Omit<RouteRule, 'route'>): string {
  const parts: string[] = [];
  if (rule.port !== 0) parts.push(`server_port ${rule.port}`);
  if (rule.remote !== null) parts.push(`remote_addr ${formatCidr(rule.remote)}`);
  if (rule.server !== null) parts.push(`server_addr ${formatCidr(rule.server)}`);
  const sni = formatSni(rule);
  if (sni !== null) parts.push(`sni ${sni}`);
  return parts.length === 0 ? 'any connection' : parts.join(', ');
}
