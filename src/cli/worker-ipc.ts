// A minimal request/answer channel between worker 0 and the extra workers, over the IPC channel
// child_process gives a child spawned with an 'ipc' stdio slot (Node, Bun and Deno alike). Worker 0 asks every
// worker the same question and waits a bounded time; each worker answers from a handler registered for that
// kind. Used for the metrics export (one scrape returns the host's totals); nothing on a connection's path.
//
// Messages (JSON, the channel's own serialisation):
//   worker 0 -> worker: {weir: "ask", seq, kind}
//   worker -> worker 0: {weir: "answer", seq, kind, body}
// A worker with no handler for `kind` does not answer; a worker that does not answer in time is left out.
// The same always-on channel carries limit-conn's counter messages ({ch: "limit-conn", ...},
// src/cli/worker-counters.ts) and worker 0's listener and reload requests ({weir: "listeners" | "config", seq},
// answered by {weir: "ack", seq}; src/cli/workers.ts); each side ignores the others' messages.

import type { ChildProcess } from 'node:child_process';

interface AskMessage {
  weir: 'ask';
  seq: number;
  kind: string;
}

interface AnswerMessage {
  weir: 'answer';
  seq: number;
  kind: string;
  body: unknown;
}

function isAnswer(m: unknown): m is AnswerMessage {
  return typeof m === 'object' && m !== null && (m as AnswerMessage).weir === 'answer' && typeof (m as AnswerMessage).seq === 'number';
}

function isAsk(m: unknown): m is AskMessage {
  return typeof m === 'object' && m !== null && (m as AskMessage).weir === 'ask' && typeof (m as AskMessage).kind === 'string';
}

let nextSeq = 1;

/**
 * Ask every child with an IPC channel; resolves with the answers that came within `timeoutMs` (a worker
 * that is restarting or stuck is left out, never waited for longer), in the children's order.
 */
export function askWorkers(children: readonly ChildProcess[], kind: string, timeoutMs: number): Promise<unknown[]> {
  const asked = children.filter((c) => c.connected && c.exitCode === null);
  if (asked.length === 0) return Promise.resolve([]);
  const seq = nextSeq++;
  return new Promise((resolve) => {
    const answers: unknown[] = new Array(asked.length);
    const got: boolean[] = new Array(asked.length).fill(false);
    let pending = asked.length;
    const listeners: Array<(m: unknown) => void> = [];
    const finish = (): void => {
      clearTimeout(timer);
      asked.forEach((child, i) => child.off('message', listeners[i]!));
      resolve(answers.filter((_, i) => got[i]));
    };
    const timer = setTimeout(finish, timeoutMs);
    asked.forEach((child, i) => {
      const onMessage = (m: unknown): void => {
        if (!isAnswer(m) || m.seq !== seq || got[i]) return;
        got[i] = true;
        answers[i] = m.body;
        if (--pending === 0) finish();
      };
      listeners.push(onMessage);
      child.on('message', onMessage);
      const message: AskMessage = { weir: 'ask', seq, kind };
      try {
        child.send(message, (err) => {
          if (err && !got[i]) {
            got[i] = false;
            if (--pending === 0) finish();
          }
        });
      } catch {
        if (--pending === 0) finish();
      }
    });
  });
}

/**
 * In an extra worker: answer worker 0's questions of `kind` with `handler()`. Does nothing without an IPC
 * channel (a worker started by hand). The channel does not keep the process alive. Returns the undo.
 */
export function answerPrimary(kind: string, handler: () => unknown): () => void {
  const send = process.send?.bind(process);
  if (send === undefined) return () => {};
  const onMessage = (m: unknown): void => {
    if (!isAsk(m) || m.kind !== kind) return;
    let body: unknown = null;
    try {
      body = handler();
    } catch {
      body = null;
    }
    const answer: AnswerMessage = { weir: 'answer', seq: m.seq, kind, body };
    try {
      send(answer);
    } catch {
      // worker 0 went away: nothing to answer
    }
  };
  process.on('message', onMessage);
  (process.channel as { unref?(): void } | undefined)?.unref?.();
  return () => process.off('message', onMessage);
}
