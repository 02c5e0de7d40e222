// Table tests for stream_listeners validation: one address, TLS flags refused on UDP (PROXY protocol allowed),
// max_connections on both protocols, on_change's shape.

import { describe } from 'node:test';
import { validateStreamListener } from '../../src/schema/index';
import { field, runTable, type Row } from './schema.cases';

describe('stream_listener: valid bodies', () => {
  const rows: Row[] = [
    ['a port', { addr: 9100 }, null],
    ['ip:port', { addr: '127.0.0.1:9100' }, null],
    ['[ipv6]:port', { addr: '[::1]:9100' }, null],
    ['port as text', { addr: '9100' }, null],
    ['udp', { addr: 9200, protocol: 'udp' }, null],
    ['tls flags', { addr: 9443, protocol: 'tcp', tls: true, tls_passthrough: true }, null],
    ['PROXY protocol flags', { addr: 9100, proxy_protocol: true, proxy_protocol_to_upstream: true }, null],
    ['on_change drain with a timeout', { addr: 9100, on_change: { action: 'drain', drain_timeout: 30 } }, null],
    ['on_change close', { addr: 9100, on_change: { action: 'close' } }, null],
    ['name, desc, labels, timestamps', { addr: 9100, name: 'edge', desc: 'x', labels: { env: 'prod' }, create_time: 1, update_time: 2 }, null],
    ['udp with the TCP flags false', { addr: 9200, protocol: 'udp', tls: false, proxy_protocol: false }, null],
    ['max_connections on tcp', { addr: 9100, max_connections: 100 }, null],
    ['max_connections on udp', { addr: 9200, protocol: 'udp', max_connections: 1 }, null],
  ];
  runTable(validateStreamListener, rows);
});

describe('stream_listener: refused bodies', () => {
  const rows: Row[] = [
    ['no addr', {}, 'invalid configuration: property "addr" is required'],
    ['addr null', { addr: null }, field('addr', 'wrong type: expected string or integer, got null')],
    ['port 0', { addr: 0 }, field('addr', '0 is not a valid port')],
    ['port 65536', { addr: '127.0.0.1:65536' }, field('addr', '"127.0.0.1:65536" is not a valid port')],
    ['a range', { addr: '9100-9102' }, field('addr', '"9100-9102": one object is one address (no port ranges)')],
    ['a host name', { addr: 'localhost:9100' }, field('addr', '"localhost:9100": "localhost" is not an IP address')],
    ['unknown protocol', { addr: 9100, protocol: 'sctp' }, field('protocol', 'matches none of the enum values')],
    ['tls on udp', { addr: 9200, protocol: 'udp', tls: true }, field('tls', 'UDP listeners have no TLS (weir has no DTLS)')],
    ['tls_passthrough on udp', { addr: 9200, protocol: 'udp', tls_passthrough: true }, field('tls_passthrough', 'UDP listeners have no TLS (weir has no DTLS)')],
    ['PROXY protocol on udp', { addr: 9200, protocol: 'udp', proxy_protocol: true, proxy_protocol_to_upstream: true }, null],
    ['unknown field', { addr: 9100, port: 1 }, 'invalid configuration: additional properties forbidden, found port'],
    ['on_change without action', { addr: 9100, on_change: {} }, field('on_change', 'property "action" is required')],
    ['on_change unknown action', { addr: 9100, on_change: { action: 'cut' } }, field('on_change.action', 'matches none of the enum values')],
    ['max_connections 0', { addr: 9200, protocol: 'udp', max_connections: 0 }, field('max_connections', 'expected 0 to be at least 1')],
    ['max_connections 1.5', { addr: 9100, max_connections: 1.5 }, field('max_connections', 'wrong type: expected integer, got number')],
    ['max_connections as text', { addr: 9100, max_connections: '10' }, field('max_connections', 'wrong type: expected integer, got string')],
    ['max_connections too large', { addr: 9100, max_connections: 20_000_000 }, field('max_connections', 'expected 20000000 to be at most 10000000')],
    ['drain_timeout 0', { addr: 9100, on_change: { action: 'drain', drain_timeout: 0 } }, field('on_change.drain_timeout', 'expected 0 to be greater than 0')],
  ];
  runTable(validateStreamListener, rows);
});
