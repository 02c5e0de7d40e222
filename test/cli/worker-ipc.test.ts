// The request/answer channel between worker 0 and the extra workers, with real child processes: answers come
// back in the children's order, a child that does not answer is left out after the timeout (never waited
// for longer) or, asked one by one, reported by pid; questions carry arguments to the handler; questions of
// another kind are not answered, and the channel does not keep a child alive.

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { askEachWorker, askWorkers } from '../../src/cli/worker-ipc';

const IPC = resolve(import.meta.dirname, '../../src/cli/worker-ipc.ts');
const children: ChildProcess[] = [];

/** A child with an IPC channel running `code` (an ES module body that may import answerPrimary). */
function child(code: string): ChildProcess {
  const c = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', `import { answerPrimary } from ${JSON.stringify(IPC)};\n${code}`], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  children.push(c);
  return c;
}

/** Resolves once the child has sent its first message (it is ready). */
const ready = (c: ChildProcess): Promise<void> => new Promise((r) => c.once('message', () => r()));

after(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
});

describe('worker IPC', { skip: (globalThis as { Bun?: unknown; Deno?: unknown }).Bun !== undefined || (globalThis as { Deno?: unknown }).Deno !== undefined ? 'spawns node children' : false }, () => {
  it('collects the answers of every child in order; a silent one is left out after the timeout', async () => {
    const a = child("answerPrimary('metrics', () => ({ from: 'a' })); process.send('up'); setInterval(() => {}, 1000);");
    const silent = child("process.on('message', () => {}); process.send('up'); setInterval(() => {}, 1000);");
    const b = child("answerPrimary('metrics', () => ({ from: 'b' })); answerPrimary('other', () => 'x'); process.send('up'); setInterval(() => {}, 1000);");
    await Promise.all([ready(a), ready(silent), ready(b)]);
    const started = Date.now();
    assert.deepEqual(await askWorkers([a, silent, b], 'metrics', 300), [{ from: 'a' }, { from: 'b' }]);
    const took = Date.now() - started;
    assert.ok(took >= 280 && took < 1500, `waited ${took} ms for the silent one`);
    // without the silent child the answers come as soon as both answered
    const quick = Date.now();
    assert.deepEqual(await askWorkers([b, a], 'metrics', 5000), [{ from: 'b' }, { from: 'a' }]);
    assert.ok(Date.now() - quick < 1000);
    assert.deepEqual(await askWorkers([a, b], 'other', 300), ['x'], 'a child without a handler for the kind does not answer');
  });

  it('askEachWorker: one reply per child, with the arguments handed over; a silent or gone child is reported', async () => {
    const echo = child("answerPrimary('rows', (args) => ({ got: args, pid: process.pid })); process.send('up'); setInterval(() => {}, 1000);");
    const silent = child("process.on('message', () => {}); process.send('up'); setInterval(() => {}, 1000);");
    const gone = child('process.exit(0);');
    await Promise.all([ready(echo), ready(silent), new Promise((r) => gone.once('exit', r))]);
    const started = Date.now();
    const replies = await askEachWorker([silent, echo, gone], 'rows', 300, { table: 'tcp', ids: [3] });
    const took = Date.now() - started;
    assert.deepEqual(replies, [
      { pid: silent.pid, answered: false },
      { pid: echo.pid, answered: true, body: { got: { table: 'tcp', ids: [3] }, pid: echo.pid } },
      { pid: gone.pid, answered: false },
    ]);
    assert.ok(took >= 280 && took < 1500, `waited ${took} ms for the silent one`);
    // without arguments the handler gets undefined, which JSON leaves out
    assert.deepEqual(await askEachWorker([echo], 'rows', 5000), [{ pid: echo.pid, answered: true, body: { pid: echo.pid } }]);
  });

  it('no children, or none connected: nothing to wait for', async () => {
    assert.deepEqual(await askWorkers([], 'metrics', 5000), []);
    const gone = child('process.exit(0);');
    await new Promise((r) => gone.once('exit', r));
    assert.deepEqual(await askWorkers([gone], 'metrics', 5000), []);
  });

  it('the channel does not keep an answering child alive', async () => {
    const c = child("answerPrimary('metrics', () => 1); process.send('up'); setTimeout(() => {}, 200);");
    await ready(c);
    const code = await new Promise<number | null>((r) => c.once('exit', r));
    assert.equal(code, 0);
  });
});
