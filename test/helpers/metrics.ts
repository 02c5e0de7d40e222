// Test helpers for the prometheus export: scrape it, read one sample's value out of the text.

export async function scrape(port: number, path = '/apisix/prometheus/metrics', host = '127.0.0.1'): Promise<string> {
  const res = await fetch(`http://${host.includes(':') ? `[${host}]` : host}:${port}${path}`);
  if (res.status !== 200) throw new Error(`scrape answered ${res.status}`);
  return res.text();
}

/** The value of the sample `name{labels}` (labels exactly as given, in any order), or undefined. */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line);
    if (m === null || m[1] !== name) continue;
    const got: Record<string, string> = {};
    for (const part of (m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) got[part[1]!] = part[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    const keys = Object.keys(labels);
    if (keys.length !== Object.keys(got).length || keys.some((k) => got[k] !== labels[k])) continue;
    return m[4] === '+Inf' ? Infinity : Number(m[4]);
  }
  return undefined;
}

/** Every sample line of a metric name (for assertions on what is absent). */
export function linesOf(text: string, name: string): string[] {
  return text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
}

/**
 * The config keys that turn the metrics on: `stream_plugins` (prometheus and `others`) and the export server on
 * 127.0.0.1:`port` (two top-level YAML keys, for a test config's extra lines).
 */
export function prometheusYaml(port: number, others: readonly string[] = []): string {
  return [`stream_plugins: [${[...others, 'prometheus'].join(', ')}]`, 'plugin_attr:', '  prometheus:', `    export_addr: {ip: 127.0.0.1, port: ${port}}`].join('\n');
}
