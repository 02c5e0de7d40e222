// Stream variables and resolve_var templates (limit-conn's var_combination keys).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compileTemplate, compileVar } from '../../src/plugins/vars';
import { testConn } from './conn';

const route = { routeId: '7', serviceId: undefined };

describe('compileVar', () => {
  const c = testConn({ remoteAddr: '::1', remotePort: 5, serverAddr: '::1', serverPort: 9200, protocol: 'udp', sni: null });
  const rows: Array<[string, string | undefined]> = [
    ['remote_addr', '::1'], ['remote_port', '5'], ['server_addr', '::1'], ['server_port', '9200'], ['protocol', 'UDP'],
    ['server_name', undefined], ['ssl_server_name', undefined], ['route_id', '7'], ['service_id', undefined],
    ['proxy_protocol_addr', undefined], ['uri', undefined],
  ];
  for (const [name, want] of rows) it(name, () => assert.equal(compileVar(name, route)(c), want));
});

describe('compileTemplate', () => {
  const c = testConn({ remoteAddr: '10.0.0.1', serverAddr: '10.0.0.2', remotePort: 1234 });
  const rows: Array<[string, string, number]> = [
    ['$remote_addr $server_addr', '10.0.0.1 10.0.0.2', 2],
    ['${remote_addr}:${ remote_port }', '10.0.0.1:1234', 2],
    ['$proxy_protocol_addr $proxy_protocol_port', ' ', 0],
    ['${proxy_protocol_addr ?? none}-$remote_port', 'none-1234', 2],
    ['plain text', 'plain text', 0],
    ['\\$remote_addr kept', '\\$remote_addr kept', 0],
    // APISIX's pattern takes dots into a name: "remote_addr." is no variable
    ['$remote_addr.$route_id', '7', 1],
  ];
  for (const [tpl, text, resolved] of rows) {
    it(tpl, () => assert.deepEqual(compileTemplate(tpl, route).resolve(c), { text, resolved }));
  }
});
