// Metric families as plain data, how the families of several worker processes add up, and the Prometheus
// text exposition format (version 0.0.4) they are served in. Pure: no clock, no sockets.
// Format: https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format

export type MetricType = 'counter' | 'gauge' | 'histogram';

/**
 * How a family combines over worker processes: 'sum' adds equal label sets (counters, connection gauges);
 * 'primary' keeps the first process's samples (facts every worker holds alike, such as node health).
 */
export type MergeRule = 'sum' | 'primary';

export interface Sample {
  /** Label values, in the family's labelNames order. */
  labels: string[];
  /** The value; for a histogram its count. */
  value: number;
  /** Histogram only: observations per bucket (not cumulative), the last one for +Inf. */
  counts?: number[];
  /** Histogram only: the sum of the observations. */
  sum?: number;
}

/** One metric family. JSON-safe, so workers can send theirs to the primary as it is. */
export interface Family {
  name: string;
  help: string;
  type: MetricType;
  merge: MergeRule;
  labelNames: string[];
  /** Histogram only: the upper bounds of the buckets, ascending, without +Inf. */
  buckets?: number[];
  samples: Sample[];
}

/** The HTTP Content-Type of the text format. */
export const EXPOSITION_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

function escapeLabel(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}

function escapeHelp(text: string): string {
  return text.replace(/[\\\n]/g, (c) => (c === '\n' ? '\\n' : '\\\\'));
}

function formatNumber(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  return String(n);
}

function labelText(names: readonly string[], values: readonly string[], extra?: string): string {
  const parts: string[] = [];
  for (let i = 0; i < names.length; i++) parts.push(`${names[i]}="${escapeLabel(values[i] ?? '')}"`);
  if (extra !== undefined) parts.push(extra);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

/** Families as Prometheus text, in the order given; samples sorted by their labels, so scrapes read alike. */
export function renderExposition(families: readonly Family[]): string {
  const out: string[] = [];
  for (const f of families) {
    out.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
    const samples = [...f.samples].sort((a, b) => compareLabels(a.labels, b.labels));
    for (const s of samples) {
      if (f.type !== 'histogram') {
        out.push(`${f.name}${labelText(f.labelNames, s.labels)} ${formatNumber(s.value)}`);
        continue;
      }
      const bounds = f.buckets ?? [];
      const counts = s.counts ?? [];
      let cumulative = 0;
      for (let i = 0; i <= bounds.length; i++) {
        cumulative += counts[i] ?? 0;
        const le = i < bounds.length ? formatNumber(bounds[i]!) : '+Inf';
        out.push(`${f.name}_bucket${labelText(f.labelNames, s.labels, `le="${le}"`)} ${formatNumber(cumulative)}`);
      }
      out.push(`${f.name}_sum${labelText(f.labelNames, s.labels)} ${formatNumber(s.sum ?? 0)}`);
      out.push(`${f.name}_count${labelText(f.labelNames, s.labels)} ${formatNumber(s.value)}`);
    }
  }
  out.push('');
  return out.join('\n');
}

function compareLabels(a: readonly string[], b: readonly string[]): number {
  for (let i = 0; i < a.length; i++) {
    const x = a[i] ?? '';
    const y = b[i] ?? '';
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/**
 * The families of several processes as one host's: `lists[0]` is the primary's. A family is identified by
 * its name; label sets by their values. Families only some processes have are kept.
 */
export function mergeFamilies(lists: readonly (readonly Family[])[]): Family[] {
  const byName = new Map<string, Family>();
  const order: string[] = [];
  const index = new Map<string, Map<string, Sample>>();
  for (let p = 0; p < lists.length; p++) {
    for (const f of lists[p]!) {
      let merged = byName.get(f.name);
      if (merged === undefined) {
        merged = { ...f, samples: [] };
        byName.set(f.name, merged);
        order.push(f.name);
        index.set(f.name, new Map());
      } else if (f.merge === 'primary') {
        continue; // the first process that had it answers for all
      }
      const seen = index.get(f.name)!;
      for (const s of f.samples) {
        const key = s.labels.join('\u0000');
        const have = seen.get(key);
        if (have === undefined) {
          const copy: Sample = { labels: [...s.labels], value: s.value };
          if (s.counts !== undefined) copy.counts = [...s.counts];
          if (s.sum !== undefined) copy.sum = s.sum;
          seen.set(key, copy);
          merged.samples.push(copy);
          continue;
        }
        have.value += s.value;
        if (s.sum !== undefined) have.sum = (have.sum ?? 0) + s.sum;
        if (s.counts !== undefined) {
          const counts = (have.counts ??= []);
          for (let i = 0; i < s.counts.length; i++) counts[i] = (counts[i] ?? 0) + s.counts[i]!;
        }
      }
    }
  }
  return order.map((name) => byName.get(name)!);
}

/** Is this a list of families (what a worker sent)? A shape check, not a full validation. */
export function isFamilyList(x: unknown): x is Family[] {
  return Array.isArray(x) && x.every((f) => typeof f === 'object' && f !== null && typeof (f as Family).name === 'string' && Array.isArray((f as Family).samples));
}
