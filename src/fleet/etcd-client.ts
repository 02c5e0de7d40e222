// A small etcd v3 client over the JSON gateway (HTTP/1.1): version check, auth token, paged ranges pinned to
// one revision, the watch stream, put, compare-and-swap and delete. Endpoints are tried in turn: a failure
// moves to the next one (rotate()); the sync loop decides when to retry.

import type { HttpClientPort, HttpClientTls, HttpStream } from '../runtime/types';
import { HttpStatusError } from '../runtime/types';
import {
  type EtcdHeader, type EtcdKv, EtcdError, LineSplitter, type WatchMessage, classifyReply, encodeBase64,
  nextKeyBase64, parseWatchLine, prefixRangeEnd, rangeBody, readHeader, readKv, watchBody,
} from './gateway';

export interface EtcdClientOptions {
  /** http:// or https:// base URLs (deployment.etcd.host). */
  endpoints: readonly string[];
  user?: string | null;
  password?: string | null;
  /** Per call (deployment.etcd.timeout), ms. */
  timeoutMs: number;
  tls?: HttpClientTls;
  http: HttpClientPort;
}

/** A full read of a prefix at one revision. */
export interface PrefixSnapshot {
  header: EtcdHeader;
  kvs: EtcdKv[];
}

export interface WatchHandle {
  close(): void;
  /** Settles when the stream ends or fails (error null: ended cleanly or closed by close()). */
  readonly done: Promise<{ error: Error | null }>;
}

/** Simple tokens expire after --auth-token-ttl (300 s by default); refresh well before (lua-resty-etcd: 3 min). */
const TOKEN_REFRESH_MS = 180_000;
const PAGE_SIZE = 500;
const MIN_CLUSTER_VERSION = [3, 4];

export class EtcdClient {
  private current = 0;
  private token: string | null = null;
  private tokenAt = 0;

  constructor(private readonly opts: EtcdClientOptions) {
    if (opts.endpoints.length === 0) throw new Error('deployment.etcd.host is empty');
  }

  /** The endpoint calls go to now. */
  endpoint(): string {
    return this.opts.endpoints[this.current]!.replace(/\/+$/, '');
  }

  /** Move to the next endpoint (after a failure); the token is per cluster, so it is kept. */
  rotate(): void {
    this.current = (this.current + 1) % this.opts.endpoints.length;
  }

  /** GET /version is the one GET: check etcdcluster >= 3.4 (the gateway's /v3 paths). */
  async checkVersion(): Promise<string> {
    const reply = await this.opts.http.post(`${this.endpoint()}/version`, '', { method: 'GET', headers: {}, timeoutMs: this.opts.timeoutMs, tls: this.opts.tls }).catch((err: Error) => {
      throw new EtcdError('unavailable', `${this.endpoint()}/version: ${err.message}`);
    });
    let cluster = '';
    try {
      cluster = String((JSON.parse(reply.body) as { etcdcluster?: string }).etcdcluster ?? '');
    } catch {
      // fall through: not an etcd answer
    }
    const [major = 0, minor = 0] = cluster.split('.').map(Number);
    if (cluster === '' || major < MIN_CLUSTER_VERSION[0]! || (major === MIN_CLUSTER_VERSION[0] && minor < MIN_CLUSTER_VERSION[1]!)) {
      throw new EtcdError('not_gateway', `${this.endpoint()}/version: etcd cluster version "${cluster}" is older than 3.4 (or not etcd)`);
    }
    return cluster;
  }

  private async authHeaders(): Promise<Record<string, string>> {
    const { user, password } = this.opts;
    if (!user) return {};
    if (this.token === null || Date.now() - this.tokenAt > TOKEN_REFRESH_MS) {
      const reply = await this.raw('/v3/auth/authenticate', JSON.stringify({ name: user, password: password ?? '' }), {});
      this.token = String((reply as { token?: string }).token ?? '');
      this.tokenAt = Date.now();
    }
    // the raw token: "Bearer <token>" is refused by the gateway
    return { authorization: this.token };
  }

  private async raw(path: string, body: string, headers: Record<string, string>): Promise<Record<string, unknown>> {
    const url = `${this.endpoint()}${path}`;
    let reply;
    try {
      reply = await this.opts.http.post(url, body, { headers, timeoutMs: this.opts.timeoutMs, tls: this.opts.tls });
    } catch (err) {
      throw new EtcdError('unavailable', `${url}: ${(err as Error).message}`);
    }
    if (reply.status !== 200) throw classifyReply(url, reply.status, reply.body);
    try {
      return JSON.parse(reply.body) as Record<string, unknown>;
    } catch {
      throw new EtcdError('other', `${url}: answer is not JSON`);
    }
  }

