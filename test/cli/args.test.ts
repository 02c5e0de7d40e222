// Command-line parsing: every command's shape and the usage errors (exit code 2).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseCommandLine, UsageError } from '../../src/cli/args';

const none = { config: null, db: null };

describe('parseCommandLine', () => {
  it('parses each command', () => {
    assert.deepEqual(parseCommandLine([]), { name: 'start', ...none });
    assert.deepEqual(parseCommandLine(['-v']), { name: 'version' });
    assert.deepEqual(parseCommandLine(['help']), { name: 'help' });
    assert.deepEqual(parseCommandLine(['start', '-c', 'a.yaml', '--db', 'x.db']), { name: 'start', config: 'a.yaml', db: 'x.db' });
    assert.deepEqual(parseCommandLine(['upstreams', 'list']), {
      name: 'object', res: 'upstreams', verb: 'list', id: undefined, body: undefined, force: false, dryRun: false, ...none,
    });
    assert.deepEqual(parseCommandLine(['ssls', 'get', '7']), {
      name: 'object', res: 'ssls', verb: 'get', id: '7', body: undefined, force: false, dryRun: false, ...none,
    });
    assert.deepEqual(parseCommandLine(['stream_routes', 'put', '1', '{"a":1}']), {
      name: 'object', res: 'stream_routes', verb: 'put', id: '1', body: '{"a":1}', force: false, dryRun: false, ...none,
    });
    // One argument that looks like a body: the id comes from the body.
    assert.equal((parseCommandLine(['stream_routes', 'put', '@r.json']) as { id?: string }).id, undefined);
    assert.equal((parseCommandLine(['upstreams', 'put', '-']) as { body?: string }).body, '-');
    assert.equal(parseCommandLine(['upstreams', 'delete', 'u', '--force']).name, 'object');
    assert.deepEqual(parseCommandLine(['import', 'f.yaml', '--dry-run']), {
      name: 'import', file: 'f.yaml', dryRun: true, merge: false, force: false, ...none,
    });
    assert.deepEqual(parseCommandLine(['check', '-c', 'c.yaml']), { name: 'check', config: 'c.yaml', db: null });
    assert.equal((parseCommandLine(['upstreams', 'delete', 'u', '--force', '--dry-run']) as { dryRun?: boolean }).dryRun, true);
    assert.deepEqual(parseCommandLine(['explain', '--server-port', '9100', '--remote-addr', '10.0.0.7', '--sni', 'a.test.com', '--proxy-peer', '10.0.0.5:4000']), {
      name: 'explain',
      conn: { remote_addr: '10.0.0.7', remote_port: null, server_addr: null, server_port: '9100', sni: 'a.test.com', protocol: null, proxy_peer: '10.0.0.5:4000' },
      ...none,
    });
  });

  const bad: Array<[string[], RegExp]> = [
    [['frob'], /^unknown command "frob"/],
    [['upstreams'], /^upstreams: missing action/],
    [['upstreams', 'patch', '1'], /^upstreams: unknown action "patch"/],
    [['upstreams', 'get'], /^upstreams get: missing ID/],
    [['upstreams', 'put', '1'], /^upstreams put 1: missing JSON body/],
    [['upstreams', 'list', 'extra'], /^unexpected argument "extra"/],
    [['upstreams', 'list', '--force'], /^--force does not apply to "upstreams list"/],
    [['export', '--dry-run'], /^--dry-run does not apply to "export"/],
    [['upstreams', 'get', '1', '--dry-run'], /^--dry-run does not apply to "upstreams get"/],
    [['check', '--sni', 'a.test.com'], /^--sni does not apply to "check"/],
    [['explain', 'extra'], /^unexpected argument "extra"/],
    [['import'], /^import: missing FILE/],
    [['start', '--db', ''], /^--db needs a file name/],
    [['--nope'], /Unknown option '--nope'/],
  ];
  for (const [argv, message] of bad) {
    it(`refuses: weir ${argv.join(' ')}`, () => {
      assert.throws(() => parseCommandLine(argv), (err) => err instanceof UsageError && message.test(err.message) && err.exitCode === 2);
    });
  }
});
