// Shadow warnings as weir reports them: for a write's response, the `?warnings=true` view, `weir check`, and the
// error log, where each warning is written once (again only after it went away and came back).

import { logger } from '../log/logger';
import type { NamedRule } from '../proxy/match/space';
import { findShadowedRoutes, findShadowingAround, type ShadowWarning } from '../proxy/match/shadow';

/** Scoped keys see a warning only when they see every route it names. */
export function visibleWarnings(warnings: readonly ShadowWarning[], visible?: (id: string) => boolean): ShadowWarning[] {
  if (visible === undefined) return [...warnings];
  return warnings.filter((w) => visible(w.route) && visible(w.shadowed_by) && (w.together_with ?? []).every(visible));
}

/** Every shadowed route of a rule set. */
export function allWarnings(rules: readonly NamedRule[]): ShadowWarning[] {
  return findShadowedRoutes(rules).warnings;
}

/**
 * Above this many stream routes, shadow warnings are not computed on the event loop by themselves (in a write's
 * answer, or the error log after changes): the exact analysis is cheap for ordinary route sets, but its worst case
 * (a catch-all after thousands of disjoint CIDR routes) takes seconds, and the event loop also moves every byte
 * of every connection. `GET .../stream_routes?warnings=true` and `weir check` still compute them on request.
 */
export const AUTO_WARNINGS_MAX_ROUTES = 2000;

/** The warnings naming route `id` (a write's response). */
export function warningsAround(rules: readonly NamedRule[], id: string): ShadowWarning[] {
  return findShadowingAround(rules, id);
}

/** How long a burst of changes settles before the rules are checked again. */
const SETTLE_MS = 300;

/**
 * Logs the shadowed routes of the served rules, each warning once. check() is called after every snapshot
 * rebuild; the analysis runs once the changes have settled, off the rebuild's path.
 */
export class ShadowLog {
  private logged = new Set<string>();
  private timer: ReturnType<typeof setTimeout> | null = null;

  private skippedAt = -1;

  constructor(private readonly warn: (message: string, fields: Record<string, unknown>) => void = logger.warn) {}

  /** Schedule a check of `rules()` (read when the check runs). */
  check(rules: () => readonly NamedRule[]): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      const list = rules();
      if (list.length > AUTO_WARNINGS_MAX_ROUTES) {
        // said once per size class, not per change
        if (this.skippedAt !== AUTO_WARNINGS_MAX_ROUTES) {
          logger.info('shadowed-route check left to request: too many routes to analyse on the event loop', { routes: list.length, max: AUTO_WARNINGS_MAX_ROUTES, ask: 'GET /apisix/admin/stream_routes?warnings=true or weir check' });
          this.skippedAt = AUTO_WARNINGS_MAX_ROUTES;
        }
        return;
      }
      this.skippedAt = -1;
      this.report(allWarnings(list));
    }, SETTLE_MS);
    this.timer.unref?.();
  }

  /** Log the warnings not logged before; forget the ones that are gone. */
  report(warnings: readonly ShadowWarning[]): void {
    const now = new Set<string>();
    for (const w of warnings) {
      now.add(w.message);
      if (!this.logged.has(w.message)) this.warn('stream route is shadowed', { route: w.route, shadowed_by: w.shadowed_by, message: w.message });
    }
    this.logged = now;
  }

  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}
