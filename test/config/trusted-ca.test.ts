// apisix.ssl.ssl_trusted_certificate -> the CA bundle for upstream tls.verify.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { ConfigError } from '../../src/config/types';
import { loadTrustedCa } from '../../src/config/trusted-ca';
import { tempDir } from '../helpers/weir';
import { pem } from '../tls/fixtures';

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  assert.fail('expected a ConfigError');
}

describe('loadTrustedCa', () => {
  const dir = tempDir();
  before(() => {
    writeFileSync(join(dir.path, 'ca.pem'), pem.ca);
    writeFileSync(join(dir.path, 'junk.pem'), 'not a certificate\n');
  });
  after(() => dir.remove());

  it('unset or "system" means the runtime roots (null)', () => {
    assert.equal(loadTrustedCa(undefined, dir.path), null);
    assert.equal(loadTrustedCa('system', dir.path), null);
  });

  it('a file alone trusts only that file; "system, file" adds the roots', () => {
    assert.equal(loadTrustedCa('ca.pem', dir.path), `${pem.ca.trim()}\n`);
    const both = loadTrustedCa('system, ca.pem', dir.path)!;
    assert.ok(both.startsWith(rootCertificates[0]!));
    assert.ok(both.endsWith(`${pem.ca.trim()}\n`));
  });

  it('a missing file or a PEM that does not parse is a config error naming the key', () => {
    assert.match(configError(() => loadTrustedCa('nope.pem', dir.path)), /^apisix\.ssl\.ssl_trusted_certificate: cannot read ".*nope\.pem": ENOENT$/);
    assert.equal(
      configError(() => loadTrustedCa('junk.pem', dir.path)),
      'apisix.ssl.ssl_trusted_certificate: invalid CA file "junk.pem": no PEM certificate found',
    );
  });
});
