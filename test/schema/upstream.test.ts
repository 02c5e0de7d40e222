// Table tests for upstream validation: nodes in both forms, balancer rules, timeouts, tls/checks shapes, discovery.

import { describe } from 'node:test';
import { validateUpstream } from '../../src/schema/index';
import { HOST_PAT_Q, field, pem, runTable } from './schema.cases';
import { pem as tlsPem } from '../tls/fixtures';

const NONE = 'object matches none of the required';
const IPV6 = "invalid configuration: IPv6 address must be enclosed with '[' and ']'";
const VARS_PAT = String.raw`^((uri|server_name|server_addr|request_uri|remote_port|remote_addr|query_string|host|hostname|mqtt_client_id)|arg_[0-9a-zA-z_-]+)$`;
const node = (n: Record<string, unknown>) => ({ nodes: [{ host: '127.0.0.1', port: 80, weight: 1, ...n }] });
const with_ = (extra: Record<string, unknown>) => ({ nodes: { '127.0.0.1:1995': 1 }, ...extra });

describe('upstream: valid bodies', () => {
  runTable(validateUpstream, [
    ['spec 2.4 example', { nodes: { '127.0.0.1:1995': 1 }, type: 'roundrobin' }, null],
    ['empty map nodes', { nodes: {} }, null],
    ['empty array nodes', { nodes: [] }, null],
    ['bracketed IPv6 key, weight 0', { nodes: { '[::1]:80': 0 } }, null],
    ['domain key (spec 9.20)', { nodes: { 'localhost:1995': 1 } }, null],
    ['k8s-style name', { nodes: { 'my_svc.ns-1.svc.cluster.local.:80': 1 } }, null],
    ['array node, all fields', node({ priority: -1, metadata: { zone: 'a' } }), null],
        ['array node, bracketed IPv6 host', { nodes: [{ host: '[::1]', port: 80, weight: 1 }] }, null],
    ['array node, extra field kept', node({ extra: true }), null],
    ['type chash with remote_addr', with_({ type: 'chash', key: 'remote_addr' }), null],
    ['type chash with arg_ key', with_({ type: 'chash', hash_on: 'vars', key: 'arg_user-id' }), null],
    ['type chash, hash_on consumer, no key', with_({ type: 'chash', hash_on: 'consumer' }), null],
    ['type chash, hash_on header', with_({ type: 'chash', hash_on: 'header', key: 'X-Id' }), null],
    ['type chash, hash_on cookie', with_({ type: 'chash', hash_on: 'cookie', key: 'sid' }), null],
    ['type chash, vars_combinations', with_({ type: 'chash', hash_on: 'vars_combinations', key: '$remote_addr$server_port' }), null],
    ['key ignored unless chash', with_({ type: 'roundrobin', key: 'anything goes' }), null],
    ['type least_conn', with_({ type: 'least_conn' }), null],
    ['type ewma', with_({ type: 'ewma' }), null],
    ['retries 0, retry_timeout fractional', with_({ retries: 0, retry_timeout: 2.5 }), null],
    ['retry_timeout 0', with_({ retry_timeout: 0 }), null],
    ['timeout fractional', with_({ timeout: { connect: 0.5, send: 1, read: 3 } }), null],
    ['scheme tls', with_({ scheme: 'tls' }), null],
    ['scheme udp', with_({ scheme: 'udp' }), null],
    ['tls cert pair', with_({ tls: { client_cert: tlsPem.client.cert, client_key: tlsPem.client.key } }), null],
    ['tls cert pair that does not match (weir checks what APISIX leaves as a TODO)', with_({ tls: { client_cert: tlsPem.client.cert, client_key: tlsPem.a.key } }),
      'key does not match cert'],
    ['tls cert that is not PEM', with_({ tls: { client_cert: pem(128), client_key: pem(64) } }), 'failed to parse cert: PEM_read_bio_X509_AUX() failed'],
    ['tls key that is not PEM', with_({ tls: { client_cert: tlsPem.client.cert, client_key: pem(64) } }),
      'failed to parse key: PEM_read_bio_PrivateKey() failed'],
    ['tls cert id + verify', with_({ tls: { client_cert_id: '1', verify: true } }), null],
    ['checks tcp', with_({ checks: { active: { type: 'tcp', healthy: { interval: 1 } }, passive: { type: 'tcp', unhealthy: { tcp_failures: 1 } } } }), null],
    ['HTTP-only fields accepted', with_({ keepalive_pool: { size: 320, idle_timeout: 60, requests: 1000 }, pass_host: 'rewrite', upstream_host: 'example.com' }), null],
    ['common fields', with_({ id: 'u-1', name: 'u', desc: 'd', labels: { a: 'b' }, create_time: 1, update_time: 2 }), null],
  ]);
});

