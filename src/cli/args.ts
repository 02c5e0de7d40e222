// Command-line parsing for every weir command (pure: argv in, a Command or a UsageError out).

import { parseArgs } from 'node:util';
import { RESOURCES, type Resource } from '../store/types';

/** Bad arguments: exit code 2, the message is printed after "weir: ". */
export class UsageError extends Error {
  readonly exitCode = 2;
}

export type ObjectVerb = 'list' | 'get' | 'put' | 'delete';

export interface Common {
  /** -c/--config; null = conf/config.yaml in the working directory, else the built-in default. */
  config: string | null;
  /** --db FILE overrides deployment.sqlite.path. */
  db: string | null;
}

export type Command =
  | { name: 'help' }
  | { name: 'version' }
  | ({ name: 'start' } & Common)
  | ({ name: 'object'; res: Resource; verb: ObjectVerb; id: string | undefined; body: string | undefined; force: boolean; dryRun: boolean } & Common)
  | ({ name: 'explain'; conn: ExplainArgs } & Common)
  | ({ name: 'export' } & Common)
  | ({ name: 'import'; file: string; dryRun: boolean; merge: boolean; force: boolean } & Common)
  | ({ name: 'migrate' } & Common)
  | ({ name: 'check' } & Common)
  | ({ name: 'reload' } & Common)
  | ({ name: 'upgrade' } & Common);

/** `weir explain`'s connection, as given (checked by src/inspect/explain.ts like the Admin API's query). */
export interface ExplainArgs {
  remote_addr: string | null;
  remote_port: string | null;
  server_addr: string | null;
  server_port: string | null;
  sni: string | null;
  protocol: string | null;
  proxy_peer: string | null;
}

const EXPLAIN_FLAGS = ['remote-addr', 'remote-port', 'server-addr', 'server-port', 'sni', 'protocol', 'proxy-peer'] as const;

const VERBS: readonly ObjectVerb[] = ['list', 'get', 'put', 'delete'];

/** Which flags each command accepts beyond -c/--db (anything else is a usage error, not silently ignored). */
const FLAGS: Record<string, readonly string[]> = {
  start: [],
  export: [],
  import: ['dry-run', 'merge', 'force'],
  migrate: [],
  check: [],
  explain: [...EXPLAIN_FLAGS],
  object: ['dry-run'],
  // put's --force: write on a fleet data plane anyway (src/cli/fleet-guard.ts)
  put: ['force', 'dry-run'],
  reload: [],
  upgrade: [],
  delete: ['force', 'dry-run'],
};

/** A body argument is inline JSON, @file or "-" (stdin); anything else in that position is an id. */
export function looksLikeBody(arg: string): boolean {
  const t = arg.trimStart();
  return t.startsWith('{') || t.startsWith('[') || arg.startsWith('@') || arg === '-';
}

function noMore(rest: string[]): void {
  if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`);
}

function objectCommand(res: Resource, args: string[]): { verb: ObjectVerb; id: string | undefined; body: string | undefined } {
  const [verb, ...rest] = args;
  if (verb === undefined) throw new UsageError(`${res}: missing action (list, get, put or delete)`);
  if (!(VERBS as readonly string[]).includes(verb)) {
    throw new UsageError(`${res}: unknown action "${verb}" (list, get, put or delete)`);
  }
  const v = verb as ObjectVerb;
  if (v === 'list') {
    noMore(rest);
    return { verb: v, id: undefined, body: undefined };
  }
  if (v === 'get' || v === 'delete') {
    const [id, ...more] = rest;
    if (id === undefined || id === '') throw new UsageError(`${res} ${v}: missing ID`);
    noMore(more);
    return { verb: v, id, body: undefined };
  }
  // put [ID] BODY: with one argument that looks like a body, the id comes from the body (PUT /<res>).
  if (rest.length === 1 && looksLikeBody(rest[0]!)) return { verb: v, id: undefined, body: rest[0] };
  const [id, body, ...more] = rest;
  if (id === undefined) throw new UsageError(`${res} put: missing JSON body (inline, @file or - for stdin)`);
  if (id === '') throw new UsageError(`${res} put: empty ID`);
  if (body === undefined) throw new UsageError(`${res} put ${id}: missing JSON body (inline, @file or - for stdin)`);
  noMore(more);
  return { verb: v, id, body };
}

/** Parse argv (without the runtime and script). Throws UsageError with a one-line message. */
export function parseCommandLine(argv: string[]): Command {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        config: { type: 'string', short: 'c' },
        db: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
        'dry-run': { type: 'boolean' },
        merge: { type: 'boolean' },
        force: { type: 'boolean' },
        'remote-addr': { type: 'string' },
        'remote-port': { type: 'string' },
        'server-addr': { type: 'string' },
        'server-port': { type: 'string' },
        sni: { type: 'string' },
        protocol: { type: 'string' },
        'proxy-peer': { type: 'string' },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return { name: 'help' };
  if (values.version) return { name: 'version' };
  const [command = 'start', ...rest] = positionals;
  if (command === 'help') return { name: 'help' };
  if (command === 'version') return { name: 'version' };

  if (values.config !== undefined && values.config.trim() === '') throw new UsageError('--config needs a file name');
  if (values.db !== undefined && values.db.trim() === '') throw new UsageError('--db needs a file name');
  const common: Common = { config: values.config ?? null, db: values.db ?? null };

  const isResource = (RESOURCES as readonly string[]).includes(command);
  if (!isResource && !(command in FLAGS)) throw new UsageError(`unknown command "${command}" (try --help)`);
  const flagKey = isResource ? (rest[0] === 'delete' || rest[0] === 'put' ? rest[0] : 'object') : command;
  for (const flag of ['dry-run', 'merge', 'force', ...EXPLAIN_FLAGS] as const) {
    if (values[flag] !== undefined && values[flag] !== false && !(FLAGS[flagKey] ?? []).includes(flag)) {
      throw new UsageError(`--${flag} does not apply to "${isResource ? `${command} ${rest[0] ?? ''}`.trim() : command}"`);
    }
  }

  if (isResource) {
    const res = command as Resource;
    const cmd = objectCommand(res, rest);
    if (values['dry-run'] && cmd.verb !== 'put' && cmd.verb !== 'delete') throw new UsageError(`--dry-run does not apply to "${command} ${cmd.verb}"`);
    return { name: 'object', res, ...cmd, force: values.force === true, dryRun: values['dry-run'] === true, ...common };
  }
  switch (command) {
    case 'import': {
      const [file, ...more] = rest;
      if (file === undefined || file === '') throw new UsageError('import: missing FILE (YAML or JSON, - for stdin)');
      noMore(more);
      return { name: 'import', file, dryRun: values['dry-run'] === true, merge: values.merge === true, force: values.force === true, ...common };
    }
    case 'explain': {
      noMore(rest);
      const get = (f: (typeof EXPLAIN_FLAGS)[number]) => values[f] ?? null;
      const conn: ExplainArgs = {
        remote_addr: get('remote-addr'), remote_port: get('remote-port'), server_addr: get('server-addr'),
        server_port: get('server-port'), sni: get('sni'), protocol: get('protocol'), proxy_peer: get('proxy-peer'),
      };
      return { name: 'explain', conn, ...common };
    }
    case 'start':
    case 'export':
    case 'migrate':
    case 'check':
    case 'reload':
    case 'upgrade':
      noMore(rest);
      return { name: command, ...common };
    default:
      throw new UsageError(`unknown command "${command}" (try --help)`);
  }
}
