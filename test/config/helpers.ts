// Shared helpers for the config tests: parse YAML text and return the result or the exact error message.

import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/parse';
import { ConfigError, type Config } from '../../src/config/types';

/** Parse with an explicit (empty unless given) environment, so the test never depends on the shell's. */
export function parseOk(text: string, env: Record<string, string | undefined> = {}): { config: Config; warnings: string[] } {
  return parseConfig(text, 'test.yaml', env);
}

/** The message of the ConfigError that parsing `text` must throw; fails the test if it does not throw one. */
export function parseError(text: string, env: Record<string, string | undefined> = {}): string {
  try {
    parseConfig(text, 'test.yaml', env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    assert.equal(err.code, 'ERR_CONFIG');
    assert.equal(err.message, err.path ? `${err.path}: ${err.problem}` : err.problem);
    return err.message;
  }
  assert.fail(`expected a ConfigError for:\n${text}`);
}

/** YAML for a stream_proxy with the given tcp (and optionally udp) items, one flow item per entry. */
export function streamYaml(tcp: string[], udp?: string[]): string {
  const lines = ['apisix:', '  stream_proxy:', '    tcp:', ...tcp.map((item) => `      - ${item}`)];
  if (udp) lines.push('    udp:', ...udp.map((item) => `      - ${item}`));
  return `${lines.join('\n')}\n`;
}
