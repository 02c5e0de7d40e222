// Why a connection or UDP session ended: one typed list, shared by the TCP and UDP flows, the access log's
// `end` field, metrics and tests. Adding a reason here is the only way to log a new one.

import type { PipeEndReason } from '../../runtime/types';

/** Every reason, in the order a connection's phases can produce them. */
export const END_REASONS = [
  // accept
  'refused', // over apisix.stream_proxy.max_connections or the listener's max_connections: closed unread
  // prelude: before any route is known
  'proxy_protocol_untrusted', // a proxy_protocol listener's peer is outside nginx_config.stream.real_ip_from
  'proxy_protocol_invalid', // what came first on a proxy_protocol listener is not a valid PROXY header
  'preread_timeout', // nothing decisive (PROXY header, ClientHello) arrived within nginx_config.stream.preread_timeout
  'not_tls', // a TLS listener got something that is not a ClientHello (or one too large)
  'client_closed', // the client closed before its PROXY header or ClientHello
  'tls_handshake_failed', // no SNI, unknown SNI, client certificate refused, handshake error or timeout
  // match
  'no_route', // no route matched
  'no_upstream', // the route matched but cannot forward (missing or broken upstream)
  // filters (access)
  'rejected', // a filter of the route refused the connection
  // connect
  'connect_failed', // every allowed connect attempt failed, or no node was left to try
  'upstream_refused', // UDP: the node answered with ICMP port or host unreachable
  // pipe (reported by the data plane)
  'closed', // both directions finished normally
  'idle_timeout', // no byte (or datagram) either way for the upstream's idle timeout
  'client_error',
  'upstream_error',
  'aborted', // cut by weir: shutdown grace over, or closed while still in preread or handshake on shutdown
  // UDP sessions
  'responses', // proxy_responses replies per client datagram were relayed
  'evicted', // the session table was full
  'shutdown', // ended while draining: answered, or quiet for a moment
  // changes while running ([weir] session policies, src/proxy/session/policy.ts)
  'listener_removed', // its listener was unbound: UDP sessions always (replies leave from its socket), TCP per on_change
  'route_changed', // its route or the route's upstream was written, and the route's on_change said drain or close
  'route_deleted', // its route was deleted, and the route's on_change said drain or close
  'node_removed', // its node left the route's upstream, and the route's on_node_removed said drain or close
  // admin
  'admin_closed', // ended through the Admin API (DELETE /v1/connections/{id}, /v1/udp_sessions/{id})
] as const;

export type EndReason = (typeof END_REASONS)[number];

/** The pipe's reasons are a subset: the data plane's words need no translation. */
const _pipeReasonsAreEndReasons: PipeEndReason extends EndReason ? true : never = true;
void _pipeReasonsAreEndReasons;
