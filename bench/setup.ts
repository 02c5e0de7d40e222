// Benchmark prerequisites: Debian packages (installed when missing, with service start-up suppressed),
// the C helper built from bench/loadgen.c, a throwaway ECDSA certificate for perf.test, the dnsperf query file.

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const PACKAGES = ['nginx', 'libnginx-mod-stream', 'haproxy', 'iperf3', 'redis-server', 'redis-tools', 'dnsperf', 'gcc', 'libssl-dev', 'openssl', 'util-linux'];

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** Install what is missing with apt-get (needs root). Returns what was installed. */
export function ensurePackages(log: string): string[] {
  const missing: string[] = [];
  for (const [cmd, pkg] of [['nginx', 'nginx'], ['haproxy', 'haproxy'], ['iperf3', 'iperf3'], ['redis-server', 'redis-server'],
    ['redis-benchmark', 'redis-tools'], ['dnsperf', 'dnsperf'], ['gcc', 'gcc'], ['openssl', 'openssl'], ['taskset', 'util-linux']] as const) {
    if (!has(cmd)) missing.push(pkg);
  }
  if (!existsSync('/usr/lib/nginx/modules/ngx_stream_module.so')) missing.push('libnginx-mod-stream');
  if (!existsSync('/usr/include/openssl/ssl.h')) missing.push('libssl-dev');
  if (missing.length === 0) return [];
  const policy = '/usr/sbin/policy-rc.d';
  const madePolicy = !existsSync(policy);
  // Debian's postinst scripts would start nginx/haproxy/redis as services on their default ports
  if (madePolicy) writeFileSync(policy, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const out = spawnSync('sh', ['-c', `apt-get update -qq && apt-get install -y -qq --no-install-recommends ${PACKAGES.join(' ')}`], { env, encoding: 'utf8', timeout: 600_000 });
    writeFileSync(log, `${out.stdout}\n${out.stderr}`);
    if (out.status !== 0) throw new Error(`apt-get failed (see ${log}); needed: ${missing.join(' ')}`);
  } finally {
    if (madePolicy) rmSync(policy, { force: true });
  }
  return missing;
}

/** Build bench/loadgen.c into the work dir. */
export function buildLoadgen(root: string, work: string): string {
  const bin = join(work, 'loadgen');
  execFileSync('gcc', ['-O2', '-Wall', '-o', bin, join(root, 'bench/loadgen.c'), '-lssl', '-lcrypto'], { stdio: 'inherit' });
  return bin;
}

/** cert.pem, key.pem (ECDSA P-256, CN/SAN perf.test) and combined.pem (HAProxy) in work. */
export function makeCert(work: string): void {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-subj', '/CN=perf.test', '-addext', 'subjectAltName=DNS:perf.test', '-keyout', join(work, 'key.pem'), '-out', join(work, 'cert.pem')], { stdio: 'ignore' });
  writeFileSync(join(work, 'combined.pem'), readFileSync(join(work, 'cert.pem'), 'utf8') + readFileSync(join(work, 'key.pem'), 'utf8'));
}

export function writeQueries(work: string): string {
  const file = join(work, 'queries.txt');
  writeFileSync(file, 'perf.test A\n'.repeat(100));
  return file;
}

/** Versions for the JSON record. */
export function versions(bun: string): Record<string, string> {
  const first = (cmd: string, args: string[]): string => {
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    return `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n')[0] ?? '';
  };
  return {
    nginx: first('nginx', ['-v']).replace(/.*nginx\//, ''),
    haproxy: first('haproxy', ['-v']).split(' ')[2] ?? '',
    bun: first(bun, ['--version']),
    node: process.version,
    kernel: first('uname', ['-r']),
  };
}
