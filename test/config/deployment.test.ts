// deployment.role and deployment.etcd: traditional by default (no fleet settings), data_plane and control_plane
// with APISIX's keys and defaults, precise errors.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseError, parseOk } from './helpers';

const dp = (etcd: string, extra = ''): string =>
  `deployment:\n  role: data_plane\n  role_data_plane: {config_provider: etcd}\n  etcd: ${etcd}\n${extra}`;

describe('deployment.role', () => {
  it('is traditional without a role: no fleet settings, deployment.etcd reported as not used', () => {
    assert.equal(parseOk('apisix: {}\n').config.fleet, undefined);
    const { config, warnings } = parseOk('deployment:\n  role: traditional\n  etcd: {host: ["http://127.0.0.1:2379"]}\n');
    assert.equal(config.fleet, undefined);
    assert.deepEqual(warnings, ['not used by weir (ignored): deployment.etcd']);
  });

  it('reads a data plane with APISIX defaults (prefix /apisix, timeout 30 s, watch_timeout 50 s)', () => {
    assert.deepEqual(parseOk(dp('{host: ["http://127.0.0.1:2379/", "https://10.0.0.2:2379"]}')).config.fleet, {
      role: 'data_plane',
      endpoints: ['http://127.0.0.1:2379', 'https://10.0.0.2:2379'],
      prefix: '/apisix',
      timeoutMs: 30000,
      watchTimeoutMs: 50000,
      user: null,
      password: null,
      tls: { cert: null, key: null, verify: true, sni: null },
    });
  });

  it('reads every etcd key', () => {
    const etcd = '{host: ["https://e:2379"], prefix: /weir/, timeout: 5, watch_timeout: 10, user: dp, password: pw, tls: {cert: c.pem, key: k.pem, verify: false, sni: etcd.local}}';
    assert.deepEqual(parseOk(dp(etcd)).config.fleet, {
      role: 'data_plane',
      endpoints: ['https://e:2379'],
      prefix: '/weir',
      timeoutMs: 5000,
      watchTimeoutMs: 10000,
      user: 'dp',
      password: 'pw',
      tls: { cert: 'c.pem', key: 'k.pem', verify: false, sni: 'etcd.local' },
    });
  });

  it("reports APISIX's retry settings as not used (weir has its own backoff)", () => {
    assert.deepEqual(parseOk(dp('{host: ["http://e:2379"], startup_retry: 2, resync_delay: 5}')).warnings, [
      'not used by weir (ignored): deployment.etcd.startup_retry, deployment.etcd.resync_delay',
    ]);
  });

  it('control_plane, and traditional with config_provider etcd, write through etcd', () => {
    assert.equal(parseOk('deployment:\n  role: control_plane\n  etcd: {host: ["http://e:2379"]}\n').config.fleet?.role, 'control_plane');
    assert.equal(parseOk('deployment:\n  role: traditional\n  role_traditional: {config_provider: etcd}\n  etcd: {host: ["http://e:2379"]}\n').config.fleet?.role, 'control_plane');
  });

  const bad: Array<[string, string]> = [
    ['deployment:\n  role: edge\n', 'deployment.role: expected "traditional", "control_plane", "data_plane" or "standalone", got "edge"'],
    ['deployment:\n  role: standalone\n', 'deployment.role: standalone is not supported by weir (its SQLite file is the local store: use traditional)'],
    ['deployment:\n  role: data_plane\n  role_data_plane: {config_provider: yaml}\n', 'deployment.role_data_plane.config_provider: weir reads only etcd, got "yaml"'],
    ['deployment:\n  role: data_plane\n', 'deployment.etcd.host: role data_plane needs at least one etcd endpoint'],
    [dp('{host: ["127.0.0.1:2379"]}'), 'deployment.etcd.host[0]: expected http://host:port or https://host:port, got "127.0.0.1:2379"'],
    [dp('{host: ["http://e:2379"], prefix: apisix}'), 'deployment.etcd.prefix: expected a path starting with "/", got "apisix"'],
  ];
  for (const [yaml, message] of bad) {
    it(`refuses: ${message}`, () => assert.equal(parseError(yaml), message));
  }
});

describe('apisix.status', () => {
  it('is off unless configured; defaults to 127.0.0.1:7085', () => {
    assert.equal(parseOk('apisix: {}\n').config.statusListen, undefined);
    assert.deepEqual(parseOk('apisix:\n  status: {}\n').config.statusListen, { host: '127.0.0.1', port: 7085 });
    assert.deepEqual(parseOk('apisix:\n  status: {ip: "::1", port: 9999}\n').config.statusListen, { host: '::1', port: 9999 });
    assert.equal(parseError('apisix:\n  status: {ip: nope}\n'), 'apisix.status.ip: expected an IP address such as "127.0.0.1" (no brackets), got "nope"');
  });
});
