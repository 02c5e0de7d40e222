// apisix.status (APISIX's key): a listener answering GET /status and GET /status/ready without a key, for load
// balancers and orchestrators. Off unless configured.

import { canonicalIp } from './listen';
import { ConfigError, type ListenAddr } from './types';
import { checkKeys, describeValue, readMap, readPort, readString, type ReadCtx, type YamlMap } from './read';

const PATH = 'apisix.status';
const DEFAULT_PORT = 7085;

/** The status listener, or null when apisix.status is absent. Runs once at start. */
export function readStatusListen(apisix: YamlMap, ctx: ReadCtx): ListenAddr | null {
  const status = readMap(apisix.status, PATH);
  if (status === undefined) return null;
  checkKeys(status, PATH, ctx);
  const ipText = readString(status.ip, `${PATH}.ip`, ctx, 'an IP address') ?? '127.0.0.1';
  const host = canonicalIp(ipText);
  if (host === null) throw new ConfigError(`${PATH}.ip`, `expected an IP address such as "127.0.0.1" (no brackets), got ${describeValue(ipText)}`);
  return { host, port: readPort(status.port, `${PATH}.port`, DEFAULT_PORT) };
}
