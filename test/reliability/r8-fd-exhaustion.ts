// R8 fd exhaustion and connection caps: weir under `prlimit --nofile=256`. (a) Default cap (below half the fd
// limit): connections past it are refused at once, the held ones keep flowing, the Admin API answers, accept resumes
// at once when they close, refusals are logged at most once a second with the suppressed count. (b) A cap set above
// the fd limit: the runtime itself meets EMFILE; weir must stay alive and accept again within 1 s of fds freeing up.

import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { freePort } from '../helpers/net';
import { defaultMaxConnections } from '../../src/lib/fd-limit';
import { FigureSheet, fdCount, isMain, runAsScript, sleep, type Figures, type Size } from './harness';
import { adminPut, adminStatus, startChild, waitServing, writeConfig } from './proc';

interface Conn {
  s: net.Socket;
  echoed: boolean;
  closed: boolean;
  closedAt: number;
}

function open(port: number): Conn {
  const s = net.connect(port, '127.0.0.1');
  const c: Conn = { s, echoed: false, closed: false, closedAt: 0 };
  s.on('connect', () => s.write('x'));
  s.on('data', () => (c.echoed = true));
  s.on('error', () => {});
  s.on('close', () => {
    c.closed = true;
    c.closedAt = Date.now();
  });
  return c;
}

async function settle(conns: Conn[], ms: number): Promise<void> {
  const t0 = Date.now();
  while (Date.now() - t0 < ms && conns.some((c) => !c.echoed && !c.closed)) await sleep(20);
}

