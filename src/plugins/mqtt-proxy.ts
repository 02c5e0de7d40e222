// mqtt-proxy (APISIX priority 1000): read the client's MQTT CONNECT before any upstream is chosen, close
// the connection when it is malformed or names another protocol name or level, and expose its client
// identifier as the variable `mqtt_client_id` (a chash upstream with `key: mqtt_client_id` then keeps each
// client on one broker; an empty id leaves the variable unset, and chash hashes remote_addr instead).
// The bytes are only looked at (the plane's preread): the broker receives the CONNECT untouched.

import type { JsonObject } from '../lib/json';
import type { PrereadState } from '../runtime/types';
import type { AccessVerdict, FilterConn, StreamFilter } from '../proxy/filter/types';
import { int, looseObj, opt, str } from '../schema/common';
import { parseMqttConnect } from './mqtt-connect';
import type { PluginModule } from './types';

const NAME = 'mqtt-proxy';
const PRIORITY = 1000;
/** The variable a chash upstream names in `key`. */
export const MQTT_CLIENT_ID_VAR = 'mqtt_client_id';
/**
 * At most this much is read before the client id must have been seen: nginx's preread_buffer_size (16k),
 * which bounds APISIX's peek the same way. A CONNECT's header and properties are far smaller in practice.
 */
export const MQTT_PREREAD_MAX = 16 * 1024;
/** APISIX answers 503 for every mqtt-proxy refusal; the code goes to the access log. */
const CODE = 503;

const schema = looseObj({ protocol_name: opt(str()), protocol_level: int() });

/** Why a preread ended before a complete CONNECT. */
const CUT_SHORT: Record<Exclude<PrereadState, 'data'>, string> = {
  timeout: 'no complete CONNECT before the preread timeout',
  eof: 'client closed before a complete CONNECT',
  error: 'socket error before a complete CONNECT',
  full: `CONNECT longer than ${MQTT_PREREAD_MAX} bytes up to its client id`,
};

function refuse(why: string): AccessVerdict {
  return { code: CODE, reason: `${NAME}: ${why}` };
}

/**
 * The access decision for one connection, from its first bytes. Pure apart from setVar; the filter calls it
 * from the preread callback with every byte seen so far. Returns null while more bytes are needed.
 */
export function decideMqtt(bytes: Uint8Array, state: PrereadState, name: string, level: number, conn: FilterConn): AccessVerdict | null {
  const parsed = parseMqttConnect(bytes);
  if (parsed.kind === 'need-more') return state === 'data' ? null : refuse(CUT_SHORT[state]);
  if (parsed.kind === 'invalid') return refuse(`malformed CONNECT: ${parsed.reason}`);
  const c = parsed.connect;
  if (c.protocolName !== name) return refuse(`protocol name ${JSON.stringify(c.protocolName)}, expected ${JSON.stringify(name)}`);
  if (c.protocolLevel !== level) return refuse(`protocol level ${c.protocolLevel}, expected ${level}`);
  if (c.clientId !== '') conn.setVar(MQTT_CLIENT_ID_VAR, c.clientId);
  return undefined;
}

export const mqttProxy: PluginModule = {
  name: NAME,
  priority: PRIORITY,
  schema,
  jsonSchema: {
    type: 'object',
    properties: {
      protocol_name: { type: 'string', default: 'MQTT' },
      protocol_level: { type: 'integer' },
    },
    required: ['protocol_level'],
  },

  compile(conf: JsonObject): StreamFilter {
    const name = typeof conf.protocol_name === 'string' ? conf.protocol_name : 'MQTT';
    const level = conf.protocol_level as number;
    return {
      name: NAME,
      priority: PRIORITY,
      /** One preread per connection; its callback runs per arriving segment with everything seen so far. */
      access(conn) {
        if (conn.preread === undefined) return refuse('MQTT runs over TCP; this is a UDP session');
        return new Promise<AccessVerdict>((resolve) => {
          conn.preread!(MQTT_PREREAD_MAX, (bytes, state) => {
            const verdict = decideMqtt(bytes, state, name, level, conn);
            if (verdict === null) return false;
            resolve(verdict);
            return true;
          });
        });
      },
    };
  },
};