describe('upstream: nodes', () => {
  runTable(validateUpstream, [
    ['no nodes', {}, 'invalid configuration: value should match only one schema, but matches none'],
    ['nodes string', { nodes: 'x' }, field('nodes', 'object matches none of the required')],
    ['nodes null', { nodes: null }, field('nodes', 'object matches none of the required')],
    ['nodes number', { nodes: 5 }, field('nodes', 'object matches none of the required')],
    // anything wrong inside either form of `nodes` is APISIX's anyOf message, naming only `nodes`
    ['negative weight (APISIX upstream.t 15)', { nodes: { '127.0.0.1:80': -1 } }, field('nodes', NONE)],
    ['string weight (APISIX upstream.t 14)', { nodes: { '127.0.0.1:80': '1' } }, field('nodes', NONE)],
    ['fractional weight', { nodes: { '127.0.0.1:80': 1.5 } }, field('nodes', NONE)],
    ['bare IPv6 key', { nodes: { '::1:80': 1 } }, IPV6],
    ['bare IPv6 without port', { nodes: { '::1': 1 } }, IPV6],
    ['port 0', { nodes: { '127.0.0.1:0': 1 } }, 'invalid port 0'],
    ['port 65536', { nodes: { '127.0.0.1:65536': 1 } }, 'invalid port 65536'],
    ['port not a number', { nodes: { '127.0.0.1:abc': 1 } }, 'invalid port abc'],
    ['v6 port 0', { nodes: { '[::1]:0': 1 } }, 'invalid port 0'],
    ['no port', { nodes: { localhost: 1 } }, field('nodes', 'node "localhost" has no port (weir stream upstreams need host:port)')],
    ['empty port', { nodes: { '127.0.0.1:': 1 } }, field('nodes', 'node "127.0.0.1:" has no port (weir stream upstreams need host:port)')],
    ['bracketed v6 without port', { nodes: { '[::1]': 1 } }, field('nodes', 'node "[::1]" has no port (weir stream upstreams need host:port)')],
    ['host with space', { nodes: { 'a b:80': 1 } }, field('nodes', 'invalid host "a b" in node "a b:80": expected an IP address or a hostname')],
    ['short IPv4 host', { nodes: { '127.1:80': 1 } }, field('nodes', 'invalid host "127.1" in node "127.1:80": expected an IP address or a hostname')],
    ['bracketed IPv4', { nodes: { '[127.0.0.1]:80': 1 } }, field('nodes', 'invalid host "[127.0.0.1]" in node "[127.0.0.1]:80": expected an IP address or a hostname')],
    ['junk after bracket', { nodes: { '[::1]x80': 1 } }, field('nodes', 'invalid host "[::1]x80" in node "[::1]x80": expected an IP address or a hostname')],
    ['array item not object', { nodes: [5] }, field('nodes', NONE)],
    ['array item without host', { nodes: [{ port: 80, weight: 1 }] }, field('nodes', NONE)],
    ['array item without weight', { nodes: [{ host: 'a', port: 80 }] }, field('nodes', NONE)],
    ['array item without port', { nodes: [{ host: 'a', weight: 1 }] }, field('nodes[0]', 'property "port" is required (weir stream upstreams need a port)')],
    ['array port 0 (APISIX upstream-array-nodes.t 12)', node({ port: 0 }), field('nodes', NONE)],
    ['array port string', node({ port: '80' }), field('nodes', NONE)],
    ['array weight negative', node({ weight: -2 }), field('nodes', NONE)],
    ['array priority fraction', node({ priority: 0.5 }), field('nodes', NONE)],
    ['array metadata array', node({ metadata: [] }), field('nodes', NONE)],
    ['array host pattern (APISIX upstream-array-nodes.t 13)', node({ host: '127.#.%.1' }), field('nodes', NONE)],
    ['array node, bare IPv6 host (APISIX upstream.t 23)', { nodes: [{ host: '::1', port: 80, weight: 1 }] }, IPV6],
    ['bare IPv6 host is reported before any schema problem', { nodes: [{ host: '::1', port: 80, weight: 1 }], retries: -1 }, IPV6],
    ['array host bad IPv4', node({ host: '1.2.3.999' }), field('nodes[0].host', 'invalid host "1.2.3.999": expected an IP address or a hostname')],
    ['array host bad IPv6', node({ host: '[::g]' }), field('nodes[0].host', 'invalid host "[::g]": expected an IP address or a hostname')],
    ['second array item without port', { nodes: [{ host: 'a', port: 1, weight: 1 }, { host: 'b', weight: 1 }] },
      field('nodes[1]', 'property "port" is required (weir stream upstreams need a port)')],
  ]);
});

