// Reading explain's question: required fields, defaults taken from the listener, addresses as the runtime reports them.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseExplainInput } from '../../src/inspect/explain';
import type { ListenerView } from '../../src/inspect/listeners';

const listeners: ListenerView[] = [
  { protocol: 'tcp', host: '10.9.9.9', port: 9100, tls: null, origin: 'a' },
  { protocol: 'tcp', host: '0.0.0.0', port: 9200, tls: null, origin: 'b' },
];

describe('parseExplainInput', () => {
  it('takes server_addr from a listener bound to one address, else loopback', () => {
    assert.deepEqual(parseExplainInput({ remote_addr: '10.0.0.7', server_port: '9100' }, listeners), {
      protocol: 'tcp', remoteAddr: '10.0.0.7', remotePort: 0, serverAddr: '10.9.9.9', serverPort: 9100, sni: null,
    });
    assert.equal((parseExplainInput({ remote_addr: '10.0.0.7', server_port: '9200' }, listeners) as { serverAddr: string }).serverAddr, '127.0.0.1');
  });

  it('unwraps IPv4-mapped addresses in either spelling and normalises the SNI', () => {
    const info = parseExplainInput({ remote_addr: '::ffff:a00:7', server_addr: '::ffff:127.0.0.1', server_port: '9100', remote_port: '5000', sni: 'A.Test.COM.' }, listeners);
    assert.deepEqual(info, { protocol: 'tcp', remoteAddr: '10.0.0.7', remotePort: 5000, serverAddr: '127.0.0.1', serverPort: 9100, sni: 'a.test.com' });
  });

  it('names what is wrong', () => {
    assert.equal(parseExplainInput({ remote_addr: '10.0.0.7', server_port: '9100', remote_port: '70000' }, listeners), 'invalid remote_port: 70000');
    assert.equal(parseExplainInput({ remote_addr: '10.0.0.7', server_port: '9100', server_addr: 'localhost' }, listeners), 'invalid server_addr: localhost');
  });
});
