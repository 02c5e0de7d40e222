// Shared by the native fetch servers (Bun.serve, Deno.serve): cap the request body the way the node:http
// adapter does, so the Admin API sees the same "at most maxBodyBytes + 1 bytes" on every runtime; the
// error envelope is shared with the node:http adapter too.

import type { FetchHandler, HttpServeOptions } from '../types';

/**
 * Admin request deadlines (slowloris on the Admin API): the request line and headers must arrive within
 * HEADERS_TIMEOUT_MS of the connection's request start, the whole request (body included) within
 * REQUEST_TIMEOUT_MS. node:http enforces both itself; Bun.serve has an idle timeout (the same 10 s) and the body
 * deadline below; Deno.serve exposes no header timeout, so there only the body deadline applies.
 */
export const HEADERS_TIMEOUT_MS = 10_000;
export const REQUEST_TIMEOUT_MS = 30_000;

/** Thrown by readCappedBody when the body is not in within its deadline (the server answers 408). */
export class BodyTimeoutError extends Error {
  readonly code = 'ERR_BODY_TIMEOUT';
}

/**
 * Read at most `cap` bytes of a body stream, then cancel the rest (it is never buffered). A body still incomplete
 * after `timeoutMs` is cancelled and BodyTimeoutError thrown.
 */
export async function readCappedBody(body: ReadableStream<Uint8Array> | null, cap: number, timeoutMs = REQUEST_TIMEOUT_MS): Promise<Uint8Array> {
  if (body === null) return new Uint8Array(0);
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new BodyTimeoutError(`request body not received within ${timeoutMs} ms`)), timeoutMs);
  });
  late.catch(() => undefined);
  try {
    while (size < cap) {
      const { done, value } = await Promise.race([reader.read(), late]);
      if (done) break;
      const take = value.byteLength > cap - size ? value.subarray(0, cap - size) : value;
      chunks.push(take);
      size += take.byteLength;
    }
  } catch (err) {
    if (err instanceof BodyTimeoutError) await reader.cancel().catch(() => undefined);
    throw err;
  } finally {
    clearTimeout(timer);
    if (size >= cap) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}

export function jsonError(status: number, message: string): Response {
  return new Response(JSON.stringify({ error_msg: message }), { status, headers: { 'Content-Type': 'application/json' } });
}

/** The request handler of a native server, and the call that tells it the port once listening. */
export interface NativeHandler {
  fetch(req: Request, remoteAddress: string): Promise<Response>;
  /** Port 0 picks a free port, so the authority of rebuilt URLs is known only after listen. */
  listening(port: number): void;
}

/**
 * Wrap a FetchHandler for a native server: rebuild the request with a capped body and a URL built from the
 * bound address (never the client's Host header), and turn a throwing handler into a 500 envelope.
 */
export function wrapHandler(handler: FetchHandler, opts: HttpServeOptions): NativeHandler {
  const urlHost = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  let authority = urlHost;
  const fetch = async (req: Request, remoteAddress: string): Promise<Response> => {
    let request: Request;
    try {
      const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
      const bytes = hasBody ? await readCappedBody(req.body, opts.maxBodyBytes + 1, opts.requestTimeoutMs) : null;
      const url = new URL(req.url);
      request = new Request(`http://${authority}${url.pathname}${url.search}`, {
        method: req.method,
        headers: req.headers,
        body: bytes && bytes.byteLength > 0 ? bytes : null,
      });
    } catch (err) {
      if (err instanceof BodyTimeoutError) return jsonError(408, err.message);
      return jsonError(400, `bad request: ${(err as Error).message}`);
    }
    try {
      return await handler(request, { remoteAddress });
    } catch (err) {
      // Handlers should answer every error themselves; this is the last line of defence.
      return jsonError(500, `internal error: ${(err as Error).message}`);
    }
  };
  return {
    fetch,
    listening: (port) => {
      authority = `${urlHost}:${port}`;
    },
  };
}

/** What the server's own error hook answers when something fails outside the wrapped handler. */
export function serverErrorResponse(err: unknown): Response {
  return new Response(JSON.stringify({ error_msg: `internal error: ${(err as Error).message}` }), { status: 500 });
}

/** An Error with a Node-style `code`, so callers report listen failures the same way on every runtime. */
export function listenFailure(err: unknown, host: string, port: number): Error {
  const text = String((err as Error)?.message ?? err);
  const inUse = /in use|AddrInUse|EADDRINUSE/i.test(text) || (err as { name?: string })?.name === 'AddrInUse';
  const denied = /permission|EACCES|PermissionDenied/i.test(text);
  const code = inUse ? 'EADDRINUSE' : denied ? 'EACCES' : ((err as { code?: string })?.code ?? 'ELISTEN');
  const out = new Error(`listen ${code}: ${text} ${host}:${port}`) as Error & { code: string };
  out.code = code;
  return out;
}
