// Table tests for stream_route validation: every field, APISIX's pinned strings (spec 2.3, 2.5, 9) and check order.

import { describe } from 'node:test';
import { validateStreamRoute } from '../../src/schema/index';
import { HOST_PAT_Q, field, patternField, runTable, type Row } from './schema.cases';

const NONE = 'object matches none of the required';
const up = { nodes: { '127.0.0.1:1995': 1 }, type: 'roundrobin' };

describe('stream_route: valid bodies', () => {
  const rows: Row[] = [
    ['empty object', {}, null],
    ['spec 2.4 example', { remote_addr: '127.0.0.1', upstream: up }, null],
    ['id a-b-c-ABC_0123 (spec 9.5)', { id: 'a-b-c-ABC_0123' }, null],
    ['integer id', { id: 1 }, null],
    ['64-char id', { id: 'x'.repeat(64) }, null],
    ['name, desc, labels', { name: 'r1', desc: '', labels: { env: 'prod', 'k.with.dots': 'v-1' } }, null],
    ['256-char name', { name: 'n'.repeat(256) }, null],
    ['timestamps', { create_time: 1700000000, update_time: 1700000001 }, null],
    ['remote_addr IPv4', { remote_addr: '127.0.0.1' }, null],
    ['remote_addr 127.0.0.1/26 (spec 9.7)', { remote_addr: '127.0.0.1/26' }, null],
    ['remote_addr ::1 (spec 9.7)', { remote_addr: '::1' }, null],
    ['server_addr ::1 (spec 9.7)', { server_addr: '::1' }, null],
    ['remote_addr IPv6 CIDR', { remote_addr: 'fe80::/10' }, null],
    ['remote_addr 0.0.0.0/0', { remote_addr: '0.0.0.0/0' }, null],
    ['remote_addr IPv4-mapped', { remote_addr: '::ffff:127.0.0.1' }, null],
    ['server_port 1', { server_port: 1 }, null],
    ['server_port 65535', { server_port: 65535 }, null],
    ['sni exact', { sni: 'a.test.com' }, null],
    ['sni wildcard', { sni: '*.test.com' }, null],
    ['sni star', { sni: '*' }, null],
    ['upstream_id string', { upstream_id: '1' }, null],
    ['upstream_id integer', { upstream_id: 1 }, null],
    ['service_id', { service_id: 'svc-1' }, null],
    ['every plugin weir has', {
      plugins: {
        'ip-restriction': { whitelist: ['127.0.0.1'] },
        'limit-conn': { conn: 1, burst: 0, default_conn_delay: 0.1, key: 'remote_addr' },
        'limit-bandwidth': { rate: 1048576 },
        'traffic-split': { rules: [] },
      },
    }, null],
    ['plugins empty', { plugins: {} }, null],
    ['protocol minimal', { protocol: { name: 'redis' } }, null],
    ['protocol full', { protocol: { name: 'dubbo', superior_id: '1', conf: { a: 1 }, logger: [{ name: 'x' }] } }, null],
    ['inline upstream with pass_host node (spec 9.9)', { upstream: { nodes: { '127.0.0.1:1995': 1, '127.0.0.2:1995': 1 }, pass_host: 'node' } }, null],
    ['inline chash on mqtt_client_id', { upstream: { nodes: {}, type: 'chash', key: 'mqtt_client_id' } }, null],
  ];
  runTable(validateStreamRoute, rows);
});

describe('stream_route: whole-body and unknown fields', () => {
  runTable(validateStreamRoute, [
    ['array body', [], 'invalid configuration: wrong type: expected object, got table'],
    ['null body', null, 'invalid configuration: wrong type: expected object, got userdata'],
    ['string body', 'x', 'invalid configuration: wrong type: expected object, got string'],
    ['number body', 5, 'invalid configuration: wrong type: expected object, got number'],
    ['unknown field', { foo: 1 }, 'invalid configuration: additional properties forbidden, found foo'],
    ['snis (apache/apisix#13911)', { snis: ['a.com', '*.b.com'] }, null],
    ['tls_passthrough (apache/apisix#13912)', { sni: 'a.com', tls_passthrough: true }, null],
    ['sni and snis together', { sni: 'a.com', snis: ['b.com'] }, 'invalid configuration: sni and snis cannot be used together'],
    ['tls_passthrough must be a boolean', { tls_passthrough: 'yes' }, 'invalid configuration: property "tls_passthrough" validation failed: wrong type: expected boolean, got string'],
    ['unknown field beats bad plugin', { foo: 1, plugins: { nope: {} } }, 'invalid configuration: additional properties forbidden, found foo'],
  ]);
});

