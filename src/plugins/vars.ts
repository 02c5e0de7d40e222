// Stream variables by their nginx / APISIX names (ctx.var in a stream plugin): what limit-conn's `key` and
// traffic-split's `match.vars` read. Compiled once per plugin conf into a reader; reading is a field access.

import type { VarSource } from '../proxy/filter/types';

/** Reads one variable of a connection; undefined is Lua's nil (the variable has no value here). */
export type VarReader = (conn: VarSource) => string | undefined;

/** Route facts that never change for a compiled chain: read at compile time, not per connection. */
export interface RouteVars {
  routeId: string;
  serviceId: string | undefined;
}

/**
 * The reader for `name`. L4 has the addresses and ports, the protocol, the SNI, the route and service ids;
 * HTTP-only names and the PROXY protocol's own variables are nil (weir puts a trusted PROXY source in
 * remote_addr), and any other name reads what an earlier filter set (mqtt_client_id).
 */
export function compileVar(name: string, route: RouteVars): VarReader {
  switch (name) {
    case 'remote_addr':
    case 'realip_remote_addr':
      return (c) => c.info.remoteAddr;
    case 'remote_port':
    case 'realip_remote_port':
      return (c) => String(c.info.remotePort);
    case 'server_addr':
      return (c) => c.info.serverAddr;
    case 'server_port':
      return (c) => String(c.info.serverPort);
    case 'protocol':
      return (c) => (c.info.protocol === 'udp' ? 'UDP' : 'TCP');
    case 'server_name':
    case 'ssl_server_name':
    case 'ssl_preread_server_name':
      return (c) => c.info.sni ?? undefined;
    case 'route_id': {
      const id = route.routeId;
      return () => id;
    }
    case 'service_id': {
      const id = route.serviceId;
      return () => id;
    }
    default:
      return (c) => c.getVar(name);
  }
}

/** A template with `$var`, `${var}` and `${var ?? default}` (APISIX's core.utils.resolve_var), compiled. */
export interface VarTemplate {
  /** The text with every variable replaced ('' for nil); `resolved` counts the variables that had a value. */
  resolve(conn: VarSource): { text: string; resolved: number };
}

// APISIX's pattern: (?<!\\)\$(\{\s*([^}]+?)\s*\}|([\w\.]+))
const VAR_RE = /(?<!\\)\$(?:\{\s*([^}]+?)\s*\}|([\w.]+))/g;

/** Compile a resolve_var template once per conf. */
export function compileTemplate(template: string, route: RouteVars): VarTemplate {
  const parts: Array<string | { read: VarReader; fallback: string | undefined }> = [];
  let last = 0;
  for (const m of template.matchAll(VAR_RE)) {
    if (m.index > last) parts.push(template.slice(last, m.index));
    const expr = (m[1] ?? m[2])!;
    const [varName, fallback] = expr.split(/\s*\?\?\s*/, 2) as [string, string | undefined];
    parts.push({ read: compileVar(varName, route), fallback });
    last = m.index + m[0].length;
  }
  if (last < template.length) parts.push(template.slice(last));
  return {
    resolve(conn) {
      let text = '';
      let resolved = 0;
      for (const p of parts) {
        if (typeof p === 'string') {
          text += p;
          continue;
        }
        const value = p.read(conn) ?? p.fallback;
        if (value === undefined) continue;
        resolved++;
        text += value;
      }
      return { text, resolved };
    },
  };
}