export async function runR8(size: Size): Promise<Figures> {
  const sheet = new FigureSheet('R8', 'fd exhaustion and connection caps');
  const NOFILE = 256;
  const cap = defaultMaxConnections(NOFILE);
  const extra = size === 'short' ? 40 : 200;
  const echo = net.createServer((s) => {
    s.on('error', () => {});
    s.pipe(s);
  });
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  const up = (echo.address() as net.AddressInfo).port;
  const dir = mkdtempSync(join(tmpdir(), 'weir-r8-'));
  try {
    // (a) the default cap
    const adminPort = await freePort();
    const port = await freePort();
    const child = startChild(writeConfig(dir, { tcp: [`"127.0.0.1:${port}"`], adminPort }), NOFILE);
    if ((await waitServing(child, adminPort)) === null) throw new Error(`weir did not start: ${child.stderr()}`);
    await adminPut(adminPort, '/apisix/admin/stream_routes/1', { upstream: { type: 'roundrobin', nodes: { [`127.0.0.1:${up}`]: 1 } } });
    await sleep(300);
    const conns: Conn[] = [];
    const t0 = Date.now();
    for (let i = 0; i < cap + extra; i++) conns.push(open(port));
    await settle(conns, 5000);
    const held = conns.filter((c) => c.echoed && !c.closed);
    const refused = conns.filter((c) => c.closed && !c.echoed);
    const slowestRefusalMs = Math.max(0, ...refused.map((c) => c.closedAt - t0));
    const adminDuring = await adminStatus(adminPort);
    // held connections keep flowing
    let flowing = 0;
    await Promise.all(
      held.slice(0, 20).map(
        (c) =>
          new Promise<void>((resolve) => {
            c.s.once('data', () => {
              flowing++;
              resolve();
            });
            c.s.write('y');
            setTimeout(resolve, 2000);
          }),
      ),
    );
    const fdsAtCap = fdCount(child.pid);
    // release; a new connection is accepted (and proxied) at once
    for (const c of conns) c.s.destroy();
    const tFree = Date.now();
    let resumeMs: number | null = null;
    while (Date.now() - tFree < 3000) {
      const p = open(port);
      await settle([p], 500);
      p.s.destroy();
      if (p.echoed) {
        resumeMs = Date.now() - tFree;
        break;
      }
      await sleep(20);
    }
    await sleep(1200); // the suppressed-count summary line
    const refusedLines = child.stderr().split('\n').filter((l) => l.includes('connection refused: connection cap reached'));
    const alive = child.child.exitCode === null;
    await child.stop();

    sheet.set('fd_limit', NOFILE).set('max_connections_default', cap).set('opened', cap + extra);
    sheet.check('held', held.length, `= cap (${cap})`, held.length === cap);
    sheet.check('refused', refused.length, `= ${extra}`, refused.length === extra);
    sheet.check('slowest_refusal_ms', slowestRefusalMs, '< 1000 (refused at once, never left hanging)', slowestRefusalMs < 1000);
    sheet.check('admin_status_at_cap', adminDuring, '200', adminDuring === 200);
    sheet.check('held_still_flowing', flowing, `${Math.min(20, held.length)}`, flowing === Math.min(20, held.length));
    sheet.set('fds_at_cap', fdsAtCap);
    sheet.check('accept_resume_ms', resumeMs, '<= 1000', resumeMs !== null && resumeMs <= 1000);
    sheet.check('refusal_log_lines', refusedLines.length, '<= 1 per second (+1 summary)', refusedLines.length <= Math.ceil((Date.now() - t0) / 1000) + 1);
    sheet.check('refusal_lines_carry_suppressed', refusedLines.some((l) => l.includes('suppressed=')), 'true', refusedLines.some((l) => l.includes('suppressed=')) || extra <= 1);
    sheet.check('alive_a', alive, 'true', alive);

    // (b) a cap above the fd limit: the runtime meets EMFILE itself
    const adminPort2 = await freePort();
    const port2 = await freePort();
    const dir2 = join(dir, 'b');
    const child2 = startChild(writeConfig(mkdtempSync(dir2), { tcp: [`"127.0.0.1:${port2}"`], adminPort: adminPort2, streamExtra: ['max_connections: 5000'] }), NOFILE);
    if ((await waitServing(child2, adminPort2)) === null) throw new Error(`weir did not start: ${child2.stderr()}`);
    await adminPut(adminPort2, '/apisix/admin/stream_routes/1', { upstream: { type: 'roundrobin', nodes: { [`127.0.0.1:${up}`]: 1 } } });
    await sleep(300);
    const flood: Conn[] = [];
    const tB = Date.now();
    for (let i = 0; i < NOFILE; i++) flood.push(open(port2));
    await settle(flood, 5000);
    const adminAtEmfile = await adminStatus(adminPort2, '/apisix/admin/upstreams', 1500);
    const heldB = flood.filter((c) => c.echoed && !c.closed).length;
    const hanging = flood.filter((c) => !c.echoed && !c.closed).length;
    for (const c of flood) c.s.destroy();
    const tFree2 = Date.now();
    let resume2: number | null = null;
    while (Date.now() - tFree2 < 3000) {
      const p = open(port2);
      await settle([p], 500);
      p.s.destroy();
      if (p.echoed) {
        resume2 = Date.now() - tFree2;
        break;
      }
      await sleep(20);
    }
    await sleep(1200); // the suppressed-count summary line
    const alive2 = child2.child.exitCode === null;
    const seconds = Math.ceil((Date.now() - tB) / 1000);
    const emfileLines = child2.stderr().split('\n').filter((l) => /EMFILE/.test(l)).length;
    const emfileSuppressed = child2.stderr().includes('suppressed=');
    await child2.stop();
    sheet.set('b_cap_above_fd_limit', 5000).set('b_held', heldB).set('b_hanging', hanging);
    sheet.set('b_admin_status_at_emfile', adminAtEmfile);
    sheet.check('b_alive', alive2, 'true', alive2);
    sheet.check('b_accept_resume_ms', resume2, '<= 1000', resume2 !== null && resume2 <= 1000);
    sheet.set('b_seconds', seconds);
    sheet.check('b_emfile_log_lines', emfileLines, '<= 1 per second (+1 summary)', emfileLines <= seconds + 1);
    sheet.check('b_emfile_lines_carry_suppressed', emfileSuppressed, 'true', emfileSuppressed || emfileLines === 0);
  } finally {
    echo.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return sheet.done();
}

if (isMain(import.meta.url)) {
  await runAsScript({ id: 'r8-fd-exhaustion', usage: 'R8: weir under prlimit --nofile=256: default cap + 200 over it, then a cap above the fd limit (--short: +40).' }, runR8);
}
