// Real third-party servers for tests. Missing binaries skip the test, unless WEIR_REQUIRE_SERVERS=1 (CI) makes that a failure.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Is `name` on PATH? */
export function hasCommand(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

/**
 * The reason to skip when one of `commands` is missing, or null when all exist.
 * Throws instead when WEIR_REQUIRE_SERVERS=1, so CI never skips silently.
 */
export function missingServers(...commands: string[]): string | null {
  const missing = commands.filter((c) => !hasCommand(c));
  if (missing.length === 0) return null;
  const reason = `needs ${missing.join(', ')} (apt-get install ${missing.join(' ')}); .ci/run installs them`;
  if (process.env.WEIR_REQUIRE_SERVERS === '1') throw new Error(`WEIR_REQUIRE_SERVERS=1 but this test ${reason}`);
  return reason;
}

/** Start redis-server on host:port (127.0.0.1 by default) without persistence; resolves once it accepts commands. */
export async function startRedis(port: number, host = '127.0.0.1', extra: readonly string[] = []): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', host, '--save', '', '--appendonly', 'no', ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  const deadline = Date.now() + 10000;
  while (!out.includes('Ready to accept connections')) {
    if (child.exitCode !== null) throw new Error(`redis-server exited: ${out}`);
    if (Date.now() > deadline) {
      child.kill();
      throw new Error(`redis-server did not start: ${out}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return child;
}

export interface StalledListener {
  port: number;
  close(): void;
}

/**
 * A loopback port whose connects hang: a listener that never accepts, with its accept queue already full,
 * so the kernel drops further SYNs (the "upstream does not answer" case, without firewall rules).
 * node:net always accepts, so the listener is a python3 process.
 */
export async function startStalledListener(): Promise<StalledListener> {
  const { connect } = await import('node:net');
  const script = [
    'import socket, sys, time',
    's = socket.socket()',
    "s.bind(('127.0.0.1', 0))",
    's.listen(0)',
    'print(s.getsockname()[1], flush=True)',
    'time.sleep(60)',
  ].join('\n');
  const child = spawn('python3', ['-c', script], { stdio: ['ignore', 'pipe', 'ignore'] });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('python3 listener did not start')), 10000);
    child.stdout!.once('data', (d) => {
      clearTimeout(timer);
      resolve(Number(String(d).trim()));
    });
  });
  const fillers = Array.from({ length: 4 }, () => connect(port, '127.0.0.1').on('error', () => {}));
  await new Promise((r) => setTimeout(r, 100));
  return {
    port,
    close() {
      for (const s of fillers) s.destroy();
      child.kill();
    },
  };
}

export interface PeerProcess {
  /** Everything the process wrote to stdout and stderr (HAProxy's log goes to stdout). */
  output(): string;
  /** SIGTERM by pid, SIGKILL after 2 s; resolves once it exited. */
  stop(): Promise<void>;
}

/** Poll a loopback TCP port until it accepts (bounded); rejects with the process's output when it never does. */
async function waitListening(port: number, proc: ChildProcess, output: () => string, what: string): Promise<void> {
  const { connect } = await import('node:net');
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`${what} exited (${proc.exitCode}): ${output()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`${what} did not listen on ${port}: ${output()}`);
    }
    await new Promise((r) => setTimeout(r, 30));
  }
}

function supervise(child: ChildProcess): PeerProcess {
  let out = '';
  child.stdout?.on('data', (d) => (out += d));
  child.stderr?.on('data', (d) => (out += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    output: () => out,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      process.kill(child.pid!, 'SIGTERM');
      const timer = setTimeout(() => child.exitCode === null && process.kill(child.pid!, 'SIGKILL'), 2000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export interface PrometheusServer {
  port: number;
  /** An instant PromQL query through the HTTP API: the result vector as {labels, value}. */
  query(promql: string): Promise<Array<{ metric: Record<string, string>; value: number }>>;
  stop(): void;
}

/**
 * Start a real Prometheus server on 127.0.0.1:port that scrapes `target` ("127.0.0.1:9091") every second,
 * with its data in `dir`. Resolves once its HTTP API answers.
 */
export async function startPrometheus(port: number, target: string, metricsPath: string, dir: string): Promise<PrometheusServer> {
  const { writeFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const config = join(dir, 'prometheus.yml');
  writeFileSync(
    config,
    [
      'global:',
      '  scrape_interval: 1s',
      '  evaluation_interval: 1s',
      'scrape_configs:',
      '  - job_name: weir',
      `    metrics_path: ${metricsPath}`,
      '    static_configs:',
      `      - targets: ["${target}"]`,
      '',
    ].join('\n'),
  );
  const child = spawn(
    'prometheus',
    [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`prometheus exited: ${err}`);
    try {
      if ((await fetch(`${base}/-/ready`)).status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill();
      throw new Error(`prometheus did not become ready: ${err}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    port,
    async query(promql) {
      const res = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(promql)}`);
      const body = (await res.json()) as { status: string; data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
      if (body.status !== 'success') throw new Error(`query ${promql}: ${JSON.stringify(body)}`);
      return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
    },
    stop() {
      child.kill();
    },
  };
}

/**
 * Run HAProxy in the foreground (-db) with `config` (written to dir/haproxy.cfg); resolves once every port in
 * `ports` accepts. The Debian service is never involved: this is our own process, stopped by pid.
 */
export async function startHaproxy(config: string, dir: string, ports: number[]): Promise<PeerProcess> {
  const { writeFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const file = join(dir, 'haproxy.cfg');
  writeFileSync(file, config);
  const child = spawn('haproxy', ['-db', '-f', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  const peer = supervise(child);
  for (const port of ports) await waitListening(port, child, peer.output, 'haproxy');
  return peer;
}

/** Debian's stream module for nginx (package libnginx-mod-stream). */
export const NGINX_STREAM_MODULE = '/usr/lib/nginx/modules/ngx_stream_module.so';

/** Like missingServers, for nginx with its stream module (a separate Debian package). */
export function missingNginxStream(): string | null {
  const missing = missingServers('nginx');
  if (missing !== null) return missing;
  if (existsSync(NGINX_STREAM_MODULE)) return null;
  const reason = `needs ${NGINX_STREAM_MODULE} (apt-get install libnginx-mod-stream); .ci/run installs it`;
  if (process.env.WEIR_REQUIRE_SERVERS === '1') throw new Error(`WEIR_REQUIRE_SERVERS=1 but this test ${reason}`);
  return reason;
}

/**
 * Run nginx in the foreground, one process (no master), with the stream module and `streamBlock` inside
 * `stream { }`; prefix, pid and logs in `dir`. Resolves once every port in `ports` accepts.
 */
export async function startNginx(streamBlock: string, dir: string, ports: number[]): Promise<PeerProcess> {
  const { writeFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const file = join(dir, 'nginx.conf');
  writeFileSync(
    file,
    [
      `load_module ${NGINX_STREAM_MODULE};`,
      `daemon off; master_process off; pid ${join(dir, 'nginx.pid')};`,
      `error_log ${join(dir, 'nginx-error.log')} warn;`,
      'events { worker_connections 256; }',
      `stream {\n${streamBlock}\n}`,
      '',
    ].join('\n'),
  );
  const child = spawn('nginx', ['-p', dir, '-e', join(dir, 'nginx-error.log'), '-c', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  const peer = supervise(child);
  for (const port of ports) await waitListening(port, child, peer.output, 'nginx');
  return peer;
}

export interface OpenSslServer {
  port: number;
  close(): Promise<void>;
}

/**
 * `openssl s_server -www` on 127.0.0.1:port with the given certificate files: answers `GET /` over TLS with
 * `HTTP/1.0 200 ok` and a status page. Resolves once it accepts connections.
 */
export async function startOpenSslWww(port: number, certFile: string, keyFile: string): Promise<OpenSslServer> {
  const child = spawn('openssl', ['s_server', '-accept', `127.0.0.1:${port}`, '-cert', certFile, '-key', keyFile, '-www', '-naccept', '1000'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 10000;
  while (!out.includes('ACCEPT')) {
    if (child.exitCode !== null) throw new Error(`openssl s_server exited: ${out}`);
    if (Date.now() > deadline) {
      child.kill();
      throw new Error(`openssl s_server did not start: ${out}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    port,
    async close() {
      if (child.exitCode === null) child.kill();
      await exited;
    },
  };
}

export interface Mosquitto {
  port: number;
  /** Everything the broker logged so far (log_type all, on stderr). */
  log(): string;
  /** Client ids the broker accepted, in order ("New client connected ... as <id>"). */
  clients(): string[];
  stop(): void;
}

/** Start a mosquitto broker on 127.0.0.1:port (anonymous, no persistence, config in `dir`). */
export async function startMosquitto(port: number, dir: string): Promise<Mosquitto> {
  const { writeFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const config = join(dir, `mosquitto-${port}.conf`);
  writeFileSync(config, [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence false', 'log_dest stderr', 'log_type all', ''].join('\n'));
  const child = spawn('mosquitto', ['-c', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let out = '';
  child.stderr!.on('data', (d) => (out += d));
  const deadline = Date.now() + 10_000;
  while (!out.includes(' running')) {
    if (child.exitCode !== null) throw new Error(`mosquitto exited: ${out}`);
    if (Date.now() > deadline) {
      child.kill();
      throw new Error(`mosquitto did not start: ${out}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    port,
    log: () => out,
    clients: () => [...out.matchAll(/New client connected from \S+ as (\S+) \(/g)].map((m) => m[1]!),
    stop: () => void child.kill(),
  };
}

export interface Rsyslog {
  udpPort: number;
  tcpPort: number;
  /** Messages received so far, one per line: `facility|severity|hostname|app-name|procid|msgid|msg`. */
  lines(): string[];
  /** SIGKILL, as a crash would. */
  kill(): Promise<void>;
  /** Start again on the same ports (after kill). */
  restart(): Promise<void>;
  stop(): void;
}

/** A real rsyslogd in the foreground on 127.0.0.1 (imudp and imtcp), writing what it receives to a file in `dir`. */
export async function startRsyslog(udpPort: number, tcpPort: number, dir: string): Promise<Rsyslog> {
  const { readFileSync, writeFileSync, existsSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { connect } = await import('node:net');
  const out = join(dir, 'received.log');
  const config = join(dir, 'rsyslog.conf');
  writeFileSync(
    config,
    [
      `global(workDirectory="${dir}")`,
      'module(load="imudp")',
      'module(load="imtcp")',
      `input(type="imudp" port="${udpPort}" address="127.0.0.1")`,
      `input(type="imtcp" port="${tcpPort}" address="127.0.0.1")`,
      'template(name="weirtest" type="string" string="%syslogfacility%|%syslogseverity%|%hostname%|%app-name%|%procid%|%msgid%|%msg%\\n")',
      `*.* action(type="omfile" file="${out}" template="weirtest")`,
      '',
    ].join('\n'),
  );
  let child: ChildProcess | null = null;
  let err = '';
  const tcpUp = (): Promise<boolean> =>
    new Promise((resolve) => {
      const s = connect(tcpPort, '127.0.0.1');
      s.on('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
  const launch = async (): Promise<void> => {
    child = spawn('rsyslogd', ['-n', '-f', config, '-i', join(dir, `rsyslogd-${Date.now()}.pid`)], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr!.on('data', (d) => (err += d));
    const deadline = Date.now() + 10_000;
    while (!(await tcpUp())) {
      if (child.exitCode !== null) throw new Error(`rsyslogd exited: ${err}`);
      if (Date.now() > deadline) throw new Error(`rsyslogd did not start: ${err}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  await launch();
  return {
    udpPort,
    tcpPort,
    lines: () => (existsSync(out) ? readFileSync(out, 'utf8').split('\n').filter((l) => l !== '') : []),
    async kill() {
      const c = child;
      if (c === null || c.exitCode !== null) return;
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      await exited;
    },
    restart: launch,
    stop() {
      child?.kill('SIGKILL');
    },
  };
}