describe('upstream: balancer and timing', () => {
  runTable(validateUpstream, [
    ['unknown balancer (weir tightening)', with_({ type: 'foo' }), field('type', 'unknown balancer foo')],
    ['type number', with_({ type: 5 }), field('type', 'wrong type: expected string, got number')],
    ['hash_on unknown', with_({ hash_on: 'ip' }), field('hash_on', 'matches none of the enum values')],
    ['chash without key', with_({ type: 'chash' }), 'missing key'],
    ['chash header without key', with_({ type: 'chash', hash_on: 'header' }), 'missing key'],
    // APISIX checks the chash key against a schema of its own: no property in the message (upstream3.t 13, 20)
    ['chash vars key not allowed', with_({ type: 'chash', key: 'foo' }), `invalid configuration: failed to match pattern "${VARS_PAT}" with "foo"`],
    ['chash header key bad', with_({ type: 'chash', hash_on: 'header', key: 'a b' }), 'invalid configuration: failed to match pattern "^[a-zA-Z0-9-_]+$" with "a b"'],
    ['key number', with_({ key: 1 }), field('key', 'wrong type: expected string, got number')],
    ['retries negative', with_({ retries: -1 }), field('retries', 'expected -1 to be at least 0')],
    ['retries fraction', with_({ retries: 1.5 }), field('retries', 'wrong type: expected integer, got number')],
    ['retry_timeout negative', with_({ retry_timeout: -1 }), field('retry_timeout', 'expected -1 to be at least 0')],
    ['timeout not object', with_({ timeout: 5 }), field('timeout', 'wrong type: expected object, got number')],
    ['timeout missing read', with_({ timeout: { connect: 1, send: 1 } }), field('timeout', 'property "read" is required')],
    ['timeout connect 0', with_({ timeout: { connect: 0, send: 1, read: 1 } }), field('timeout.connect', 'expected 0 to be greater than 0')],
    ['timeout send string', with_({ timeout: { connect: 1, send: '1', read: 1 } }), field('timeout.send', 'wrong type: expected number, got string')],
    ['scheme unknown', with_({ scheme: 'ftp' }), field('scheme', 'matches none of the enum values')],
  ]);
});

describe('upstream: tls, checks, HTTP-only and discovery fields', () => {
  runTable(validateUpstream, [
    ['tls cert too short', with_({ tls: { client_cert: pem(10), client_key: pem(64) } }), field('tls.client_cert', 'string too short, expected at least 128, got 10')],
    ['tls key too short', with_({ tls: { client_cert: pem(128), client_key: pem(63) } }), field('tls.client_key', 'string too short, expected at least 64, got 63')],
    ['tls cert without key', with_({ tls: { client_cert: pem(128) } }),
      field('tls', 'failed to validate dependent schema for "client_cert": property "client_key" is required')],
    ['tls key without cert', with_({ tls: { client_key: pem(64) } }),
      field('tls', 'failed to validate dependent schema for "client_key": property "client_cert" is required')],
    ['tls id with cert', with_({ tls: { client_cert_id: '1', client_cert: pem(128), client_key: pem(64) } }),
      field('tls', 'failed to validate dependent schema for "client_cert_id": value wasn\'t supposed to match schema')],
    ['tls id with cert only', with_({ tls: { client_cert_id: '1', client_cert: pem(128) } }),
      field('tls', 'failed to validate dependent schema for "client_cert": property "client_key" is required')],
    ['tls verify string', with_({ tls: { verify: 'yes' } }), field('tls.verify', 'wrong type: expected boolean, got string')],
    ['tls cert id bad', with_({ tls: { client_cert_id: '*' } }), field('tls.client_cert_id', 'object matches none of the required')],
    ['checks without active', with_({ checks: {} }), field('checks', 'object matches none of the required: ["active"] or ["active","passive"]')],
    ['checks array', with_({ checks: [] }), field('checks', 'wrong type: expected object, got table')],
    ['checks active udp without its payload', with_({ checks: { active: { type: 'udp' } } }), field('checks.active', 'property "udp" is required when type is "udp"')],
    ['checks active port 0', with_({ checks: { active: { port: 0 } } }), field('checks.active.port', 'expected 0 to be at least 1')],
    ['checks passive healthy array', with_({ checks: { active: {}, passive: { healthy: [] } } }), field('checks.passive.healthy', 'wrong type: expected object, got table')],
    ['pass_host unknown', with_({ pass_host: 'x' }), field('pass_host', 'matches none of the enum values')],
    ['keepalive size 0', with_({ keepalive_pool: { size: 0 } }), field('keepalive_pool.size', 'expected 0 to be at least 1')],
    ['upstream_host bad', with_({ upstream_host: 'a b' }), field('upstream_host', `failed to match pattern ${HOST_PAT_Q} with "a b"`)],
    ['service discovery', { service_name: 'svc', discovery_type: 'dns' }, field('service_name', 'service discovery is not supported by weir')],
    ['discovery_type alone', with_({ discovery_type: 'dns' }), field('discovery_type', 'service discovery is not supported by weir')],
    ['discovery_args alone', with_({ discovery_args: {} }), field('discovery_args', 'service discovery is not supported by weir')],
    ['unknown field', with_({ foo: 1 }), 'invalid configuration: additional properties forbidden, found foo'],
    ['bad id', with_({ id: '*bad' }), field('id', 'object matches none of the required')],
    ['name empty', with_({ name: '' }), field('name', 'string too short, expected at least 1, got 0')],
    ['array body', [], 'invalid configuration: wrong type: expected object, got table'],
  ]);
});

