// Unmaps the executable's start-up code from the process (Bun on Linux only).
//
// A proxy runs a lot of code once (config parsing, SQLite and its migrations, the Admin API, the JIT
// compiling all of that) and then mostly its data plane. The pages of that code stay mapped into the process,
// about 20 MiB of the Bun executable, although nothing runs them again; so do the pages of the embedded
// bundle that were read once to load it.
// - Code and constants (read-only mappings): madvise(MADV_DONTNEED) on their clean pages only removes them
//   from this process's page tables. The pages stay in the kernel's page cache, and whatever is still used
//   comes back on its next use as a minor fault with the same bytes (no disk read; the kernel maps 64 KiB
//   around a fault). A page the loader wrote before making the mapping read-only (relocations) is no longer a
//   file page and would lose its contents: /proc/self/pagemap tells them apart, and they are skipped.
// - Data (writable mappings, e.g. the embedded bundle): another thread could write a page between the pagemap
//   read and the madvise, so these get MADV_PAGEOUT instead, which the kernel applies only to pages that are
//   still clean at that moment (written ones stay, there is no swap to put them in).

import { closeSync, openSync, readFileSync, readSync } from 'node:fs';

const MADV_DONTNEED = 4;
const MADV_PAGEOUT = 21; // Linux >= 5.4; older kernels answer EINVAL and the mapping stays as it is
const PAGE = 4096; // x86-64 and arm64 Linux as built (bun build --target=bun-linux-*)

/** The part of bun:ffi used here (typed locally to keep bun-types out of the Node build). */
interface BunFfi {
  dlopen(
    lib: string,
    symbols: { madvise: { args: readonly string[]; returns: string } },
  ): { symbols: { madvise(addr: bigint, len: bigint, advice: number): number }; close(): void };
}

export interface Range {
  start: bigint;
  length: bigint;
}

export interface FileMapping extends Range {
  writable: boolean;
}

/** Private file-backed mappings ("r-xp" code, "r--p" constants, "rw-p" data) in /proc/self/maps text. */
export function privateFileMappings(maps: string): FileMapping[] {
  const ranges: FileMapping[] = [];
  for (const line of maps.split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) (r-xp|r--p|rw-p) [0-9a-f]+ \S+ [1-9]\d*\s+\//.exec(line);
    if (m === null) continue;
    const start = BigInt(`0x${m[1]}`);
    ranges.push({ start, length: BigInt(`0x${m[2]}`) - start, writable: m[3] === 'rw-p' });
  }
  return ranges;
}

/**
 * The parts of a mapping that are safe to drop, from its /proc/self/pagemap entries (8 bytes per page:
 * bit 63 present, bit 61 file page). A present page that is not a file page was written by this process
 * (copy on write) and splits the mapping; pages not present cost nothing to advise and are kept in a run.
 */
export function cleanRuns(start: bigint, entries: Buffer): Range[] {
  const runs: Range[] = [];
  const pages = entries.length / 8;
  let runStart = -1;
  for (let i = 0; i <= pages; i++) {
    const high = i < pages ? entries.readUInt32LE(i * 8 + 4) : 0;
    const written = i < pages && (high & 0x80000000) !== 0 && (high & 0x20000000) === 0;
    if (i < pages && !written) {
      if (runStart < 0) runStart = i;
      continue;
    }
    if (runStart >= 0) runs.push({ start: start + BigInt(runStart * PAGE), length: BigInt((i - runStart) * PAGE) });
    runStart = -1;
  }
  return runs;
}

/**
 * Unmap the clean pages of this process's private file mappings (see the top of this file). Returns the number of ranges advised, or
 * -1 when this is not possible here (not Bun, not Linux, no bun:ffi or /proc). Never throws.
 */
export function trimCodePages(): number {
  if (process.platform !== 'linux') return -1;
  const getBuiltin = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
  let libc: ReturnType<BunFfi['dlopen']> | null = null;
  let pagemap: number | null = null;
  try {
    const ffi = typeof getBuiltin === 'function' ? (getBuiltin('bun:ffi') as BunFfi | undefined) : undefined;
    if (ffi === undefined) return -1;
    libc = ffi.dlopen('libc.so.6', { madvise: { args: ['u64', 'u64', 'i32'], returns: 'i32' } });
    // the mappings are read after dlopen: it may map libraries of its own
    const mappings = privateFileMappings(readFileSync('/proc/self/maps', 'utf8'));
    pagemap = openSync('/proc/self/pagemap', 'r');
    let advised = 0;
    for (const m of mappings) {
      if (m.writable) {
        if (libc.symbols.madvise(m.start, m.length, MADV_PAGEOUT) === 0) advised++;
        continue;
      }
      const entries = Buffer.alloc(Number(m.length / BigInt(PAGE)) * 8);
      const got = readSync(pagemap, entries, 0, entries.length, Number((m.start / BigInt(PAGE)) * 8n));
      if (got !== entries.length) continue;
      for (const run of cleanRuns(m.start, entries)) {
        if (libc.symbols.madvise(run.start, run.length, MADV_DONTNEED) === 0) advised++;
      }
    }
    return advised;
  } catch {
    return -1;
  } finally {
    if (pagemap !== null) closeSync(pagemap);
    libc?.close();
  }
}