describe('stream_route: common fields', () => {
  runTable(validateStreamRoute, [
    ['id *invalid (spec 9.5)', { id: '*invalid' }, field('id', NONE)],
    ['id 0', { id: 0 }, field('id', NONE)],
    ['id 1.5', { id: 1.5 }, field('id', NONE)],
    ['id empty', { id: '' }, field('id', NONE)],
    ['id 65 chars', { id: 'x'.repeat(65) }, field('id', NONE)],
    ['id null', { id: null }, field('id', NONE)],
    ['name empty', { name: '' }, field('name', 'string too short, expected at least 1, got 0')],
    ['name 257 chars', { name: 'n'.repeat(257) }, field('name', 'string too long, expected at most 256, got 257')],
    ['name number', { name: 5 }, field('name', 'wrong type: expected string, got number')],
    ['desc 257 chars', { desc: 'd'.repeat(257) }, field('desc', 'string too long, expected at most 256, got 257')],
    ['labels array', { labels: [] }, field('labels', 'wrong type: expected object, got table')],
    ['label empty', { labels: { a: '' } }, patternField('labels', 'a', 'string too short, expected at least 1, got 0')],
    ['label with space', { labels: { a: 'b c' } }, patternField('labels', 'a', String.raw`failed to match pattern "^\\S+$" with "b c"`)],
    ['label number', { labels: { a: 1 } }, patternField('labels', 'a', 'wrong type: expected string, got number')],
    ['label array (APISIX upstream4.t 11)', { labels: { env: ['production', 'release'] } },
      patternField('labels', 'env', 'wrong type: expected string, got table')],
    ['create_time string', { create_time: '1' }, field('create_time', 'wrong type: expected integer, got string')],
    ['update_time fraction', { update_time: 1.5 }, field('update_time', 'wrong type: expected integer, got number')],
  ]);
});

describe('stream_route: match fields', () => {
  runTable(validateStreamRoute, [
    ['remote_addr :/8 (spec 2.4)', { remote_addr: ':/8', upstream_id: '1' }, 'invalid remote_addr: :/8'],
    // APISIX's ip_def anyOf lets some bad text through to the address parser (`:/8`, `::1/129`), not all
    ['remote_addr /33', { remote_addr: '127.0.0.1/33' }, field('remote_addr', NONE)],
    ['remote_addr short IPv4', { remote_addr: '127.1' }, field('remote_addr', NONE)],
    ['remote_addr hostname', { remote_addr: 'localhost' }, field('remote_addr', NONE)],
    ['remote_addr IPv6-shaped CIDR that does not parse', { remote_addr: 'fe80::g/10' }, field('remote_addr', NONE)],
    ['remote_addr IPv6 CIDR /200', { remote_addr: 'fe80::/200' }, 'invalid remote_addr: fe80::/200'],
    ['remote_addr number', { remote_addr: 5 }, field('remote_addr', 'wrong type: expected string, got number')],
    ['server_addr trailing slash', { server_addr: '1.2.3.4/' }, field('server_addr', NONE)],
    ['server_addr v6 /129', { server_addr: '::1/129' }, 'invalid server_addr: ::1/129'],
    ['server_port 0', { server_port: 0 }, field('server_port', 'expected 0 to be at least 1')],
    ['server_port 65536', { server_port: 65536 }, field('server_port', 'expected 65536 to be at most 65535')],
    ['server_port string', { server_port: '80' }, field('server_port', 'wrong type: expected integer, got string')],
    ['server_port fraction', { server_port: 80.5 }, field('server_port', 'wrong type: expected integer, got number')],
    ['sni with space', { sni: 'a b' }, field('sni', `failed to match pattern ${HOST_PAT_Q} with "a b"`)],
    ['sni double star', { sni: '**.a.com' }, field('sni', `failed to match pattern ${HOST_PAT_Q} with "**.a.com"`)],
    ['sni empty', { sni: '' }, field('sni', `failed to match pattern ${HOST_PAT_Q} with ""`)],
    ['sni number', { sni: 5 }, field('sni', 'wrong type: expected string, got number')],
  ]);
});

