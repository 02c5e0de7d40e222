// Harness of the APISIX conformance suite: a real weir started in-process on loopback, the upstreams of
// APISIX's Test::Nginx setup, and its test_admin helper (`t(uri, method, body, pattern)`), so each ported
// block reads like the original. APISIX's fixed ports are mapped to ephemeral ones by localize().

import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import tls from 'node:tls';
import { configureErrorLog } from '../../src/log/logger';
import { freePort } from '../helpers/net';
import { adminCall, startTestWeir, tempDir, waitFor, type TestWeir } from '../helpers/weir';
import type { AccessRecord } from '../../src/log/logger';
import { pem } from '../tls/fixtures';

/**
 * The certificates APISIX's blocks read from t/certs, replaced by weir's own fixtures (test/fixtures/tls):
 * any pair works where APISIX's does, since neither side checks the name against the SNI.
 */
export const certs = {
  /** t/certs/apisix.crt + apisix.key */
  apisix: pem.a,
  /** t/certs/apisix_ecc.crt + apisix_ecc.key */
  ecc: pem.wildEc,
  /** t/certs/test2.crt + test2.key */
  test2: pem.wild,
  /** t/certs/mtls_ca.crt, mtls_client.crt + key (signed by that CA), mtls_server.crt + key */
  mtlsCa: pem.ca,
  mtlsClient: pem.client,
  mtlsServer: pem.a2,
  /** t/certs/apisix.crt + key where a block presents it as a client certificate that mtls_ca did not sign */
  untrustedClient: pem.badClient,
};

/** The key APISIX's blocks send in X-API-KEY (weir's test config has it, as APISIX's harness has its own). */
export const ADMIN = '/apisix/admin';

export interface Reply {
  status: number;
  /** The parsed JSON body (undefined when empty), or the text. */
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/**
 * test_admin's com_tab: every key of `pattern` must be in `data` with the same value; nested tables are
 * compared key by key (arrays index by index), and a JSON null in the pattern means "absent".
 */
export function assertSubset(pattern: unknown, data: unknown, path = 'value'): void {
  if (pattern === null || typeof pattern !== 'object') {
    assert.deepEqual(data, pattern, path);
    return;
  }
  for (const [key, want] of Object.entries(pattern)) {
    const got = data !== null && typeof data === 'object' ? (data as Record<string, unknown>)[key] : undefined;
    const at = `${path}->${key}`;
    if (want === null) assert.equal(got, undefined, `${at} should be absent`);
    else if (typeof want === 'object' && got !== undefined && got !== null) assertSubset(want, got, at);
    else assert.deepEqual(got, want, at);
  }
}

/** The `hello world` server APISIX's stream tests proxy to (127.0.0.1:1995): reads one byte, answers, closes. */
export interface HelloServers {
  port: number;
  /** Connections accepted per address (127.0.0.1 .. 127.0.0.4). */
  accepted: Record<string, number>;
  close(): Promise<void>;
}

/** Listen on `hosts` at one common ephemeral port (APISIX's nodes are 127.0.0.1-4, all on port 1995). */
export async function startHello(hosts: readonly string[], answer: (s: net.Socket) => string = () => 'hello world\n'): Promise<HelloServers> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await freePort();
    const servers: net.Server[] = [];
    const sockets = new Set<net.Socket>();
    const accepted: Record<string, number> = Object.fromEntries(hosts.map((h) => [h, 0]));
    try {
      for (const host of hosts) {
        const srv = net.createServer((s) => {
          accepted[host]!++;
          sockets.add(s);
          s.on('close', () => sockets.delete(s));
          s.on('error', () => {});
          s.once('data', () => s.end(answer(s)));
        });
        servers.push(srv);
        await new Promise<void>((resolve, reject) => {
          srv.once('error', reject);
          srv.listen(port, host, () => resolve());
        });
      }
    } catch {
      await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
      continue; // that port is taken on one of the addresses: try another
    }
    return {
      port,
      accepted,
      close: async () => {
        for (const s of sockets) s.destroy();
        await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
      },
    };
  }
  throw new Error('startHello: no port free on every address');
}

export interface StreamResult {
  data: string;
  /** How the connection ended: the peer closed (end), reset it (error), or it hung (timeout). */
  closedBy: 'end' | 'error' | 'timeout';
}

