// The prometheus export server (plugin_attr.prometheus.export_addr, APISIX's 127.0.0.1:9091): GET export_uri
// answers the Prometheus text format. With several workers, worker 0 serves it and adds up every worker's
// families for each scrape (src/cli/worker-ipc.ts), so one scrape returns the host's totals.

import type { ListenAddr } from '../config/types';
import { listenError } from '../lib/listen-error';
import { serveHttp } from '../runtime/index';
import type { HttpServerHandle } from '../runtime/types';
import { EXPOSITION_CONTENT_TYPE, type Family, isFamilyList, mergeFamilies, renderExposition } from './exposition';

/** How long a scrape waits for the other workers' counters before it answers without the late ones. */
export const WORKER_ANSWER_MS = 2000;

export interface ExportServerOptions {
  addr: ListenAddr;
  /** The path metrics are served under. */
  uri: string;
  /** This process's families (StreamMetrics.collect). */
  collect(): Family[];
  /** The other workers' answers to "metrics" (Workers.ask); absent with one process. */
  askWorkers?(kind: string, timeoutMs: number): Promise<unknown[]>;
}

/** One scrape's text: this process first (it answers for 'primary' families), then the workers'. */
export async function scrapeText(opts: Pick<ExportServerOptions, 'collect' | 'askWorkers'>): Promise<string> {
  const own = opts.collect();
  const others = opts.askWorkers === undefined ? [] : await opts.askWorkers('metrics', WORKER_ANSWER_MS);
  const lists: Family[][] = [own, ...others.filter(isFamilyList)];
  return renderExposition(mergeFamilies(lists));
}

/** Start serving; rejects with an error naming plugin_attr.prometheus.export_addr when the port is taken. */
export function startExportServer(opts: ExportServerOptions): Promise<HttpServerHandle> {
  const handler = async (req: Request): Promise<Response> => {
    const path = new URL(req.url).pathname;
    if (path !== opts.uri) return new Response('not found\n', { status: 404, headers: { 'Content-Type': 'text/plain' } });
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return new Response('method not allowed\n', { status: 405, headers: { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' } });
    }
    const text = await scrapeText(opts);
    return new Response(req.method === 'HEAD' ? null : text, { status: 200, headers: { 'Content-Type': EXPOSITION_CONTENT_TYPE } });
  };
  return serveHttp(handler, { host: opts.addr.host, port: opts.addr.port, maxBodyBytes: 0 }).catch((err: unknown) => {
    throw listenError(err, opts.addr.host, opts.addr.port, 'plugin_attr.prometheus.export_addr');
  });
}