  /** One call with the token; an expired token is renewed once. */
  async call(path: string, body: string): Promise<Record<string, unknown>> {
    try {
      return await this.raw(path, body, await this.authHeaders());
    } catch (err) {
      if (!(err instanceof EtcdError) || err.kind !== 'auth' || !this.opts.user) throw err;
      this.token = null;
      return this.raw(path, body, await this.authHeaders());
    }
  }

  /**
   * Every key under `prefix`, in pages of PAGE_SIZE, all at the first page's revision (one consistent view).
   * A revision compacted between pages throws EtcdError 'compacted': the caller starts over.
   */
  async readPrefix(prefix: string): Promise<PrefixSnapshot> {
    const end = prefixRangeEnd(prefix);
    let from = encodeBase64(prefix);
    let header: EtcdHeader | null = null;
    const kvs: EtcdKv[] = [];
    for (let page = 0; page < 1_000_000; page++) {
      const reply = await this.call('/v3/kv/range', rangeBody(from, end, { limit: PAGE_SIZE, revision: header?.revision }));
      header ??= readHeader(reply.header);
      const batch = Array.isArray(reply.kvs) ? reply.kvs.map(readKv) : [];
      kvs.push(...batch);
      if (reply.more !== true || batch.length === 0) break;
      from = nextKeyBase64(batch[batch.length - 1]!.key);
    }
    return { header: header!, kvs };
  }

  /** The value and revisions of one key, or null. */
  async get(key: string): Promise<{ header: EtcdHeader; kv: EtcdKv | null }> {
    const reply = await this.call('/v3/kv/range', JSON.stringify({ key: encodeBase64(key) }));
    const kvs = Array.isArray(reply.kvs) ? reply.kvs : [];
    return { header: readHeader(reply.header), kv: kvs.length > 0 ? readKv(kvs[0]) : null };
  }

  /** Put; returns the header (its revision is the put's: APISIX's gen_id takes POST ids from it). */
  async put(key: string, value: string): Promise<EtcdHeader> {
    const reply = await this.call('/v3/kv/put', JSON.stringify({ key: encodeBase64(key), value: encodeBase64(value) }));
    return readHeader(reply.header);
  }

  /**
   * Puts and deletes in one transaction, each only if its key's mod_revision is still the expected one (0: the
   * key must not exist). ok false: another writer came first, nothing was written.
   */
  async writeIfUnchanged(ops: ReadonlyArray<{ key: string; value: string | null; expectedMod: number }>): Promise<{ ok: boolean; header: EtcdHeader }> {
    const body = {
      compare: ops.map((op) => ({ key: encodeBase64(op.key), target: 'MOD', result: 'EQUAL', mod_revision: String(op.expectedMod) })),
      success: ops.map((op) =>
        op.value === null
          ? { request_delete_range: { key: encodeBase64(op.key) } }
          : { request_put: { key: encodeBase64(op.key), value: encodeBase64(op.value) } },
      ),
    };
    const reply = await this.call('/v3/kv/txn', JSON.stringify(body));
    return { ok: reply.succeeded === true, header: readHeader(reply.header) };
  }

  /** The highest mod_revision of any key under `prefix` (0 when there is none): one key, no value. */
  async lastModRevision(prefix: string): Promise<number> {
    const body = JSON.stringify({ key: encodeBase64(prefix), range_end: prefixRangeEnd(prefix), limit: '1', sort_order: 'DESCEND', sort_target: 'MOD', keys_only: true });
    const reply = await this.call('/v3/kv/range', body);
    const kvs = Array.isArray(reply.kvs) ? reply.kvs : [];
    return kvs.length > 0 ? readKv(kvs[0]).modRevision : 0;
  }

  /** Delete one key; returns how many keys went (0 or 1). */
  async delete(key: string): Promise<number> {
    const reply = await this.call('/v3/kv/deleterange', JSON.stringify({ key: encodeBase64(key) }));
    return Number(reply.deleted ?? 0);
  }

  /**
   * Watch every key under `prefix` from `startRevision` on. Resolves once etcd answered the request;
   * onMessage then gets each line of the stream, in order, synchronously.
   */
  async watch(prefix: string, startRevision: number, onMessage: (msg: WatchMessage) => void): Promise<WatchHandle> {
    const url = `${this.endpoint()}/v3/watch`;
    const lines = new LineSplitter();
    const onText = (text: string): void => {
      for (const line of lines.push(text)) onMessage(parseWatchLine(line));
    };
    let stream: HttpStream;
    try {
      stream = await this.opts.http.openStream(url, watchBody(prefix, startRevision), { headers: await this.authHeaders(), timeoutMs: this.opts.timeoutMs, tls: this.opts.tls }, onText);
    } catch (err) {
      if (err instanceof HttpStatusError) {
        const failure = classifyReply(url, err.status, err.body);
        if (failure.kind === 'auth') this.token = null;
        throw failure;
      }
      if (err instanceof EtcdError) throw err;
      throw new EtcdError('unavailable', `${url}: ${(err as Error).message}`);
    }
    return stream;
  }
}

