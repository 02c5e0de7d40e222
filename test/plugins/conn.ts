// A FilterConn for plugin tests: plain fields, and what the filters set kept where a test can read it.

import type { ConnThrottle, FilterConn } from '../../src/proxy/filter/types';
import type { CompiledRoute, CompiledUpstream, ConnInfo } from '../../src/snapshot/types';
import { NO_FILTERS } from '../../src/proxy/filter/types';

export interface TestConn extends FilterConn {
  aborted: boolean;
  vars: Map<string, string>;
  upstream: CompiledUpstream | null;
  throttle: ConnThrottle | null;
  state: Record<string, unknown>;
}

export const TEST_ROUTE: CompiledRoute = { id: '1', key: '/apisix/stream_routes/1', upstream: null, problem: null, filters: NO_FILTERS };

export function testConn(info: Partial<ConnInfo> = {}, route: CompiledRoute = TEST_ROUTE): TestConn {
  const full: ConnInfo = { protocol: 'tcp', remoteAddr: '127.0.0.1', remotePort: 40000, serverAddr: '127.0.0.1', serverPort: 9100, sni: null, ...info };
  const conn: TestConn = {
    info: full,
    route,
    aborted: false,
    vars: new Map(),
    upstream: null,
    throttle: null,
    state: {},
    getVar: (name) => conn.vars.get(name),
    setVar: (name, value) => void conn.vars.set(name, value),
    setUpstream: (up) => void (conn.upstream = up),
    setThrottle: (t) => void (conn.throttle = t),
    getState: (f) => conn.state[f],
    setState: (f, v) => void (conn.state[f] = v),
  };
  return conn;
}
