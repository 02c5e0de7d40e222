// A minimal request/answer channel between worker 0 and the extra workers, over the IPC channel
// child_process gives a child spawned with an 'ipc' stdio slot (Node, Bun and Deno alike). Worker 0 asks every
// worker the same question and waits a bounded time; each worker answers from a handler registered for that
// kind. Used for the metrics export (one scrape returns the host's totals) and the Admin API's connection views
// (every worker's rows, and ending them); nothing on a connection's path.
//
// Messages (JSON, the channel's own serialisation):
//   worker 0 -> worker: {weir: "ask", seq, kind, args?}
//   worker -> worker 0: {weir: "answer", seq, kind, body}
// A worker with no handler for `kind` does not answer; a worker that does not answer in time is left out
// (askWorkers) or reported as not answering (askEachWorker).
// The same always-on channel carries limit-conn's counter messages ({ch: "limit-conn", ...},
// src/cli/worker-counters.ts) and worker 0's listener and reload requests ({weir: "listeners" | "config", seq},
// answered by {weir: "ack", seq}; src/cli/workers.ts); each side ignores the others' messages.

import type { ChildProcess } from 'node:child_process';

interface AskMessage {
  weir: 'ask';
  seq: number;
  kind: string;
  /** What the handler gets (JSON); absent for a question without arguments. */
  args?: unknown;
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

/** One worker's part of an askEachWorker round: its answer, or none (it did not answer in time, or cannot be asked). */
export type WorkerReply = { pid: number; answered: true; body: unknown } | { pid: number; answered: false };

/**
 * Ask each child; resolves within `timeoutMs` (plus a timer tick) with one reply per child, in the children's
 * order: the answer, or `answered: false` for a child that did not answer in time, has no channel (restarting,
 * stopping) or could not be sent the question. Never waits longer, whatever a child does.
 */
export function askEachWorker(children: readonly ChildProcess[], kind: string, timeoutMs: number, args?: unknown): Promise<WorkerReply[]> {
  const replies: WorkerReply[] = children.map((c) => ({ pid: c.pid ?? 0, answered: false }));
  const asked = children.map((c, i) => (c.connected && c.exitCode === null ? i : -1)).filter((i) => i >= 0);
  if (asked.length === 0) return Promise.resolve(replies);
  const seq = nextSeq++;
  return new Promise((resolve) => {
    let pending = asked.length;
    let done = false;
    const listeners = new Map<number, (m: unknown) => void>();
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      for (const [i, onMessage] of listeners) children[i]!.off('message', onMessage);
      resolve(replies);
    };
    const settle = (): void => {
      if (--pending === 0) finish();
    };
    const timer = setTimeout(finish, timeoutMs);
    for (const i of asked) {
      const child = children[i]!;
      let settled = false;
      const onMessage = (m: unknown): void => {
        if (done || settled || !isAnswer(m) || m.seq !== seq) return;
        settled = true;
        replies[i] = { pid: child.pid ?? 0, answered: true, body: m.body };
        settle();
      };
      listeners.set(i, onMessage);
      child.on('message', onMessage);
      const message: AskMessage = args === undefined ? { weir: 'ask', seq, kind } : { weir: 'ask', seq, kind, args };
      const failed = (): void => {
        if (settled) return;
        settled = true; // the question never left: no answer will come
        settle();
      };
      try {
        child.send(message, (err) => {
          if (err) failed();
        });
      } catch {
        failed();
      }
    }
  });
}

/**
 * Ask every child with an IPC channel; resolves with the answers that came within `timeoutMs` (a worker
 * that is restarting or stuck is left out, never waited for longer), in the children's order.
 */
export async function askWorkers(children: readonly ChildProcess[], kind: string, timeoutMs: number): Promise<unknown[]> {
  const replies = await askEachWorker(children, kind, timeoutMs);
  return replies.flatMap((r) => (r.answered ? [r.body] : []));
}

/**
 * In an extra worker: answer worker 0's questions of `kind` with `handler(args)` (a handler that throws answers
 * null). Does nothing without an IPC channel (a worker started by hand). The channel does not keep the process
 * alive. Returns the undo.
 */
export function answerPrimary(kind: string, handler: (args: unknown) => unknown): () => void {
  const send = process.send?.bind(process);
  if (send === undefined) return () => {};
  const onMessage = (m: unknown): void => {
    if (!isAsk(m) || m.kind !== kind) return;
    let body: unknown = null;
    try {
      body = handler(m.args);
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
