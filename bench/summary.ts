// Benchmark results: medians over repetitions, ratios to nginx, to direct and to the bare Bun-native
// reference, the proxy's CPU per unit of work, and the printed tables (Markdown, also saved).

import { MAIN, type Metrics, type Workload, WORKLOADS } from './workloads';

export interface Sample {
  rep: number;
  workload: Workload;
  target: string;
  metrics?: Metrics;
  error?: string;
}

export interface Cell {
  n: number;
  median: Metrics;
  min: number | null;
  max: number | null;
  errors: string[];
  vs_nginx: number | null;
  vs_direct: number | null;
  vs_bunnative: number | null;
  /**
   * Median over repetitions of this target's rate divided by bunnative's in the same repetition. The targets of
   * one repetition run back to back, seconds apart, so a slow spell of the machine hits both; this is the
   * ratio issue 7's bar is read from. vs_bunnative (ratio of the medians) is kept beside it.
   */
  paired_vs_bunnative: number | null;
  /**
   * ppconn only: median over repetitions of this target's ppconn rate divided by its pconn rate in the same
   * repetition (the PROXY protocol's cost; issue 14's bar is >= 0.97).
   */
  paired_vs_plain: number | null;
  /** weirp only: the paired ratio to plain weir in the same run (issue 13's bar: at least 0.95 on conn and rr). */
  paired_vs_weir: number | null;
  cpu_vs_nginx: number | null;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

const ratio = (a: number | undefined, b: number | undefined): number | null =>
  a === undefined || b === undefined || !b || !Number.isFinite(a) ? null : +(a / b).toFixed(2);

/** Median of per-repetition ratios a/b of `metric` (repetitions where both targets have a result). */
function pairedRatio(samples: Sample[], w: Workload, a: string, b: string, metric: string, wb: Workload = w): number | null {
  const byRep = (t: string, wl: Workload): Map<number, number> =>
    new Map(samples.filter((s) => s.workload === wl && s.target === t && s.metrics?.[metric] !== undefined).map((s) => [s.rep, s.metrics![metric]!]));
  const mine = byRep(a, w);
  const theirs = byRep(b, wb);
  const ratios: number[] = [];
  for (const [rep, v] of mine) {
    const u = theirs.get(rep);
    if (u !== undefined && u > 0 && Number.isFinite(v)) ratios.push(v / u);
  }
  return ratios.length === 0 ? null : +median(ratios).toFixed(2);
}

export function summarize(samples: Sample[], targets: readonly string[]): Record<string, Record<string, Cell>> {
  const out: Record<string, Record<string, Cell>> = {};
  for (const w of WORKLOADS) {
    const { metric } = MAIN[w];
    const row: Record<string, Cell> = {};
    for (const t of targets) {
      const mine = samples.filter((s) => s.workload === w && s.target === t);
      if (mine.length === 0) continue;
      const ok = mine.filter((s) => s.metrics !== undefined).map((s) => s.metrics!);
      const keys = new Set(ok.flatMap((m) => Object.keys(m)));
      const med: Metrics = {};
      for (const k of keys) med[k] = median(ok.map((m) => m[k]!).filter((v) => Number.isFinite(v)));
      const main = ok.map((m) => m[metric]!).filter((v) => Number.isFinite(v));
      row[t] = {
        n: ok.length,
        median: med,
        min: main.length ? Math.min(...main) : null,
        max: main.length ? Math.max(...main) : null,
        errors: mine.filter((s) => s.error).map((s) => s.error!),
        vs_nginx: null,
        vs_direct: null,
        vs_bunnative: null,
        paired_vs_bunnative: null,
        paired_vs_plain: null,
        paired_vs_weir: null,
        cpu_vs_nginx: null,
      };
    }
    for (const cell of Object.values(row)) {
      const v = cell.median[metric];
      cell.vs_nginx = ratio(v, row.nginx?.median[metric]);
      cell.vs_direct = ratio(v, row.direct?.median[metric]);
      cell.vs_bunnative = ratio(v, row.bunnative?.median[metric]);
      cell.cpu_vs_nginx = ratio(cell.median.cpu_us_per_op, row.nginx?.median.cpu_us_per_op);
    }
    for (const t of Object.keys(row)) {
      row[t]!.paired_vs_bunnative = pairedRatio(samples, w, t, 'bunnative', metric);
      if (w === 'ppconn') row[t]!.paired_vs_plain = pairedRatio(samples, w, t, t, metric, 'pconn');
    }
    if (row.weirp !== undefined) row.weirp.paired_vs_weir = pairedRatio(samples, w, 'weirp', 'weir', metric);
    if (Object.keys(row).length > 0) out[w] = row;
  }
  return out;
}

function fmt(v: number | undefined | null, digits = 0): string {
  if (v === undefined || v === null || !Number.isFinite(v)) return '—';
  return v >= 100 ? v.toFixed(0) : v.toFixed(Math.max(digits, v < 10 ? 2 : 1));
}

/** Markdown: one table of rates with ratios, one of CPU per unit; weir-only numbers below. */
export function renderTables(res: Record<string, Record<string, Cell>>, targets: readonly string[], weirOnly: Record<string, number> | null): string {
  const lines: string[] = [];
  lines.push(`| workload | ${targets.join(' | ')} |`, `|---|${targets.map(() => '---').join('|')}|`);
  for (const [w, row] of Object.entries(res)) {
    const { metric, unit } = MAIN[w as Workload];
    const cells = targets.map((t) => {
      const c = row[t];
      if (!c) return 'n/a';
      if (c.n === 0) return `error: ${(c.errors[0] ?? '').slice(0, 40)}`;
      const parts = [`${fmt(c.median[metric])} ${unit}`];
      if (t !== 'nginx' && c.vs_nginx !== null) parts.push(`${c.vs_nginx}× nginx`);
      if (t !== 'direct' && t !== 'nginx' && c.vs_direct !== null && w !== 'mem') parts.push(`${c.vs_direct}× direct`);
      if (t.startsWith('weir') && c.paired_vs_bunnative !== null) {
        const ofMedians = c.vs_bunnative !== null && c.n > 1 ? ` (ratio of medians ${c.vs_bunnative}×)` : '';
        parts.push(`**${c.paired_vs_bunnative}× bunnative**${ofMedians}`);
      }
      if (c.paired_vs_weir !== null) parts.push(`**${c.paired_vs_weir}× weir**`);
      if (w === 'rr' || w === 'conn') parts.push(`p50 ${fmt(c.median.p50_ms, 2)} / p99 ${fmt(c.median.p99_ms, 2)} ms`);
      if (w === 'ppconn' && c.paired_vs_plain !== null) parts.push(`**${c.paired_vs_plain}× pconn**`);
      if (w === 'udp' && c.median.lost_pct !== undefined) parts.push(`loss ${fmt(c.median.lost_pct, 2)} %`);
      if (w === 'mem' && c.median.anon_mb_at_10k !== undefined) parts.push(`anon ${fmt(c.median.anon_mb_at_10k, 1)} MiB`);
      return parts.join(' · ');
    });
    lines.push(`| ${w} | ${cells.join(' | ')} |`);
  }
  lines.push('', `Proxy CPU per unit of work (µs, user+system, of which user; ratio to nginx, lower is better):`, '');
  lines.push(`| workload | ${targets.join(' | ')} |`, `|---|${targets.map(() => '---').join('|')}|`);
  for (const [w, row] of Object.entries(res)) {
    if (w === 'mem') continue;
    const per = MAIN[w as Workload].per;
    lines.push(`| ${w} (per ${per}) | ${targets.map((t) => {
      const c = row[t];
      if (!c || c.median.cpu_us_per_op === undefined) return '—';
      const usr = c.median.usr_us_per_op === undefined ? '' : ` / usr ${fmt(c.median.usr_us_per_op, 2)}`;
      return `${fmt(c.median.cpu_us_per_op, 2)}${usr}${c.cpu_vs_nginx !== null && t !== 'nginx' ? ` (${c.cpu_vs_nginx}×)` : ''}`;
    }).join(' | ')} |`);
  }
  if (weirOnly !== null) lines.push('', renderWeirOnly(weirOnly));
  return lines.join('\n');
}

/** What the weir-only keys measure (bench/weir-only.ts); a key without a line here is printed bare. */
const WEIR_ONLY_LABELS: Record<string, string> = {
  cold_start_ms: 'cold start, empty store: spawn → first proxied reply (ms)',
  cold_start_10k_routes_ms: 'cold start, 10,000 routes (ms)',
  admin_first_effective_10k_ms: 'the first Admin API PUT after start → the next connection uses it (code not compiled yet), 10,000 routes (ms)',
  admin_put_10k_ms: 'Admin API PUT answered, 10,000 routes, median of 7 after 3 untimed (ms)',
  admin_effective_10k_ms: 'Admin API PUT → the next connection uses the change, 10,000 routes, same PUTs (ms)',
  cli_write_10k_ms: 'offline CLI write (`weir upstreams put`), 10,000 routes, in-process (ms)',
  cold_start_10k_plugin_routes_ms: 'cold start, 10,000 routes each with ip-restriction and limit-conn (ms)',
  admin_first_effective_10k_plugins_ms: 'the first Admin API PUT after start → next connection uses it, 10,000 routes with plugins (ms)',
  admin_put_10k_plugins_ms: 'Admin API PUT answered, 10,000 routes with plugins (ms)',
  admin_effective_10k_plugins_ms: 'Admin API PUT → the next connection uses the change, 10,000 routes with plugins (ms)',
};

/** The weir-only numbers as a two-column table, in the order measured. */
export function renderWeirOnly(weirOnly: Record<string, number>): string {
  const lines = ['| weir only | |', '|---|---|'];
  for (const [k, v] of Object.entries(weirOnly)) {
    const label = WEIR_ONLY_LABELS[k];
    lines.push(`| ${label === undefined ? k : `${label} \`${k}\``} | ${v} |`);
  }
  return lines.join('\n');
}
