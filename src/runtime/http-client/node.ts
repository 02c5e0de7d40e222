// POST over HTTP/1.1 with node:http / node:https, which Node, Bun and Deno all provide with the same options
// (ca, cert, key, servername, rejectUnauthorized) and stream a body chunk by chunk. fetch has no standard TLS
// options (undici needs a dispatcher, Bun a `tls` field, Deno Deno.createHttpClient), so it is not used here.
// The modules are loaded on the first call (builtin.ts): a weir that never talks to etcd never loads them.

import type { ClientRequest, IncomingMessage, RequestOptions } from 'node:http';
import { nodeBuiltin } from '../builtin';
import { type HttpClientPort, type HttpPostOptions, type HttpReply, type HttpStream, HttpStatusError } from '../types';

function send(url: string, body: string, opts: HttpPostOptions, onResponse: (res: IncomingMessage) => void, onError: (err: Error) => void): ClientRequest {
  const u = new URL(url);
  const https = u.protocol === 'https:';
  const options: RequestOptions & Record<string, unknown> = {
    method: opts.method ?? 'POST',
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port: u.port === '' ? (https ? 443 : 80) : Number(u.port),
    path: `${u.pathname}${u.search}`,
    headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), ...opts.headers },
    agent: false,
  };
  if (https) {
    const tls = opts.tls;
    options.rejectUnauthorized = tls?.verify !== false;
    if (tls?.ca !== undefined) options.ca = tls.ca;
    if (tls?.cert !== undefined) options.cert = tls.cert;
    if (tls?.key !== undefined) options.key = tls.key;
    if (tls?.servername !== undefined) options.servername = tls.servername;
  }
  const mod = https ? nodeBuiltin<typeof import('node:https')>('node:https') : nodeBuiltin<typeof import('node:http')>('node:http');
  const req = mod.request(options, onResponse);
  req.on('error', onError);
  req.end(opts.method === 'GET' ? undefined : body);
  return req;
}

function timeoutError(url: string, ms: number): Error {
  return Object.assign(new Error(`request to ${url} timed out after ${ms} ms`), { code: 'ETIMEDOUT' });
}

/** Whole answer, bounded by timeoutMs from the start of the call. */
function post(url: string, body: string, opts: HttpPostOptions): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const req = send(
      url,
      body,
      opts,
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('end', () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString('utf8') });
        });
        res.on('error', (err) => {
          clearTimeout(timer);
          reject(err);
        });
      },
      (err) => {
        clearTimeout(timer);
        reject(err);
      },
    );
    const timer = setTimeout(() => req.destroy(timeoutError(url, opts.timeoutMs)), opts.timeoutMs);
  });
}

/** Resolves at the status line; the body then streams to onText until the end, an error, or close(). */
function openStream(url: string, body: string, opts: HttpPostOptions, onText: (text: string) => void): Promise<HttpStream> {
  return new Promise((resolve, reject) => {
    let settle: (r: { error: Error | null }) => void = () => {};
    const done = new Promise<{ error: Error | null }>((r) => (settle = r));
    let closed = false;
    let opened = false;
    const req = send(
      url,
      body,
      opts,
      (res) => {
        clearTimeout(timer);
        opened = true;
        const decoder = new TextDecoder();
        if (res.statusCode !== 200) {
          let text = '';
          res.on('data', (d: Buffer) => (text += decoder.decode(d, { stream: true })));
          res.on('end', () => reject(new HttpStatusError(res.statusCode ?? 0, text)));
          res.on('error', (err) => reject(err));
          return;
        }
        res.on('data', (d: Buffer) => {
          if (!closed) onText(decoder.decode(d, { stream: true }));
        });
        res.on('end', () => settle({ error: null }));
        // a reset after close() is ours, not a failure
        res.on('error', (err) => settle({ error: closed ? null : err }));
        res.on('close', () => settle({ error: closed || res.complete ? null : new Error('connection closed before the end of the body') }));
        resolve({
          close() {
            closed = true;
            req.destroy();
          },
          done,
        });
      },
      (err) => {
        clearTimeout(timer);
        if (!opened) reject(err);
        else settle({ error: closed ? null : err });
      },
    );
    const timer = setTimeout(() => req.destroy(timeoutError(url, opts.timeoutMs)), opts.timeoutMs);
  });
}

/** The node:http client (every runtime). */
export const nodeHttpClient: HttpClientPort = { post, openStream };
