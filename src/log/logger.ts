// Error log (human lines on stderr) and access log (one JSON line per closed connection, batched).

import { openSync, writeSync, closeSync } from 'node:fs';
import type { EndReason } from '../proxy/session/end-reason';
import { LineEncoder } from './access-line';

export type Level = 'debug' | 'info' | 'warn' | 'error';

const LEVELS: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** A sink for log text: tests capture it, production writes to a file descriptor. */
export type LogSink = (text: string) => void;

const stderrSink: LogSink = (text) => process.stderr.write(text);

let minLevel = LEVELS.info;
let errorSink: LogSink = stderrSink;

/** Set where error-log lines go and which levels pass. Called once at start, and by tests. */
export function configureErrorLog(opts: { level?: Level; sink?: LogSink }): void {
  if (opts.level) minLevel = LEVELS[opts.level];
  if (opts.sink) errorSink = opts.sink;
}

function formatField(value: unknown): string {
  if (typeof value === 'string') return /[\s"=]/.test(value) || value === '' ? JSON.stringify(value) : value;
  return JSON.stringify(value);
}

/** Whether lines of `level` are written: hot paths check it before building a line's fields. */
export function isLogged(level: Level): boolean {
  return LEVELS[level] >= minLevel;
}

/** `2026-11-25T19:41:00.000Z warn message key=value ...` on one line. */
export function log(level: Level, message: string, fields?: Record<string, unknown>): void {
  if (LEVELS[level] < minLevel) return;
  let line = `${new Date().toISOString()} ${level} ${message}`;
  if (fields) {
    for (const key in fields) {
      const value = fields[key];
      if (value !== undefined) line += ` ${key}=${formatField(value)}`;
    }
  }
  errorSink(line + '\n');
}

export const logger = {
  debug: (message: string, fields?: Record<string, unknown>) => log('debug', message, fields),
  info: (message: string, fields?: Record<string, unknown>) => log('info', message, fields),
  warn: (message: string, fields?: Record<string, unknown>) => log('warn', message, fields),
  error: (message: string, fields?: Record<string, unknown>) => log('error', message, fields),
};

/** One closed (or refused) connection. */
export interface AccessRecord {
  /** The connection id, "<pid>-<n>" (src/proxy/session/conn-id.ts): GET /v1/connections and a unique_id TLV show the same. */
  id: string;
  protocol: 'tcp' | 'udp';
  route: string | null;
  client: string;
  /** The peer whose PROXY header named `client` ("ip:port"); left out when no header did. */
  proxy_peer?: string;
  server: string;
  upstream: string | null;
  bytes_from_client: number;
  bytes_to_client: number;
  /** UDP sessions only: datagrams relayed each way. */
  datagrams_from_client?: number;
  datagrams_to_client?: number;
  duration_ms: number;
  /** Why it ended (src/proxy/session/end-reason.ts). */
  end: EndReason;
  error?: string;
}

/**
 * Access log. Lines are collected and written once per event-loop turn (or when 64 KiB pile up), so a
 * busy proxy makes one write syscall for many connections instead of one each.
 */
export class AccessLog {
  /** Lines not yet written, as bytes (see access-line.ts for why not strings). */
  private enc = new LineEncoder();
  private scheduled = false;
  private readonly flushSoon = (): void => this.flush();
  private fd: number | null;

  /** False when built (or reconfigured) with `disabled`: callers may skip building records. */
  enabled: boolean;
  private sinkFn: LogSink | null;

  /** `path: null` writes to standard output; `disabled` drops every record before formatting it. */
  constructor(opts: { path: string | null } | { sink: LogSink } | { disabled: true }) {
    this.enabled = !('disabled' in opts);
    if ('disabled' in opts) {
      this.sinkFn = null;
      this.fd = null;
    } else if ('sink' in opts) {
      this.sinkFn = opts.sink;
      this.fd = null;
    } else {
      this.sinkFn = null;
      this.fd = opts.path === null ? 1 : openSync(opts.path, 'a');
    }
  }

  /**
   * Config reload: write to `path` (null: standard output) or stop writing, from the next record on. The new
   * file is opened before anything changes, so a path that cannot be opened throws and leaves the log as it was.
   * A log built with a sink (tests) keeps its sink.
   */
  reconfigure(opts: { path: string | null } | { disabled: true }): void {
    if (this.sinkFn !== null) return;
    const fd = 'disabled' in opts ? null : opts.path === null ? 1 : openSync(opts.path, 'a');
    this.flush();
    if (this.fd !== null && this.fd > 2) closeSync(this.fd);
    this.fd = fd;
    this.enabled = !('disabled' in opts);
  }

  write(record: AccessRecord): void {
    if (!this.enabled) return;
    this.enc.writeRecord(record);
    if (this.enc.len >= 65536) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flushSoon);
    }
  }

  flush(): void {
    this.scheduled = false;
    if (this.enc.len === 0) return;
    const bytes = this.enc.take();
    if (this.sinkFn) this.sinkFn(bytes.toString('utf8'));
    else if (this.fd !== null) {
      try {
        // a pipe on stdout may take part of it; a regular file takes all
        for (let off = 0; off < bytes.length; ) off += writeSync(this.fd, bytes, off, bytes.length - off);
      } catch (err) {
        logger.error('access log write failed', { error: (err as Error).message });
      }
    }
    // one huge line (a long error text) grew the buffer: do not keep that much memory for good
    if (this.enc.buf.length > 1 << 20) this.enc = new LineEncoder();
  }

  close(): void {
    this.flush();
    if (this.fd !== null && this.fd > 2) closeSync(this.fd);
    this.fd = null;
  }
}
