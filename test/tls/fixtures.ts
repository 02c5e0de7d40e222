// The committed TLS test fixtures (test/fixtures/tls, made by make.sh there), read once.

import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import tls from 'node:tls';

const dir = join(import.meta.dirname, '..', 'fixtures', 'tls');

export function fixture(name: string): string {
  return readFileSync(join(dir, name), 'utf8');
}

export const pem = {
  ca: fixture('ca.crt'),
  a: { cert: fixture('a.test.com.crt'), key: fixture('a.test.com.key') },
  a2: { cert: fixture('a2.test.com.crt'), key: fixture('a2.test.com.key') },
  wild: { cert: fixture('wild.crt'), key: fixture('wild.key') },
  wildEc: { cert: fixture('wild-ec.crt'), key: fixture('wild-ec.key') },
  client: { cert: fixture('client.crt'), key: fixture('client.key') },
  badClient: { cert: fixture('bad-client.crt'), key: fixture('bad-client.key') },
};

/** A line from the middle of a PEM body: present in any file that holds the PEM in clear. */
export function pemBodyLine(text: string): string {
  const body = text.split('\n').filter((l) => l.length > 0 && !l.startsWith('-----'));
  return body[1]!;
}

export interface TlsEcho {
  port: number;
  close(): Promise<void>;
}

/** A TLS upstream (cert a2.test.com, O=second) answering "hello <sni>\n", then echoing; optional mTLS. */
export async function startTlsEcho(requireClientCert = false): Promise<TlsEcho> {
  const sockets = new Set<tls.TLSSocket>();
  const srv = tls.createServer(
    { ...pem.a2, ...(requireClientCert ? { ca: pem.ca, requestCert: true, rejectUnauthorized: true } : {}) },
    (s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
      s.write(`hello ${s.servername || '-'}\n`);
      s.pipe(s);
    },
  );
  srv.on('tlsClientError', () => {});
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    port: (srv.address() as AddressInfo).port,
    close: () => new Promise<void>((r) => {
      for (const sock of sockets) sock.destroy();
      srv.close(() => r());
    }),
  };
}
