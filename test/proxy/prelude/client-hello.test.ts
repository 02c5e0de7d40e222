// ClientHello parser: real ClientHellos captured from node:tls, split at every byte, plus hostile input.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { parseClientHello } from '../../../src/proxy/prelude/client-hello';

/** The first bytes node:tls sends for `servername` (captured by a TCP server that never answers). */
async function captureHello(servername: string | undefined): Promise<Buffer> {
  let sock: tls.TLSSocket | undefined;
  const bytes = await new Promise<Buffer>((resolve) => {
    const srv = net.createServer((s) => {
      s.once('data', (d) => {
        resolve(d);
        s.destroy();
        srv.close();
      });
    });
    srv.listen(0, '127.0.0.1', () => {
      sock = tls.connect({ port: (srv.address() as net.AddressInfo).port, host: '127.0.0.1', servername, rejectUnauthorized: false });
      sock.on('error', () => {});
    });
  });
  sock?.destroy();
  return bytes;
}

describe('parseClientHello', () => {
  let withSni: Buffer;
  let withoutSni: Buffer;
  before(async () => {
    withSni = await captureHello('A.Test.com');
    withoutSni = await captureHello(undefined);
  });
  after(() => {});

  it('finds the SNI as sent, and null when the client sends none', () => {
    assert.deepEqual(parseClientHello(withSni), { kind: 'hello', sni: 'A.Test.com' });
    assert.deepEqual(parseClientHello(withoutSni), { kind: 'hello', sni: null });
  });

  it('asks for more at every split point, then decides', () => {
    for (let n = 0; n < withSni.length; n++) {
      assert.deepEqual(parseClientHello(withSni.subarray(0, n)), { kind: 'need-more' }, `at ${n} bytes`);
    }
  });

  it('reassembles a ClientHello split over two TLS records', () => {
    const body = withSni.subarray(5);
    const rec = (part: Buffer) => Buffer.concat([Buffer.from([0x16, 0x03, 0x01, part.length >> 8, part.length & 0xff]), part]);
    const two = Buffer.concat([rec(body.subarray(0, 50)), rec(body.subarray(50))]);
    assert.deepEqual(parseClientHello(two), { kind: 'hello', sni: 'A.Test.com' });
    assert.deepEqual(parseClientHello(two.subarray(0, 57)), { kind: 'need-more' });
  });

  it('says not-tls with a reason for other protocols and broken input', () => {
    assert.deepEqual(parseClientHello(Buffer.from('GET / HTTP/1.1\r\n')), { kind: 'not-tls', reason: 'first byte 0x47 is not a TLS handshake record' });
    assert.equal(parseClientHello(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x00])).kind, 'not-tls');
    assert.equal(parseClientHello(Buffer.from([0x16, 0x02, 0x00, 0x00, 0x05])).kind, 'not-tls');
    const wrongType = Buffer.from(withSni);
    wrongType[5] = 0x02; // ServerHello
    assert.deepEqual(parseClientHello(wrongType), { kind: 'not-tls', reason: 'handshake type 2 is not ClientHello' });
    // an extension length that overruns the message
    const broken = Buffer.from(withSni);
    const extLenAt = 5 + 4 + 2 + 32 + 1 + broken[5 + 4 + 2 + 32]!;
    const afterCiphers = extLenAt + 2 + broken.readUInt16BE(extLenAt);
    const afterComp = afterCiphers + 1 + broken[afterCiphers]!;
    broken.writeUInt16BE(0xffff, afterComp);
    assert.deepEqual(parseClientHello(broken), { kind: 'not-tls', reason: 'extensions overrun the ClientHello' });
  });

  it('never throws on random bytes that start like a handshake record', () => {
    let seed = 7;
    const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff;
    for (let i = 0; i < 2000; i++) {
      const buf = Buffer.from(withSni);
      for (let j = 0; j < 4; j++) buf[5 + (rnd() * 7) % (buf.length - 5)] = rnd();
      const r = parseClientHello(buf);
      assert.ok(['hello', 'not-tls', 'need-more'].includes(r.kind));
    }
  });
});
