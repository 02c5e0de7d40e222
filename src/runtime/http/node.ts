// node:http adapter for fetch-style handlers (the Admin API): IncomingMessage -> Request, Response -> reply.
// Bodies are buffered up to maxBodyBytes + 1 bytes only, so an oversized upload cannot grow memory.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FetchHandler, HttpServeOptions, HttpServerHandle } from '../types';
import { HEADERS_TIMEOUT_MS, jsonError, REQUEST_TIMEOUT_MS } from './common';

/** After an oversized body, this much more is read and thrown away before the socket is cut. */
const DISCARD_LIMIT = 64 * 1024 * 1024;

interface CappedBody {
  bytes: Buffer;
  /** True when the body went past `cap` and the rest is being discarded. */
  overflow: boolean;
}

/**
 * Collect at most `cap` bytes of the request body. Resolves at end of body, or as soon as `cap` bytes are
 * in hand. The rest of an oversized body is read and discarded, not buffered: leaving it unread would
 * let node parse it as the next request on a keep-alive connection, and cutting the socket at once would
 * make the client see a reset instead of our 400. Past DISCARD_LIMIT the socket is destroyed.
 */
function readCapped(req: IncomingMessage, cap: number): Promise<CappedBody> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let discarded = 0;
    let settled = false;
    const onData = (chunk: Buffer): void => {
      if (settled) {
        discarded += chunk.length;
        if (discarded > DISCARD_LIMIT) req.socket.destroy();
        return;
      }
      const room = cap - size;
      const take = chunk.length > room ? chunk.subarray(0, room) : chunk;
      chunks.push(take);
      size += take.length;
      if (size >= cap) {
        settled = true;
        resolve({ bytes: Buffer.concat(chunks, size), overflow: true });
      }
    };
    req.on('data', onData);
    req.once('end', () => {
      if (settled) return;
      settled = true;
      resolve({ bytes: Buffer.concat(chunks, size), overflow: false });
    });
    req.once('error', (err) => {
      if (settled) return;
      settled = true;
      reject(err);
    });
  });
}

function toHeaders(req: IncomingMessage): Headers {
  const headers = new Headers();
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    // Hop-by-hop and length headers describe node's framing, not the buffered body we hand over.
    const lower = name.toLowerCase();
    if (lower === 'connection' || lower === 'transfer-encoding' || lower === 'keep-alive') continue;
    try {
      headers.append(name, raw[i + 1]!);
    } catch {
      // A header value undici refuses (odd bytes) is dropped rather than failing the request.
    }
  }
  return headers;
}

function requestUrl(req: IncomingMessage, authority: string): string {
  const target = req.url ?? '/';
  // Origin-form ("/apisix/admin?x") is the normal case; a "//x" target must not become a host.
  if (target.startsWith('/')) return `http://${authority}${target}`;
  return new URL(target).toString();
}

async function writeResponse(res: ServerResponse, response: Response, isHead: boolean): Promise<void> {
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  const body = isHead || response.body === null ? null : Buffer.from(await response.arrayBuffer());
  if (body) headers['content-length'] = String(body.length);
  res.writeHead(response.status, headers);
  res.end(body ?? undefined);
}

async function handle(
  handler: FetchHandler,
  opts: HttpServeOptions,
  authority: string,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const method = req.method ?? 'GET';
  let request: Request | null = null;
  let response: Response;
  try {
    const hasBody = method !== 'GET' && method !== 'HEAD';
    const body = hasBody ? await readCapped(req, opts.maxBodyBytes + 1) : null;
    // The connection carrying an oversized body is not reused: the client may still be sending it.
    if (body?.overflow) res.shouldKeepAlive = false;
    request = new Request(requestUrl(req, authority), {
      method,
      headers: toHeaders(req),
      body: body && body.bytes.length > 0 ? body.bytes : null,
    });
  } catch (err) {
    response = jsonError(400, `bad request: ${(err as Error).message}`);
  }
  if (request) {
    try {
      response = await handler(request, { remoteAddress: req.socket.remoteAddress ?? '' });
    } catch (err) {
      // Handlers should answer every error themselves; this is the last line of defence.
      response = jsonError(500, `internal error: ${(err as Error).message}`);
    }
  }
  await writeResponse(res, response!, method === 'HEAD');
}

/**
 * Serve `handler` on host:port with node:http. Resolves once listening (port 0 picks a free port);
 * rejects with the listen Error (code "EADDRINUSE", ...). close() also drops idle keep-alive sockets.
 */
export function serveNodeHttp(handler: FetchHandler, opts: HttpServeOptions): Promise<HttpServerHandle> {
  const urlHost = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  // Request URLs are built from the bound address, not the client's Host header (which may be anything).
  let authority = urlHost;
  // Deadlines against slow clients: headers within 10 s, the whole request within 30 s (node answers 408 and
  // closes). node checks them every connectionsCheckingInterval, 30 s by default: 1 s keeps the 10 s honest.
  const headersTimeout = opts.headersTimeoutMs ?? HEADERS_TIMEOUT_MS;
  const deadlines = { headersTimeout, requestTimeout: opts.requestTimeoutMs ?? REQUEST_TIMEOUT_MS, connectionsCheckingInterval: Math.min(1000, headersTimeout) };
  const server = createServer(deadlines, (req, res) => {
    handle(handler, opts, authority, req, res).catch((err: unknown) => {
      // Only writing the reply can fail here (client gone): nothing left to answer.
      res.destroy(err instanceof Error ? err : undefined);
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      const port = (server.address() as AddressInfo).port;
      authority = `${urlHost}:${port}`;
      resolve({
        host: opts.host,
        port,
        close: (o) =>
          new Promise<void>((done) => {
            server.close(() => done());
            if (o?.graceful === true) server.closeIdleConnections();
            else server.closeAllConnections();
          }),
      });
    });
  });
}
