// What a reload changes: live settings by key, settings kept at their old value (with both values), and the
// config the process runs with afterwards.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { diffConfig } from '../../src/control/config-diff';
import { parseOk } from '../config/helpers';

const base = `apisix:
  stream_proxy:
    tcp: ["127.0.0.1:9100"]
deployment:
  admin:
    admin_key: [{name: a, key: k1234567890abcdef, role: admin}]
    admin_listen: {ip: 127.0.0.1, port: 9180}
  sqlite: {path: data/weir.db}
nginx_config:
  worker_shutdown_timeout: 10s
`;

describe('diffConfig', () => {
  it('the same config changes nothing', () => {
    const a = parseOk(base).config;
    assert.deepEqual(diffConfig(a, parseOk(base).config), { live: [], kept: [], effective: parseOk(base).config });
  });

  it('listeners, timeouts, log settings, keyring and admin keys change live', () => {
    const next = base
      .replace('tcp: ["127.0.0.1:9100"]', 'tcp: ["127.0.0.1:9100", "127.0.0.1:9101"]\n  data_encryption: {keyring: [abcdefghijklmnop]}')
      .replace('k1234567890abcdef', 'k2234567890abcdef')
      .replace('worker_shutdown_timeout: 10s', 'worker_shutdown_timeout: 20s\n  stream: {enable_access_log: false, proxy_responses: 1, preread_timeout: 5s}');
    const d = diffConfig(parseOk(base).config, parseOk(next).config);
    assert.deepEqual(d.live, [
      'apisix.stream_proxy (listeners)',
      'nginx_config.worker_shutdown_timeout',
      'nginx_config.stream.enable_access_log / access_log',
      'nginx_config.stream.udp_max_sessions / proxy_responses',
      'nginx_config.stream.preread_timeout / ssl_handshake_timeout',
      'apisix.data_encryption (keyring)',
      'deployment.admin.admin_key',
    ]);
    assert.deepEqual(d.kept, []);
    assert.equal(d.effective.shutdownGraceMs, 20_000);
  });

  it('the admin listen address, database path and worker count keep their old values, and say so', () => {
    const next = base.replace('port: 9180', 'port: 9181').replace('data/weir.db', 'other.db').replace('worker_shutdown_timeout: 10s', 'worker_processes: 2');
    const old = parseOk(base).config;
    const d = diffConfig(old, parseOk(next).config);
    assert.deepEqual(d.kept, [
      'deployment.admin.admin_listen: 127.0.0.1:9181 needs a restart or `weir upgrade`; still 127.0.0.1:9180',
      'deployment.sqlite.path: other.db needs a restart or `weir upgrade`; still data/weir.db',
      'nginx_config.worker_processes: 2 needs a restart or `weir upgrade`; still 1',
    ]);
    assert.deepEqual(d.live, ['nginx_config.worker_shutdown_timeout']);
    assert.deepEqual(d.effective.admin.listen, old.admin.listen);
    assert.equal(d.effective.sqlite.path, 'data/weir.db');
    assert.equal(d.effective.workerProcesses, undefined);
  });

  it('the host connection cap and real_ip_from are read at start: kept, and said so', () => {
    const next = base.replace('tcp: ["127.0.0.1:9100"]', 'tcp: ["127.0.0.1:9100"]\n    max_connections: 500').replace('worker_shutdown_timeout: 10s', 'worker_shutdown_timeout: 10s\n  stream: {real_ip_from: [10.0.0.0/8]}');
    const d = diffConfig(parseOk(base).config, parseOk(next).config);
    assert.deepEqual(d.kept, [
      'apisix.stream_proxy.max_connections: 500 needs a restart or `weir upgrade`; still default',
      'nginx_config.stream.real_ip_from: 10.0.0.0/8 needs a restart or `weir upgrade`; still any peer',
    ]);
    assert.deepEqual(d.live, []);
    assert.equal(d.effective.maxConnections, undefined);
    assert.equal(d.effective.realIpFrom, undefined);
  });
});

describe('diffConfig: UDP session settings', () => {
  const udp = (stream: string): string => base.replace('worker_shutdown_timeout: 10s', `worker_shutdown_timeout: 10s\n  stream: {${stream}}`);

  it('the limits on new sessions change live, on their own key; the table cap and proxy_responses on theirs', () => {
    const old = parseOk(udp('udp_max_sessions_per_source: 10, udp_session_rate: 100')).config;
    let d = diffConfig(old, parseOk(udp('udp_max_sessions_per_source: 2, udp_session_rate: 50, udp_session_burst: 5')).config);
    assert.deepEqual(d.live, ['nginx_config.stream.udp_max_sessions_per_source / udp_session_rate / udp_session_burst']);
    assert.deepEqual(d.kept, []);
    assert.deepEqual(d.effective.udp.admission, { maxPerSource: 2, rate: 50, burst: 5 });
    d = diffConfig(old, parseOk(udp('udp_max_sessions_per_source: 10, udp_session_rate: 100, udp_max_sessions: 50')).config);
    assert.deepEqual(d.live, ['nginx_config.stream.udp_max_sessions / proxy_responses']);
    assert.equal(d.effective.udp.maxSessions, 50);
  });

  it('udp_rcvbuf is asked for at bind with the data plane made at start: kept, and said so', () => {
    const d = diffConfig(parseOk(base).config, parseOk(udp('udp_rcvbuf: 1m')).config);
    assert.deepEqual(d.kept, ['nginx_config.stream.udp_rcvbuf: 1048576 needs a restart or `weir upgrade`; still 4194304']);
    assert.deepEqual(d.live, []);
    assert.equal(d.effective.udp.rcvbuf, 4 * 1024 * 1024);
  });
});
