// [weir] What happens to the live sessions of a route or listener when it changes or goes away:
// `{action: keep | drain | close, drain_timeout: seconds}`. Shape only; src/proxy/session/policy.ts compiles it.

import { type AnySchema, numAbove, oneOf, opt, strictObj } from './common';

export const SESSION_ACTIONS: readonly string[] = ['keep', 'drain', 'close'];

/** `on_change` / `on_node_removed` of a stream route, `on_change` of a stream listener. */
export const sessionPolicySchema: AnySchema = strictObj({
  action: oneOf(SESSION_ACTIONS),
  drain_timeout: opt(numAbove(0)),
});