describe('upstream: proxy_protocol (weir)', () => {
  const pp = (proxy_protocol: unknown) => with_({ proxy_protocol });
  runTable(validateUpstream, [
    ['v1', pp({ version: 1 }), null],
    ['v2, every named TLV and custom ones', pp({ version: 2, tlvs: ['authority', 'ssl', 'unique_id', 'netns', 'alpn', 'crc32c', { type: 0xe0, value: 'eu-1' }, { type: 0xef, value: '$route_id' }, { type: 0xe1, value: '$server_port' }] }), null],
    ['v2, empty tlvs', pp({ version: 2, tlvs: [] }), null],
    ['no version', pp({ tlvs: [] }), field('proxy_protocol', 'property "version" is required')],
    ['version 3', pp({ version: 3 }), field('proxy_protocol.version', 'matches none of the enum values')],
    ['version as text', pp({ version: '2' }), field('proxy_protocol.version', 'matches none of the enum values')],
    ['unknown key', pp({ version: 2, tvls: [] }), field('proxy_protocol', 'additional properties forbidden, found tvls')],
    ['tlvs not a list', pp({ version: 2, tlvs: 'authority' }), field('proxy_protocol.tlvs', 'wrong type: expected array, got string')],
    ['TLVs on v1', pp({ version: 1, tlvs: ['authority'] }), field('proxy_protocol.tlvs', 'TLVs need version 2')],
    ['unknown name', pp({ version: 2, tlvs: ['authority', 'sni'] }), field('proxy_protocol.tlvs[1]', '"sni" is none of authority, ssl, unique_id, netns, alpn, crc32c or a custom {type, value}')],
    ['a name twice', pp({ version: 2, tlvs: ['unique_id', 'unique_id'] }), field('proxy_protocol.tlvs[1]', '"unique_id" is listed twice')],
    ['custom type out of range', pp({ version: 2, tlvs: [{ type: 0xf0, value: 'x' }] }), field('proxy_protocol.tlvs[0]', 'type 0xF0 is not custom (0xE0-0xEF)')],
    ['custom type twice', pp({ version: 2, tlvs: [{ type: 0xe0, value: 'a' }, { type: 0xe0, value: 'b' }] }), field('proxy_protocol.tlvs[1]', 'type 0xE0 is listed twice')],
    ['unknown variable', pp({ version: 2, tlvs: [{ type: 0xe0, value: '$remote_addr' }] }), field('proxy_protocol.tlvs[0]', 'unknown variable $remote_addr; known: $route_id, $server_port')],
    ['value too long', pp({ version: 2, tlvs: [{ type: 0xe0, value: 'x'.repeat(256) }] }), field('proxy_protocol.tlvs[0]', 'value is 256 bytes, over 255')],
    ['value not text', pp({ version: 2, tlvs: [{ type: 0xe0, value: 7 }] }), field('proxy_protocol.tlvs[0]', 'value must be text or one of $route_id, $server_port')],
    ['custom without value', pp({ version: 2, tlvs: [{ type: 0xe0 }] }), field('proxy_protocol.tlvs[0]', 'property "value" is required')],
    ['custom with an extra key', pp({ version: 2, tlvs: [{ type: 0xe0, value: 'a', name: 'x' }] }), field('proxy_protocol.tlvs[0]', 'additional properties forbidden, found name')],
  ]);
});
