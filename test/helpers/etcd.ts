// A real etcd for tests: its own data dir and free loopback ports, stopped and killed by pid. Missing
// etcd/etcdctl skip the test (missingServers), unless WEIR_REQUIRE_SERVERS=1.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import net from 'node:net';
import { freePort } from './net';

export interface EtcdServer {
  /** http://127.0.0.1:<client port> */
  readonly url: string;
  readonly port: number;
  pid(): number;
  /** etcdctl against this etcd (ETCDCTL_API=3); throws with its stderr on failure. Returns stdout. */
  ctl(...args: string[]): string;
  /** The current store revision (etcdctl endpoint status). */
  revision(): number;
  /** SIGTERM and wait for the exit. */
  stop(): Promise<void>;
  /** Start again on the same data dir and ports (the revision is kept). */
  restart(): Promise<void>;
  /** Stop, delete the data dir, start empty: a new cluster (new cluster id, revision 1). */
  wipe(): Promise<void>;
  /** SIGKILL if still running (after hooks). */
  kill(): void;
}

let generation = 0;

/** TLS on the client port: the server's certificate, and with `clientCa` client certificates required (mTLS). */
export interface EtcdTls {
  cert: string;
  key: string;
  /** CA file etcdctl trusts. */
  ca: string;
  /** When set: --client-cert-auth with this CA; etcdctl then presents clientCert/clientKey. */
  clientCa?: string;
  clientCert?: string;
  clientKey?: string;
}

/** Start etcd with its data in `dir`/etcd. Resolves once GET /health answers (plain HTTP only: else its TCP port). */
export async function startEtcd(dir: string, tls?: EtcdTls): Promise<EtcdServer> {
  const port = await freePort();
  const peer = await freePort();
  const url = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  const tlsArgs = tls
    ? ['--cert-file', tls.cert, '--key-file', tls.key, ...(tls.clientCa ? ['--client-cert-auth', '--trusted-ca-file', tls.clientCa] : [])]
    : [];
  const ctlTls = tls ? ['--cacert', tls.ca, ...(tls.clientCert ? ['--cert', tls.clientCert, '--key', tls.clientKey!] : [])] : [];
  const dataDir = join(dir, 'etcd');
  let child: ChildProcess | null = null;
  let token = `weir-test-${process.pid}-${++generation}`;

  const launch = async (): Promise<void> => {
    const args = [
      '--name', 'weir-test',
      '--data-dir', dataDir,
      '--listen-client-urls', url,
      '--advertise-client-urls', url,
      '--listen-peer-urls', `http://127.0.0.1:${peer}`,
      '--initial-advertise-peer-urls', `http://127.0.0.1:${peer}`,
      '--initial-cluster', `weir-test=http://127.0.0.1:${peer}`,
      '--initial-cluster-token', token,
      '--logger', 'zap',
      '--log-level', 'error',
      ...tlsArgs,
    ];
    const proc = spawn('etcd', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    proc.stderr!.on('data', (d) => (err = (err + d).slice(-4000)));
    child = proc;
    const deadline = Date.now() + 15000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`etcd exited (${proc.exitCode}): ${err}`);
      if (tls ? await tcpOpen(port) : await healthy(url)) break;
      if (Date.now() > deadline) {
        proc.kill('SIGKILL');
        throw new Error(`etcd did not become healthy: ${err}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  const stop = async (): Promise<void> => {
    const proc = child;
    child = null;
    if (proc === null || proc.exitCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };

  const ctl = (...args: string[]): string => {
    const r = spawnSync('etcdctl', ['--endpoints', url, ...ctlTls, ...args], { env: { ...process.env, ETCDCTL_API: '3' }, encoding: 'utf8', timeout: 10000 });
    if (r.status !== 0) throw new Error(`etcdctl ${args.join(' ')}: ${r.stderr || r.error?.message}`);
    return r.stdout;
  };

  await launch();
  return {
    url,
    port,
    pid: () => child?.pid ?? 0,
    ctl,
    revision: () => Number(JSON.parse(ctl('endpoint', 'status', '-w', 'json'))[0].Status.header.revision),
    stop,
    restart: launch,
    async wipe() {
      await stop();
      rmSync(dataDir, { recursive: true, force: true });
      token = `weir-test-${process.pid}-${++generation}`;
      await launch();
    },
    kill() {
      if (child !== null && child.exitCode === null) child.kill('SIGKILL');
      child = null;
    },
  };
}

async function healthy(url: string): Promise<boolean> {
  try {
    return (await fetch(`${url}/health`)).ok;
  } catch {
    return false; // not listening yet
  }
}

function tcpOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
