// R11 live change and reload without drops: bench/soak.ts (weir under Bun, new connections at a fixed rate, long
// connections held) run twice. Phase 1: Admin API writes on routes, upstreams and listener objects, config reloads
// that add and remove a listener, and invalid-config reloads; 0 failed new connections, 0 long ones cut, the old
// config serving after every refused reload. Phase 2: binary upgrades handing over the listeners; the failed
// connections are reported (the plan sets no target), long ones must survive.

import { resolve } from 'node:path';
import { runSoak, type SoakOptions, type SoakResult } from '../../bench/soak';
import { FigureSheet, isMain, runAsScript, type Figures, type Size } from './harness';
import { ROOT } from './proc';

type Phase = Omit<SoakOptions, 'root' | 'workers' | 'log'>;

/** The counts of each phase: the plan's (1,000 conn/s) for the full run, a few seconds at 300 conn/s for npm test. */
export const COUNTS: Record<Size, { changes: Phase; upgrades: Phase }> = {
  full: {
    changes: { seconds: 30, rate: 1000, long: 200, closeLong: 20, changes: 200, reloads: 20, upgrades: 0, badReloads: 4 },
    upgrades: { seconds: 30, rate: 1000, long: 200, closeLong: 0, changes: 0, reloads: 0, upgrades: 20 },
  },
  short: {
    changes: { seconds: 4, rate: 300, long: 40, closeLong: 8, changes: 40, reloads: 4, upgrades: 0, badReloads: 2 },
    upgrades: { seconds: 3, rate: 300, long: 40, closeLong: 0, changes: 0, reloads: 0, upgrades: 2 },
  },
};

/** Run both phases; `phases` is exposed so the npm test can assert on the raw soak results too. */
export async function runR11(size: Size, log: (line: string) => void = () => {}): Promise<Figures & { phases: SoakResult[] }> {
  const sheet = new FigureSheet('R11', 'live changes, reloads, upgrades');
  const c = COUNTS[size];
  const run = (p: Phase): Promise<SoakResult> => runSoak({ ...p, workers: 1, root: resolve(ROOT), log });
  const a = await run(c.changes);
  const b = await run(c.upgrades);
  const tried = (r: SoakResult): number => r.shortOk + r.shortFailedCount;

  sheet.set('changes phase: new connections', tried(a)).set('changes phase: conn/s', a.rate);
  sheet.check('changes + reloads: failed connections', a.shortFailedCount, '0', a.shortFailedCount === 0);
  sheet.check('admin changes / reloads done', `${a.changesOk}/${c.changes.changes}, ${a.reloadsOk}/${c.changes.reloads}`, 'all', a.changesOk === c.changes.changes && a.reloadsOk === c.changes.reloads);
  const bad = c.changes.badReloads ?? 0;
  sheet.check('invalid reloads refused, old config serving on', `${a.badReloadsRefused}/${bad}, ${a.badReloadsServedOn}/${bad}`, 'all', a.badReloadsRefused === bad && a.badReloadsServedOn === bad);
  sheet.check('long connections cut (route left alone)', a.longCut + b.longCut, '0', a.longCut + b.longCut === 0);
  sheet.check('on_change close: cut / access lines', `${a.closeCut}/${a.routeChangedLines} of ${c.changes.closeLong}`, 'exactly its sessions', a.closeCut === c.changes.closeLong && a.routeChangedLines === c.changes.closeLong);

  sheet.set('upgrade phase: new connections', tried(b)).set('upgrade phase: conn/s', b.rate);
  sheet.check('upgrades done', `${b.upgradesOk}/${c.upgrades.upgrades}`, 'all', b.upgradesOk === c.upgrades.upgrades && b.pids.length === c.upgrades.upgrades + 1);
  sheet.set('upgrades: failed connections', b.shortFailedCount);
  sheet.set('admin retries during upgrades', b.adminRetries);
  sheet.set('accept-queue overflows', a.listenOverflows + b.listenOverflows);
  const errors = [...a.errors, ...b.errors];
  sheet.check('errors, weir processes left', `${errors.length}, ${[a, b].filter((r) => !r.allExited).length}`, '0, 0', errors.length === 0 && a.allExited && b.allExited);
  if (errors.length > 0) sheet.set('first errors', errors.slice(0, 3).join(' | '));
  const failed = [...a.shortFailed, ...b.shortFailed];
  if (failed.length > 0) sheet.set('first failures', failed.slice(0, 3).join(' | '));
  return { ...sheet.done(), phases: [a, b] };
}

if (isMain(import.meta.url)) {
  await runAsScript(
    {
      id: 'r11-live-changes',
      usage:
        'R11: at 1,000 new conn/s with 200 long connections, 200 Admin API changes, 20 reloads and 4 invalid reloads (30 s),\n' +
        'then 20 binary upgrades (30 s). --short: 300 conn/s, 40 changes, 4 + 2 reloads, then 2 upgrades (7 s).',
    },
    async (size) => {
      const { phases: _, ...f } = await runR11(size, (line) => process.stderr.write(`${line}\n`));
      return f;
    },
  );
}
