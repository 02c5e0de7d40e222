// A client that ships log lines to a remote collector (the syslog plugin's server): over TCP (optionally TLS),
// one line per entry, on one connection kept while it is in use; or over UDP, one datagram per entry.
// node:net, node:tls and node:dgram serve on Node, Bun and Deno alike; they are loaded on the first send
// (builtin.ts), so a weir without a logger plugin never loads them for this.

import type { Socket } from 'node:net';
import type { Socket as DgramSocket } from 'node:dgram';
import { nodeBuiltin } from './builtin';

export interface LogTarget {
  host: string;
  port: number;
  sockType: 'tcp' | 'udp';
  /** TCP only: TLS to the collector (its certificate is not verified, as in APISIX's logger socket). */
  tls: boolean;
  /** Connect, and each batch's write, must finish within this (ms). */
  timeoutMs: number;
  /** A TCP connection unused for this long is closed (ms). */
  idleMs?: number;
  /**
   * TCP only: a batch goes out in writes of about this many bytes (the syslog plugin's flush_limit): lines are
   * buffered until they reach it, then written, as resty.logger.socket flushes its buffer. Default: one write.
   */
  flushLimit?: number;
}

export interface LogClient {
  /** Send every line (a line feed is added to each on TCP). Rejects when they did not all get through. */
  send(lines: readonly string[]): Promise<void>;
  /** Close the connection or socket; a later send opens a new one. */
  close(): void;
}

const DEFAULT_IDLE_MS = 60_000;

function isIpLiteral(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(':');
}

/**
 * The writes of one batch on a stream socket, each line ended by a line feed: lines are added to a write until
 * it holds at least `flushLimit` characters (the line that reaches the limit is part of it), then the next one
 * starts. Pure; without a limit the whole batch is one write.
 */
export function splitWrites(lines: readonly string[], flushLimit = Number.POSITIVE_INFINITY): string[] {
  if (lines.length === 1) return [`${lines[0]}\n`];
  if (flushLimit === Number.POSITIVE_INFINITY) return [`${lines.join('\n')}\n`];
  const writes: string[] = [];
  let buffer = '';
  for (const line of lines) {
    buffer += `${line}\n`;
    if (buffer.length >= flushLimit) {
      writes.push(buffer);
      buffer = '';
    }
  }
  if (buffer !== '') writes.push(buffer);
  return writes;
}

/** TCP (or TLS) to the collector: connects on first use, reconnects after any error. */
class StreamLogClient implements LogClient {
  private socket: Socket | null = null;
  private idle: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly target: LogTarget) {}

  private async open(): Promise<Socket> {
    const { host, port, tls, timeoutMs } = this.target;
    const socket: Socket = tls
      ? nodeBuiltin<typeof import('node:tls')>('node:tls').connect({ host, port, rejectUnauthorized: false, ...(isIpLiteral(host) ? {} : { servername: host }) })
      : nodeBuiltin<typeof import('node:net')>('node:net').connect({ host, port });
    socket.setNoDelay(true);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connect to ${host}:${port} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once(tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        socket.off('error', reject);
        resolve();
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    // the collector never talks back; an error or close just means the next batch reconnects
    socket.on('error', () => {});
    socket.on('close', () => {
      if (this.socket === socket) this.socket = null;
    });
    socket.on('data', () => {});
    return socket;
  }

  async send(lines: readonly string[]): Promise<void> {
    this.touch();
    const socket = (this.socket ??= await this.open().catch((err: unknown) => {
      this.socket = null;
      throw err;
    }));
    const writes = splitWrites(lines, this.target.flushLimit);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`write to ${this.target.host}:${this.target.port} not done after ${this.target.timeoutMs} ms`));
      }, this.target.timeoutMs);
      let left = writes.length;
      const written = (err?: Error | null): void => {
        if (err) {
          clearTimeout(timer);
          socket.destroy();
          reject(err);
        } else if (--left === 0) {
          clearTimeout(timer);
          resolve();
        }
      };
      for (const text of writes) socket.write(text, written);
    });
  }

  /** Close the connection once it has been idle for idleMs. */
  private touch(): void {
    if (this.idle !== null) clearTimeout(this.idle);
    this.idle = setTimeout(() => this.close(), this.target.idleMs ?? DEFAULT_IDLE_MS);
    (this.idle as { unref?(): void }).unref?.();
  }

  close(): void {
    if (this.idle !== null) clearTimeout(this.idle);
    this.idle = null;
    this.socket?.end();
    this.socket = null;
  }
}

/** UDP: one datagram per line (RFC 5426), from one unconnected socket. */
class DatagramLogClient implements LogClient {
  private socket: DgramSocket | null = null;

  constructor(private readonly target: LogTarget) {}

  async send(lines: readonly string[]): Promise<void> {
    const { host, port } = this.target;
    if (this.socket === null) {
      const dgram = nodeBuiltin<typeof import('node:dgram')>('node:dgram');
      const socket = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
      socket.on('error', () => {});
      socket.unref();
      this.socket = socket;
    }
    const socket = this.socket;
    await Promise.all(
      lines.map(
        (line) =>
          new Promise<void>((resolve, reject) => {
            socket.send(line, port, host, (err) => (err ? reject(err) : resolve()));
          }),
      ),
    );
  }

  close(): void {
    this.socket?.close();
    this.socket = null;
  }
}

export function createLogClient(target: LogTarget): LogClient {
  return target.sockType === 'udp' ? new DatagramLogClient(target) : new StreamLogClient(target);
}
