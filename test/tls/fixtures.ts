// The committed TLS test fixtures (test/fixtures/tls, made by make.sh there), read once.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';

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
