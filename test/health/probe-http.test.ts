// The HTTP side of a probe, pure: the request bytes, Host and SNI choice, the status line, what a status counts as.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compileHealthChecks } from '../../src/health/config';
import { buildProbeRequest, classifyStatus, httpOutcome, probeHostHeader, probeServerName, readStatus } from '../../src/health/probe-http';
import type { UpstreamNode } from '../../src/snapshot/types';

const active = (a: Record<string, unknown>) => compileHealthChecks({ active: a })!.active;
const node = (host: string, name?: string): UpstreamNode => ({ host, port: 5432, weight: 1, priority: 0, address: `${host}:5432`, ...(name ? { name } : {}) });
const bytes = (text: string) => new TextEncoder().encode(text);

describe('probe request', () => {
  it("lua-resty-healthcheck's request: method, path, Connection: close, headers, Host last", () => {
    assert.equal(
      buildProbeRequest(active({ http_path: '/primary', req_headers: ['User-Agent: weir', 'X-A: 1'] }), node('10.0.0.1')),
      'GET /primary HTTP/1.1\r\nConnection: close\r\nUser-Agent: weir\r\nX-A: 1\r\nHost: 10.0.0.1\r\n\r\n',
    );
  });

  it('a body gets its byte length', () => {
    assert.equal(
      buildProbeRequest(active({ http_method: 'POST', http_req_body: 'é' }), node('10.0.0.1')),
      'POST / HTTP/1.1\r\nConnection: close\r\nHost: 10.0.0.1\r\nContent-Length: 2\r\n\r\né',
    );
  });

  it('Host and SNI: checks.active.host, else the DNS name the node came from, else its address (no SNI for an IP)', () => {
    const table: Array<[Record<string, unknown>, UpstreamNode, string, string]> = [
      [{ host: 'db.example.test' }, node('10.0.0.1', 'other.test'), 'db.example.test', 'db.example.test'],
      [{}, node('10.0.0.1', 'pg.example.test'), 'pg.example.test', 'pg.example.test'],
      [{}, node('10.0.0.1'), '10.0.0.1', ''],
      [{}, node('::1'), '[::1]', ''],
      [{}, node('localhost'), 'localhost', 'localhost'],
    ];
    assert.deepEqual(
      table.map(([a, n]) => [probeHostHeader(active(a), n), probeServerName(active(a), n)]),
      table.map(([, , host, sni]) => [host, sni]),
    );
  });
});

describe('probe answer', () => {
  it('reads the status of the first line once it is complete; a first line that is no status line is 0', () => {
    assert.deepEqual(
      ['HTTP/1.1 200 OK\r\n', 'HTTP/1.0 503', 'http/1.1 302 Found\n', 'HTTP/2.0 404 x\r\n', 'SSH-2.0-OpenSSH\r\n', 'HTTP/1.1 abc\r\n', ''].map((t) => readStatus(bytes(t))),
      [200, undefined, 302, 404, 0, 0, undefined],
    );
  });

  it("counts a status as APISIX's lists say (defaults: healthy 200, 302; unhealthy 429, 404, 5xx)", () => {
    const a = active({});
    assert.deepEqual([200, 302, 404, 429, 500, 503, 505, 301, 401, 0].map((s) => classifyStatus(a, s)), [
      'success', 'success', 'http_failure', 'http_failure', 'http_failure', 'http_failure', 'http_failure', 'ignored', 'ignored', 'http_failure',
    ]);
    const b = active({ healthy: { http_statuses: [200] }, unhealthy: { http_statuses: [503] } });
    assert.deepEqual([200, 302, 503, 404].map((s) => classifyStatus(b, s)), ['success', 'ignored', 'http_failure', 'ignored']);
  });

  it('what an exchange state means without a whole status line', () => {
    const a = active({});
    const partial = bytes('HTTP/1.1 20');
    assert.deepEqual(
      (['data', 'full', 'eof', 'error', 'timeout'] as const).map((state) => httpOutcome(a, partial, state)),
      [undefined, 'http_failure', 'tcp_failure', 'tcp_failure', 'timeout'],
    );
    assert.equal(httpOutcome(a, bytes('HTTP/1.1 200 OK\r\n'), 'eof'), 'success', 'a whole status line counts whatever came after');
  });
});