/** APISIX's `--- stream_request`: connect, send, read until the proxy closes (bounded). */
export function streamRequest(port: number, payload = 'mmm', timeoutMs = 10_000): Promise<StreamResult> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const sock = net.connect({ port, host: '127.0.0.1' });
    let done = false;
    const finish = (closedBy: StreamResult['closedBy']) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ data: Buffer.concat(chunks).toString(), closedBy });
    };
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    sock.on('connect', () => sock.write(payload));
    sock.on('data', (d) => chunks.push(d));
    sock.on('end', () => finish('end'));
    sock.on('error', () => finish('error'));
    sock.on('close', () => finish('end'));
  });
}

export interface TlsResult extends StreamResult {
  /** The handshake completed. */
  handshake: boolean;
  /** The session was resumed (the client offered one and the server took it). */
  reused: boolean;
  session: Buffer | null;
  error: string | null;
}

/** APISIX's `--- stream_tls_request` with `--- stream_sni`: TLS handshake (no verification), send, read all. */
export function tlsRequest(
  port: number,
  opts: { sni?: string; payload?: string; session?: Buffer | null; cert?: string; key?: string; timeoutMs?: number } = {},
): Promise<TlsResult> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let handshake = false;
    let reused = false;
    let session: Buffer | null = null;
    let error: string | null = null;
    let done = false;
    const sock = tls.connect({
      host: '127.0.0.1',
      port,
      rejectUnauthorized: false,
      ...(opts.sni ? { servername: opts.sni } : {}),
      ...(opts.session ? { session: opts.session } : {}),
      ...(opts.cert ? { cert: opts.cert, key: opts.key } : {}),
    });
    const finish = (closedBy: StreamResult['closedBy']) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ data: Buffer.concat(chunks).toString(), closedBy, handshake, reused, session, error });
    };
    const timer = setTimeout(() => finish('timeout'), opts.timeoutMs ?? 10_000);
    sock.on('session', (s) => (session = s));
    sock.on('secureConnect', () => {
      handshake = true;
      reused = sock.isSessionReused();
      sock.write(opts.payload ?? 'mmm');
    });
    sock.on('data', (d) => chunks.push(d));
    sock.on('end', () => finish('end'));
    sock.on('error', (e) => {
      error = e.message;
      finish('error');
    });
    sock.on('close', () => finish('end'));
  });
}

export interface HarnessOptions {
  /** YAML lines under `apisix:` (two-space indented), e.g. a data_encryption block. */
  apisixYaml?: string;
  /** YAML appended at the end of the config (top-level keys). */
  extraYaml?: string;
}

/**
 * One APISIX test file's world: weir with a plain TCP listener (APISIX's 1985) and a TLS one (2005), the
 * hello servers on 127.0.0.1-4 (APISIX's 1995), and the port map that localize() applies to APISIX's bodies.
 * Between blocks weir may be restarted with another config on the same database (APISIX's yaml_config).
 */
export class Harness {
  w!: TestWeir;
  tcp = 0;
  tls = 0;
  /** Error-log lines weir wrote while this harness ran (APISIX's blocks grep error.log; these grep weir's). */
  readonly logs: string[] = [];
  private readonly dir = tempDir('weir-apisix-');
  private constructor(
    readonly hello: HelloServers,
    /** APISIX's fixed port -> the port used here. */
    readonly ports: Map<number, number>,
  ) {}

  static async start(opts: HarnessOptions = {}, extraPorts: Record<number, number> = {}): Promise<Harness> {
    const hello = await startHello(['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4']);
    const ports = new Map<number, number>([[1995, hello.port], ...Object.entries(extraPorts).map(([a, b]) => [Number(a), b] as [number, number])]);
    const h = new Harness(hello, ports);
    configureErrorLog({ sink: (text) => h.logs.push(...text.split('\n').filter((l) => l !== '')) });
    try {
      [h.tcp, h.tls] = [await freePort(), await freePort()];
      await h.boot(opts);
    } catch (err) {
      await h.close();
      throw err;
    }
    return h;
  }

