// Runs a test file under Bun's test runner from a node:test file, so `npm test` (node) also covers the Bun code.

import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';

/** The project's Bun (devDependency `bun`), or the reason it is missing. */
export function bunBinary(): string {
  const bin = resolve('node_modules/.bin/bun');
  if (!existsSync(bin)) throw new Error(`bun is not installed at ${bin} (npm ci installs it)`);
  return bin;
}

export interface BunTestRun {
  code: number | null;
  pass: number;
  fail: number;
  skip: number;
  output: string;
}

/** `bun test FILE`, bounded by timeoutMs (killed after it); counts come from Bun's summary lines. */
export function runUnderBun(file: string, timeoutMs: number): Promise<BunTestRun> {
  const child = spawn(bunBinary(), ['test', '--timeout', String(timeoutMs), file], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' },
  });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((done) => {
    child.on('close', (code) => {
      clearTimeout(timer);
      const count = (word: string): number => Number(new RegExp(`^\\s*(\\d+) ${word}$`, 'm').exec(output)?.[1] ?? 0);
      done({ code, pass: count('pass'), fail: count('fail'), skip: count('skip'), output: output.slice(-6000) });
    });
  });
}

/** How many `it(` cases a shared .cases.ts file declares: the exact number a full run must report. */
export function countCases(file: string): number {
  return (readFileSync(file, 'utf8').match(/^\s+it\(/gm) ?? []).length;
}
