// R5 kill -9 during writes. Each round: start weir on the same database, 10 writers PUT upstreams through the Admin
// API (each overwriting its own few ids with a rising sequence number) and one offline CLI write runs; SIGKILL both
// after a random 0-2 s. Then: PRAGMA integrity_check must be ok, and every acknowledged write must be there with its
// value or the one write that was in flight when the process died (never an older one). Restart-to-serving p50/p99.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { openSqlite } from '../../src/runtime/index';
import { CONNECTION_PRAGMAS } from '../../src/store/pragmas';
import { freePort } from '../helpers/net';
import { prng } from '../helpers/random';
import { FigureSheet, isMain, percentile, runAsScript, sleep, type Figures, type Size } from './harness';
import { adminPut, ROOT, startChild, waitServing, writeConfig } from './proc';

const WRITERS = 10;
const IDS_PER_WRITER = 5;

interface WriterState {
  /** id -> last acknowledged sequence number */
  acked: Map<string, number>;
  /** id -> sequence number sent and not (yet) acknowledged */
  inFlight: Map<string, number>;
}

function body(seq: number): unknown {
  return { type: 'roundrobin', nodes: { '127.0.0.1:1980': 1 }, desc: String(seq) };
}

export async function runR5(size: Size, rounds = size === 'short' ? 3 : 100): Promise<Figures> {
  const sheet = new FigureSheet('R5', 'kill -9 during writes');
  const rnd = prng(5);
  const dir = mkdtempSync(join(tmpdir(), 'weir-r5-'));
  const writers: WriterState[] = Array.from({ length: WRITERS }, () => ({ acked: new Map(), inFlight: new Map() }));
  let seq = 0;
  let ackedTotal = 0;
  let lost = 0;
  let stale = 0;
  let integrityOk = 0;
  let cliKills = 0;
  let cliIntegrity = 0;
  const restartMs: number[] = [];
  let notStarted = 0;
  const cliAcked = new Map<string, number>();
  try {
    const adminPort = await freePort();
    const config = writeConfig(dir, { tcp: [], adminPort });
    for (let round = 0; round < rounds; round++) {
      const child = startChild(config);
      const ready = await waitServing(child, adminPort);
      if (ready === null) {
        notStarted++;
        await child.stop('SIGKILL');
        continue;
      }
      restartMs.push(ready);
      let stop = false;
      const loops = writers.map(async (w, wi) => {
        while (!stop) {
          const id = `w${wi}-${Math.floor(rnd() * IDS_PER_WRITER)}`;
          const n = ++seq;
          w.inFlight.set(id, n);
          const status = await adminPut(adminPort, `/apisix/admin/upstreams/${id}`, body(n), 3000);
          if (status === 200 || status === 201) {
            w.acked.set(id, n);
            w.inFlight.delete(id);
            ackedTotal++;
          } else return; // the process is gone: the in-flight write stays "maybe"
        }
      });
      // an offline CLI write racing the server (both write the same file through SQLite's locks)
      const cliId = `cli-${round}`;
      const cliSeq = ++seq;
      const cli = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/main.ts'), 'upstreams', 'put', cliId, JSON.stringify(body(cliSeq)), '-c', config], { cwd: ROOT, stdio: 'ignore' });
      const cliDone = new Promise<number | null>((r) => cli.on('exit', (code) => r(code)));
      const killCliAt = setTimeout(() => cli.kill('SIGKILL'), 300 + Math.floor(rnd() * 2500)); // sometimes before, sometimes after its commit
      await sleep(Math.floor(rnd() * 2000));
      child.child.kill('SIGKILL');
      stop = true;
      await child.exited;
      await Promise.all(loops);
      const cliCode = await cliDone;
      clearTimeout(killCliAt);
      if (cliCode === 0) cliAcked.set(cliId, cliSeq);
      else cliKills++;

      // check the file as a fresh process would find it
      const db = openSqlite(join(dir, 'weir.db'));
      try {
        const check = db.prepare('PRAGMA integrity_check').all().map((r) => String(Object.values(r)[0]));
        if (check.length === 1 && check[0] === 'ok') {
          integrityOk++;
          cliIntegrity++;
        }
        const read = db.prepare('SELECT value FROM upstreams WHERE id = ?');
        const descOf = (id: string): number | null => {
          const row = read.get(id);
          return row === undefined ? null : Number((JSON.parse(String(row.value)) as { desc?: string }).desc);
        };
        for (const w of writers) {
          for (const [id, n] of w.acked) {
            const got = descOf(id);
            const maybe = w.inFlight.get(id);
            if (got === null) lost++;
            else if (got !== n && got !== maybe) stale++;
            // what is stored now is what the next round must keep
            if (got !== null && got !== n) w.acked.set(id, got);
          }
          w.inFlight.clear();
        }
        for (const [id, n] of cliAcked) if (descOf(id) !== n) lost++;
      } finally {
        db.close();
      }
    }
    const jm = openSqlite(join(dir, 'weir.db'));
    const journal = String(Object.values(jm.prepare('PRAGMA journal_mode').get() ?? {})[0]);
    jm.close();
    restartMs.sort((a, b) => a - b);
    sheet.set('rounds', rounds).set('acknowledged_writes', ackedTotal + cliAcked.size).set('cli_writes_killed', cliKills).set('cli_writes_acked', cliAcked.size);
    sheet.check('lost', lost, '0', lost === 0);
    sheet.check('stale', stale, '0', stale === 0);
    sheet.check('integrity_ok_rounds', `${integrityOk}/${rounds}`, `${rounds}/${rounds}`, integrityOk === rounds);
    sheet.check('journal_mode', journal, 'wal', journal === 'wal');
    const sync = CONNECTION_PRAGMAS.includes('PRAGMA synchronous = FULL');
    sheet.check('synchronous_full', sync, 'true', sync);
    sheet.check('not_restarted', notStarted, '0', notStarted === 0);
    sheet.set('restart_to_serving_p50_ms', percentile(restartMs, 50)).set('restart_to_serving_p99_ms', percentile(restartMs, 99));
    if (size === 'full') sheet.check('acknowledged_writes_total', ackedTotal + cliAcked.size, '>= 1000', ackedTotal + cliAcked.size >= 1000);
    void cliIntegrity;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return sheet.done();
}

if (isMain(import.meta.url)) {
  await runAsScript({ id: 'r5-kill9', usage: 'R5: 100 rounds of kill -9 during admin and CLI writes (--short: 3 rounds).' }, runR5);
}
