// UDP test helpers: echo servers and clients on loopback, every wait bounded, everything closable.

import dgram from 'node:dgram';
import { freePort } from './net';

export function wait(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Poll (every 5 ms, bounded) until cond() holds. */
export async function until(cond: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  for (let waited = 0; !cond(); waited += 5) {
    if (waited >= ms) throw new Error(`${what} not reached in ${ms} ms`);
    await wait(5);
  }
}

export interface UdpEcho {
  port: number;
  /** Datagrams received, as text, in arrival order. */
  received: string[];
  /** Distinct source ports seen (one per proxy session). */
  sources: Set<number>;
  close(): Promise<void>;
}

/**
 * UDP echo server: answers every datagram with `${tag}${datagram}`, `copies` times (for proxy_responses
 * tests). A tag tells tests which node answered.
 */
export async function startUdpEcho(tag = '', copies = 1, host = '127.0.0.1'): Promise<UdpEcho> {
  // A real upstream sizes its own buffer. This one needs room for a test's whole burst: weir on Bun forwards
  // a turn's datagrams back to back (sendmmsg), and the 212992-byte default holds only 256 small datagrams.
  const sock = dgram.createSocket({ type: host.includes(':') ? 'udp6' : 'udp4', recvBufferSize: 4 * 1024 * 1024 });
  const received: string[] = [];
  const sources = new Set<number>();
  sock.on('message', (msg, rinfo) => {
    received.push(msg.toString());
    sources.add(rinfo.port);
    for (let i = 0; i < copies; i++) sock.send(tag + msg.toString(), rinfo.port, rinfo.address);
  });
  sock.on('error', () => {});
  await new Promise<void>((resolve) => sock.bind(0, host, () => resolve()));
  return {
    port: sock.address().port,
    received,
    sources,
    close: () => new Promise<void>((resolve) => sock.close(() => resolve())),
  };
}

export interface UdpClient {
  sock: dgram.Socket;
  port: number;
  /** Replies received, as text, with the address and port they came from. */
  replies: Array<{ text: string; address: string; port: number }>;
  send(text: string | Buffer, port: number, host?: string): void;
  /** Wait until `count` replies arrived (bounded); returns their texts. */
  waitReplies(count: number, ms?: number): Promise<string[]>;
  close(): Promise<void>;
}

export async function udpClient(host = '127.0.0.1'): Promise<UdpClient> {
  const sock = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  const replies: UdpClient['replies'] = [];
  sock.on('message', (msg, rinfo) => replies.push({ text: msg.toString(), address: rinfo.address, port: rinfo.port }));
  sock.on('error', () => {});
  await new Promise<void>((resolve) => sock.bind(0, host, () => resolve()));
  let closed = false;
  return {
    sock,
    port: sock.address().port,
    replies,
    send: (text, port, to = host) => sock.send(text, port, to),
    async waitReplies(count, ms = 10_000) {
      await until(() => replies.length >= count, ms, `${count} replies`);
      return replies.map((r) => r.text);
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (closed) return resolve();
        closed = true;
        sock.close(() => resolve());
      }),
  };
}

/** A loopback UDP port with nothing bound to it (sending there draws ICMP port unreachable); see freePort(). */
export function deadUdpPort(host = '127.0.0.1'): Promise<number> {
  return freePort(host);
}

export interface Dnsmasq {
  port: number;
  /** SIGHUP: dnsmasq reads its --addn-hosts files again and clears its cache. */
  reload(): void;
  close(): Promise<void>;
}

/**
 * Run a real dnsmasq on 127.0.0.1:port in the foreground (our own process, not the Debian service):
 * no upstream resolvers, no /etc/hosts, answers `*.example.test` with 10.1.2.3. Resolves once it answers.
 */
export async function startDnsmasq(port: number, dir: string, extra: readonly string[] = [], host = '127.0.0.1'): Promise<Dnsmasq> {
  const { spawn, execFileSync } = await import('node:child_process');
  const { join } = await import('node:path');
  const args = [
    '--no-daemon',
    '--conf-file=/dev/null',
    '--no-resolv',
    '--no-hosts',
    '--bind-interfaces',
    `--listen-address=${host}`,
    `--port=${port}`,
    '--address=/example.test/10.1.2.3',
    `--pid-file=${join(dir, 'dnsmasq.pid')}`,
    '--log-facility=-',
    ...extra,
  ];
  // As root dnsmasq drops to its own user; elsewhere it keeps ours.
  if (process.getuid?.() === 0) args.push('--user=nobody');
  const child = spawn('dnsmasq', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 10000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`dnsmasq exited: ${err}`);
    try {
      const out = execFileSync('dig', [`@${host}`, '-p', String(port), 'probe.example.test', '+short', '+tries=1', '+time=1'], {
        timeout: 3000,
      });
      if (String(out).trim() === '10.1.2.3') break;
    } catch {
      // not answering yet
    }
    if (Date.now() > deadline) {
      child.kill();
      throw new Error(`dnsmasq did not answer: ${err}`);
    }
    await wait(50);
  }
  return {
    port,
    reload() {
      // process.kill, not child.kill: Deno's ChildProcess takes any kill() as the end and ignores the next one
      if (child.exitCode === null) process.kill(child.pid!, 'SIGHUP');
    },
    async close() {
      if (child.exitCode === null) child.kill();
      await exited;
    },
  };
}

/**
 * A dnsmasq answering from the hosts file `hosts` with a 1 s TTL, re-read on reload(): the set-up of the tests
 * that change a record under a running weir. The port is free when picked but another test may take it first,
 * so a bind race is retried (up to 5 tries).
 */
export async function startHostsDnsmasq(dir: string, hosts: string): Promise<Dnsmasq> {
  const { chmodSync } = await import('node:fs');
  chmodSync(dir, 0o755); // dnsmasq drops to "nobody" before it reads the hosts file again on SIGHUP
  for (let attempt = 1; ; attempt++) {
    try {
      return await startDnsmasq(await deadUdpPort(), dir, [`--addn-hosts=${hosts}`, '--local-ttl=1']);
    } catch (err) {
      if (attempt === 5 || !String(err).includes('Address already in use')) throw err;
    }
  }
}