describe('stream_route: references, plugins, protocol', () => {
  runTable(validateStreamRoute, [
    ['upstream_id bad', { upstream_id: '*x' }, field('upstream_id', NONE)],
    ['service_id 0', { service_id: 0 }, field('service_id', NONE)],
    ['plugins array', { plugins: [] }, field('plugins', 'wrong type: expected object, got table')],
    ['unknown plugin, no upstream (spec 9.6)', { plugins: { 'mqttt-proxy': {} } }, 'unknown plugin [mqttt-proxy]'],
    ['unknown plugin with upstream', { plugins: { 'limit-req': {} }, upstream: up }, 'unknown plugin [limit-req]'],
    ['HTTP-only plugin', { plugins: { 'key-auth': {} } }, 'unknown plugin [key-auth]'],
    ['conf true', { plugins: { 'limit-conn': true } }, 'invalid plugin conf true for plugin [limit-conn]'],
    ['conf string', { plugins: { syslog: 'x' } }, 'invalid plugin conf "x" for plugin [syslog]'],
    ['conf array', { plugins: { prometheus: [1] } }, 'invalid plugin conf [1] for plugin [prometheus]'],
    ['conf null', { plugins: { 'ip-restriction': null } }, 'invalid plugin conf null for plugin [ip-restriction]'],
    ['plugin check before address check', { plugins: { x: {} }, remote_addr: ':/8' }, 'unknown plugin [x]'],
    ['protocol without name', { protocol: {} }, field('protocol', 'property "name" is required')],
    ['protocol string', { protocol: 'redis' }, field('protocol', 'wrong type: expected object, got string')],
    ['protocol logger not array', { protocol: { name: 'redis', logger: {} } }, field('protocol.logger', 'wrong type: expected array, got table')],
  ]);
});

describe('stream_route: inline upstream', () => {
  runTable(validateStreamRoute, [
    ['upstream array', { upstream: [] }, field('upstream', 'wrong type: expected object, got table')],
    ['upstream without nodes', { upstream: {} }, field('upstream', 'value should match only one schema, but matches none')],
    ['inline upstream has no id', { upstream: { id: '1', nodes: {} } }, field('upstream', 'additional properties forbidden, found id')],
    ['inline unknown field', { upstream: { nodes: {}, foo: 1 } }, field('upstream', 'additional properties forbidden, found foo')],
    ['inline bare IPv6', { upstream: { nodes: { '::1:80': 1 } } }, "invalid configuration: IPv6 address must be enclosed with '[' and ']'"],
    ['inline port 0', { upstream: { nodes: { '127.0.0.1:0': 1 } } }, 'invalid port 0'],
    ['inline port 65536', { upstream: { nodes: { '127.0.0.1:65536': 1 } } }, 'invalid port 65536'],
    ['inline negative weight', { upstream: { nodes: { '127.0.0.1:80': -1 } } }, field('upstream.nodes', NONE)],
    ['inline array node, bare IPv6 host', { upstream: { nodes: [{ host: '::1', port: 80, weight: 1 }] } },
      "invalid configuration: IPv6 address must be enclosed with '[' and ']'"],
    ['inline node without port', { upstream: { nodes: { localhost: 1 } } },
      field('upstream.nodes', 'node "localhost" has no port (weir stream upstreams need host:port)')],
    ['inline chash without key', { upstream: { nodes: {}, type: 'chash' } }, 'missing key'],
    ['inline timeout partial', { upstream: { nodes: {}, timeout: { connect: 1 } } }, field('upstream.timeout', 'property "send" is required')],
    ['inline array node without port', { upstream: { nodes: [{ host: '127.0.0.1', weight: 1 }] } },
      field('upstream.nodes[0]', 'property "port" is required (weir stream upstreams need a port)')],
    ['inline bad array host', { upstream: { nodes: [{ host: '1.2.3.999', port: 80, weight: 1 }] } },
      field('upstream.nodes[0].host', 'invalid host "1.2.3.999": expected an IP address or a hostname')],
  ]);
});

describe('stream_route: inline upstream proxy_protocol', () => {
  runTable(validateStreamRoute, [
    ['inline v2 with TLVs', { upstream: { nodes: { '127.0.0.1:80': 1 }, proxy_protocol: { version: 2, tlvs: ['unique_id'] } } }, null],
    ['inline bad TLV, named with its path', { upstream: { nodes: { '127.0.0.1:80': 1 }, proxy_protocol: { version: 2, tlvs: [{ type: 1, value: 'x' }] } } },
      field('upstream.proxy_protocol.tlvs[0]', 'type 0x01 is not custom (0xE0-0xEF)')],
  ]);
});

describe('stream_route: [weir] session policies', () => {
  const rows: Row[] = [
    ['on_change keep', { on_change: { action: 'keep' } }, null],
    ['on_change drain and on_node_removed close', { on_change: { action: 'drain', drain_timeout: 2.5 }, on_node_removed: { action: 'close' } }, null],
    ['on_change a string', { on_change: 'close' }, field('on_change', 'wrong type: expected object, got string')],
    ['on_node_removed unknown field', { on_node_removed: { action: 'close', after: 1 } }, field('on_node_removed', 'additional properties forbidden, found after')],
    ['negative drain_timeout', { on_change: { action: 'drain', drain_timeout: -1 } }, field('on_change.drain_timeout', 'expected -1 to be greater than 0')],
  ];
  runTable(validateStreamRoute, rows);
});
