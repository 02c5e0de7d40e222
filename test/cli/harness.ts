// Runs the CLI in-process with captured output, against a config that points at a temp SQLite file.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../../src/cli/run';

export interface CliRun {
  code: number | null;
  out: string;
  err: string;
}

/** A temp dir with config.yaml whose deployment.sqlite.path is <dir>/weir.db (admin port 0: never started). */
export function writeCliConfig(dir: string): { configPath: string; dbPath: string } {
  const dbPath = join(dir, 'weir.db');
  const configPath = join(dir, 'config.yaml');
  writeFileSync(
    configPath,
    ['deployment:', '  admin:', '    admin_key:', '      - { name: admin, key: k0123456789abcdef, role: admin }',
      '  sqlite:', `    path: ${JSON.stringify(dbPath)}`, ''].join('\n'),
  );
  return { configPath, dbPath };
}

/** Run `weir ...argv` in this process; stdin is `stdin` when a `-` argument asks for it. */
export async function cli(argv: string[], stdin = ''): Promise<CliRun> {
  let out = '';
  let err = '';
  const code = await runCli(
    argv,
    {
      out: (t) => void (out += t),
      err: (t) => void (err += t),
      readStdin: async () => stdin,
      env: {},
    },
    { signals: false },
  );
  return { code, out, err };
}
