// The log client of the logger plugins: how a batch is cut into writes by flush_limit (resty.logger.socket's
// buffer), and a batch cut into several writes arriving whole, in order, at a real TCP collector on loopback.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createLogClient, splitWrites } from '../../src/runtime/log-client';
import { startServer, type TestServer } from '../helpers/net';
import { until } from '../helpers/udp';

describe('splitWrites (flush_limit)', () => {
  const table: Array<[string, string[], number | undefined, string[]]> = [
    ['one line is one write', ['abc'], 2, ['abc\n']],
    ['no limit: the batch is one write', ['a', 'b', 'c'], undefined, ['a\nb\nc\n']],
    // "aaa\n" reaches 4: written; "bb\n" + "c\n" is 5 >= 4: written
    ['a write ends with the line that reaches the limit', ['aaa', 'bb', 'c'], 4, ['aaa\n', 'bb\nc\n']],
    ['below the limit: one write', ['a', 'b'], 100, ['a\nb\n']],
    ['flush_limit 1: one write per line', ['a', 'b', 'c'], 1, ['a\n', 'b\n', 'c\n']],
  ];
  for (const [name, lines, limit, want] of table) {
    it(name, () => assert.deepEqual(splitWrites(lines, limit), want));
  }
});

describe('TCP log client with flush_limit', () => {
  let server: TestServer;
  let received = '';
  before(async () => {
    server = await startServer((s) => s.on('data', (d) => void (received += d)));
  });
  after(async () => server?.close());

  it('a batch of 200 lines in writes of about 1 KiB arrives whole and in order', async () => {
    const client = createLogClient({ host: '127.0.0.1', port: server.port, sockType: 'tcp', tls: false, timeoutMs: 3000, flushLimit: 1024 });
    const lines = Array.from({ length: 200 }, (_, i) => `line ${i} ${'x'.repeat(i % 50)}`);
    await client.send(lines);
    await until(() => received.split('\n').length === 201);
    assert.equal(received, `${lines.join('\n')}\n`);
    client.close();
  });
});