  private async boot(opts: HarnessOptions): Promise<void> {
    this.w = await startTestWeir([`"127.0.0.1:${this.tcp}"`, `{addr: "127.0.0.1:${this.tls}", tls: true}`], {
      dir: this.dir.path,
      apisixYaml: opts.apisixYaml,
      extraYaml: opts.extraYaml,
    });
  }

  /** Stop weir and start it again on the same database with another config (a block's `--- yaml_config`). */
  async restart(opts: HarnessOptions = {}): Promise<void> {
    await this.w.stop();
    await this.boot(opts);
  }

  /** APISIX's ports in a body, pattern or YAML text (`127.0.0.1:1995`, `"port": 1995`, `port: 1995`) -> the ones used here. */
  localize(text: string): string {
    const map = (port: string) => String(this.ports.get(Number(port)) ?? port);
    return text
      .replace(/((?:127\.0\.0\.\d|localhost|local|\[::1\]):)(\d{4})\b/g, (_, head: string, port: string) => head + map(port))
      .replace(/((?:"port"|\bport)\s*:\s*)(\d{4})\b/g, (_, head: string, port: string) => head + map(port));
  }

  /**
   * test_admin's `t(uri, method, body, pattern)`: `body` is APISIX's JSON text (sent as written, ports
   * localized) or an object (APISIX's Lua table); when `pattern` is given, the reply must contain it.
   */
  async t(uri: string, method: string, body?: unknown, pattern?: unknown): Promise<Reply> {
    const text = body === undefined ? undefined : this.localize(typeof body === 'string' ? body : JSON.stringify(body));
    const reply = await adminCall(this.w.adminUrl, method, uri, text);
    if (pattern !== undefined) {
      assert.ok(reply.status < 300, `${method} ${uri}: ${reply.status} ${JSON.stringify(reply.body)}`);
      assertSubset(JSON.parse(this.localize(typeof pattern === 'string' ? pattern : JSON.stringify(pattern))), reply.body);
    }
    return reply;
  }

  /** `t()` that must answer 200 or 201 (APISIX's blocks print "passed" for both). */
  async ok(uri: string, method: string, body?: unknown, pattern?: unknown): Promise<Reply> {
    const reply = await this.t(uri, method, body, pattern);
    assert.ok(reply.status === 200 || reply.status === 201, `${method} ${uri}: ${reply.status} ${JSON.stringify(reply.body)}`);
    return reply;
  }

  /** `--- stream_request` to the plain listener. */
  stream(payload = 'mmm', timeoutMs?: number): Promise<StreamResult> {
    return streamRequest(this.tcp, payload, timeoutMs);
  }

  /** `--- stream_tls_request` to the TLS listener. */
  streamTls(opts: Parameters<typeof tlsRequest>[1] = {}): Promise<TlsResult> {
    return tlsRequest(this.tls, opts);
  }

  /** Access-log records written after the first `count`, waiting (bounded) until `expect` of them are there. */
  async accessSince(count: number, expect = 1): Promise<AccessRecord[]> {
    await waitFor(() => this.w.access.length >= count + expect, 10_000, `${expect} access record(s)`);
    return this.w.access.slice(count);
  }

  /** Connections each hello server accepted since `before` (a copy of `hello.accepted`). */
  hits(before: Record<string, number>): Record<string, number> {
    return Object.fromEntries(Object.entries(this.hello.accepted).map(([h, n]) => [h, n - (before[h] ?? 0)]).filter(([, n]) => n !== 0));
  }

  async close(): Promise<void> {
    configureErrorLog({ sink: (text) => process.stderr.write(text) });
    await this.w?.stop();
    await this.hello.close();
    this.dir.remove();
  }
}

/**
 * The TLS servers of APISIX's extra_stream_config (port 8765): answer each connection's first byte with
 * `answer(socket)`, then close. `options` holds the certificate and any client-certificate demand.
 */
export async function startTlsAnswer(options: tls.TlsOptions, answer: (s: tls.TLSSocket) => string): Promise<tls.Server> {
  const srv = tls.createServer(options, (s) => {
    s.on('error', () => {});
    s.once('data', () => s.end(answer(s)));
  });
  srv.on('tlsClientError', () => {});
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return srv;
}

/** The address a server listens on, for servers started with port 0. */
export function portOf(server: net.Server | tls.Server): number {
  return (server.address() as AddressInfo).port;
}
