// Asking DNS for a node name's addresses: the servers of apisix.dns_resolver through node:dns's Resolver
// (records with their TTLs), or the system resolver (getaddrinfo: /etc/hosts and resolv.conf, no TTL).
// node:dns behaves alike on Node, Bun and Deno (a Resolver with setServers and ttl answers works on all three),
// so this is no runtime difference. A records first, AAAA only for names without any, as APISIX does.

import type * as NodeDns from 'node:dns';
import { nodeBuiltin } from '../runtime/builtin';

/** node:dns, loaded when the first name is resolved (or a dns_resolver is configured): a weir whose nodes are all IPs never loads it. */
const nodeDns = (): typeof NodeDns => nodeBuiltin<typeof NodeDns>('node:dns');

/** A name's addresses and how long they hold (the smallest record TTL; null: unknown, the system resolver). */
export interface DnsAnswer {
  addresses: string[];
  ttlMs: number | null;
}

/** Resolves one name; rejects with the resolver's error (code ENOTFOUND, ETIMEOUT, ECONNREFUSED, ...). */
export interface DnsClient {
  resolve(name: string): Promise<DnsAnswer>;
}

/** Per query attempt; two attempts per server. */
const QUERY_TIMEOUT_MS = 2000;

function nonEmpty(answer: DnsAnswer): DnsAnswer {
  if (answer.addresses.length === 0) throw Object.assign(new Error('no addresses'), { code: 'ENODATA' });
  return answer;
}

/** A client asking `servers` (apisix.dns_resolver), or the system resolver when null. */
export function createDnsClient(servers: readonly string[] | null): DnsClient {
  if (servers === null) {
    return {
      resolve: (name) =>
        nodeDns()
          .promises.lookup(name, { all: true, family: 4 })
          .catch(() => nodeDns().promises.lookup(name, { all: true, family: 6 }))
          .then((list) => nonEmpty({ addresses: list.map((a) => a.address), ttlMs: null })),
    };
  }
  const resolver = new (nodeDns().promises.Resolver)({ timeout: QUERY_TIMEOUT_MS, tries: 2 });
  resolver.setServers([...servers]);
  const asked = (records: Array<{ address: string; ttl: number }>): DnsAnswer =>
    nonEmpty({ addresses: records.map((r) => r.address), ttlMs: Math.min(...records.map((r) => r.ttl)) * 1000 });
  return {
    resolve: (name) =>
      resolver
        .resolve4(name, { ttl: true })
        .then(asked)
        .catch((err: NodeJS.ErrnoException) => {
          // the server answered that there is no A record: try AAAA; a server that did not answer is a failure
          if (err.code === 'ETIMEOUT' || err.code === 'ECONNREFUSED') throw err;
          return resolver.resolve6(name, { ttl: true }).then(asked, () => Promise.reject(err));
        }),
  };
}
