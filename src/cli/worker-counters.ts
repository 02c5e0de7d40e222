// limit-conn's counts with several workers: the IPC channel between worker 0 and each extra worker carries them
// (src/plugins/shared-counters.ts). Worker 0 serves each child it starts; an extra worker asks worker 0.

import type { ChildProcess } from 'node:child_process';
import { LocalConnCounters, type ConnCounters } from '../plugins/conn-counters';
import { CounterHost, RemoteConnCounters, isCounterMessage, type CounterMessage } from '../plugins/shared-counters';

/** Worker 0: its own counts, served to every worker it starts (call `serve` on each child, restarts included). */
export function primaryCounters(): { counters: LocalConnCounters; serve(child: ChildProcess): void } {
  const counters = new LocalConnCounters();
  const host = new CounterHost(counters);
  return {
    counters,
    serve(child) {
      const link = host.connect((msg) => {
        if (child.connected) child.send(msg);
      });
      child.on('message', (msg: unknown) => {
        if (isCounterMessage(msg)) link.onMessage(msg);
      });
      child.once('disconnect', () => link.close());
      child.once('exit', () => link.close());
    },
  };
}

/** An extra worker: counts live in worker 0 when this process has a channel to it, else here. */
export function workerCounters(): ConnCounters {
  const local = new LocalConnCounters();
  if (typeof process.send !== 'function') return local;
  const remote = new RemoteConnCounters((msg: CounterMessage) => {
    if (!process.connected) throw new Error('no channel to worker 0');
    process.send!(msg);
  }, local);
  process.on('message', (msg: unknown) => {
    if (isCounterMessage(msg)) remote.onMessage(msg);
  });
  process.once('disconnect', () => remote.close());
  // the channel must not keep a stopping worker alive
  (process as { channel?: { unref?(): void } }).channel?.unref?.();
  return remote;
}
