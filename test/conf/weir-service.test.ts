// conf/weir.service: `systemd-analyze verify` accepts it (when systemd's tools are installed), and it keeps what
// the README promises: SIGHUP on reload, the pid file weir writes, a descriptor limit, hardening, low ports.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hasCommand } from '../helpers/servers';
import { tempDir } from '../helpers/weir';

const unit = readFileSync('conf/weir.service', 'utf8');

/** The unit's `Key=value` settings (comments and sections left out). */
function settings(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (m) out.set(m[1]!, m[2]!);
  }
  return out;
}

describe('conf/weir.service', () => {
  it('passes systemd-analyze verify', { skip: !hasCommand('systemd-analyze') && 'systemd-analyze is not installed' }, () => {
    // verify checks that ExecStart's binary exists: point it at one that does, in a copy
    const dir = tempDir('weir-unit-');
    try {
      const copy = join(dir.path, 'weir.service');
      writeFileSync(copy, unit.replace(/\/usr\/local\/bin\/weir/g, '/bin/true'));
      const out = execFileSync('systemd-analyze', ['verify', copy], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      assert.equal(out, '');
    } finally {
      dir.remove();
    }
  });

  it('reloads with SIGHUP, follows weir.pid across upgrades, and sets limits and hardening', () => {
    const s = settings(unit);
    const expected: Record<string, string> = {
      Type: 'simple',
      ExecStart: '/usr/local/bin/weir start -c /etc/weir/config.yaml',
      ExecReload: '/bin/kill -HUP $MAINPID',
      PIDFile: '/var/lib/weir/weir.pid',
      LimitNOFILE: '1048576',
      NoNewPrivileges: 'true',
      ProtectSystem: 'strict',
      AmbientCapabilities: 'CAP_NET_BIND_SERVICE',
      StateDirectory: 'weir',
    };
    for (const [key, value] of Object.entries(expected)) assert.equal(s.get(key), value, key);
    assert.equal(s.has('MemoryDenyWriteExecute'), false, 'the JIT needs writable code pages');
  });
});
