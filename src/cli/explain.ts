// `weir explain --server-port 9100 --remote-addr 10.0.0.7 [--server-addr ...] [--sni ...] [--protocol udp]
// [--proxy-peer IP[:PORT]]`: the Admin API's explain view computed offline from the SQLite file and config.yaml
// (a fresh balancer, no health state, no open connections). Prints the same JSON. The listeners are the config's
// items and the stored stream_listeners objects, as a running weir binds them.

import { desiredListeners } from '../control/listener-specs';
import { explainConnection, parseExplainInput } from '../inspect/explain';
import { listenerViews } from '../inspect/listeners';
import { buildServedSnapshot } from '../plugins/snapshot';
import { FilterCompiler } from '../plugins/compile';
import { LocalConnCounters } from '../plugins/conn-counters';
import { pluginSetOf } from '../plugins/registry';
import type { Command } from './args';
import { CliError, loadCliConfig, resolveDbPath, withStore, type CliIo } from './context';

type ExplainCommand = Extract<Command, { name: 'explain' }>;

export async function runExplain(cmd: ExplainCommand, io: CliIo): Promise<void> {
  const config = loadCliConfig(cmd, io);
  const contents = await withStore(resolveDbPath(cmd, config), config, false, (store) => store.readAll());
  // rows the proxy would skip (invalid, or an address already served) are left out here too
  const listeners = listenerViews(desiredListeners(config, contents.streamListeners ?? []));
  const info = parseExplainInput(cmd.conn, listeners);
  if (typeof info === 'string') throw new CliError(2, `explain: ${info.replace(/\b(remote_addr|remote_port|server_addr|server_port|proxy_peer)\b/g, (f) => `--${f.replace('_', '-')}`)}`);
  // the served snapshot, as `weir start` builds it: services merged in, the routes' plugins compiled
  const compiler = new FilterCompiler(pluginSetOf(config), new LocalConnCounters(), config.pluginAttr);
  const { snapshot } = buildServedSnapshot(contents, null, compiler);
  io.out(`${JSON.stringify(explainConnection(snapshot, info, { listeners, realIpFrom: config.realIpFrom }), null, 2)}\n`);
}
