// Test helpers reading Linux /proc: which process owns a socket, whether a pid is still running, its children.
// Multi-core tests use them to tell weir's worker processes apart without any cooperation from weir.

import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

/** Fields of /proc/<pid>/stat after the command name: state and parent pid; null when the pid is gone. */
function stat(pid: number): { state: string; ppid: number } | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // the command name is in parentheses and may itself hold spaces or ')': split after the last ')'
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: rest[0]!, ppid: Number(rest[1]) };
}

/** Running (a zombie that nobody reaped counts as gone: it serves nothing and holds no sockets). */
export function isRunning(pid: number): boolean {
  const s = stat(pid);
  return s !== null && s.state !== 'Z' && s.state !== 'X';
}

export function parentOf(pid: number): number | null {
  return stat(pid)?.ppid ?? null;
}

/** The command line of pid, arguments joined by spaces ('' when gone). */
export function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '';
  }
}

/** Running processes whose parent is `pid`. */
export function childrenOf(pid: number): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = stat(Number(name));
    if (s && s.ppid === pid && s.state !== 'Z') found.push(Number(name));
  }
  return found;
}

/**
 * Socket inodes in /proc/net/<proto>{,6} with the given local port (and remote port, when given).
 * Ports there are upper-case hex after the colon of "ADDR:PORT"; the inode is the tenth column.
 */
function inodes(proto: 'tcp' | 'udp', localPort: number, remotePort?: number): Set<string> {
  const found = new Set<string>();
  for (const file of [`/proc/net/${proto}`, `/proc/net/${proto}6`]) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue; // no IPv6 in this kernel
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10) continue;
      const local = parseInt(cols[1]!.split(':').pop()!, 16);
      const remote = parseInt(cols[2]!.split(':').pop()!, 16);
      if (local === localPort && (remotePort === undefined || remote === remotePort) && cols[9] !== '0') found.add(cols[9]!);
    }
  }
  return found;
}

/**
 * Which of `pids` holds a socket with this local (and remote) port, or null. For an accepted TCP connection
 * the local port is the listener's and the remote port the client's; for a proxy's upstream UDP socket the
 * local port is the one the upstream saw the datagram come from.
 */
export function socketOwner(proto: 'tcp' | 'udp', pids: number[], localPort: number, remotePort?: number): number | null {
  const wanted = inodes(proto, localPort, remotePort);
  if (wanted.size === 0) return null;
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue; // closed while we looked
      }
      const m = /^socket:\[(\d+)\]$/.exec(target);
      if (m && wanted.has(m[1]!)) return pid;
    }
  }
  return null;
}
