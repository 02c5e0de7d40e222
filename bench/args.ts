// Command line of `npm run bench` (bench/run.ts): --help and strict checking, before anything starts. An unknown
// flag is an error (exit 2), never ignored: a mistyped option must not start a 10-minute run.

export const BENCH_USAGE = `usage: npm run bench -- [options]

  --quick              1 repetition, 1 s per measurement (about 1 minute)
  --reps N             repetitions per measurement (default 3)
  --dur S              seconds per measurement (default 3; 1 with --quick)
  --targets a,b        direct, nginx, haproxy, bunnative, weir, ... (default all)
  --only w1,w2         workloads (bulk / tlsbulk stand for both connection counts)
  --idle-conns N       idle connections of the memory workload (default 9000)
  --weir-only          only the weir-only figures (no other proxy, no load generator)
  --no-weir-only       skip the weir-only figures
  --src                run weir from the sources under Bun even when dist/weir exists
  --out DIR            results directory (default bench/results)
  --tables FILE        print a saved run's tables again
  -h, --help           this text
`;

const VALUE_OPTIONS = ['--reps', '--dur', '--targets', '--only', '--idle-conns', '--out', '--tables'];
const NUMBER_OPTIONS = ['--reps', '--dur', '--idle-conns'];
const FLAGS = ['--quick', '--weir-only', '--no-weir-only', '--src'];

/** Check argv (without node and the script): 'help', 'run', or a one-line error (the caller exits 2). */
export function checkBenchArgs(argv: readonly string[]): { kind: 'help' } | { kind: 'run' } | { kind: 'error'; message: string } {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-h' || a === '--help') return { kind: 'help' };
    if (FLAGS.includes(a)) continue;
    if (VALUE_OPTIONS.includes(a)) {
      const v = argv[i + 1];
      if (v === undefined || v.startsWith('--')) return { kind: 'error', message: `${a} needs a value` };
      if (NUMBER_OPTIONS.includes(a) && !(Number.isInteger(Number(v)) && Number(v) > 0)) return { kind: 'error', message: `${a}: expected a positive whole number, got "${v}"` };
      i++;
      continue;
    }
    return { kind: 'error', message: `unknown option "${a}" (try --help)` };
  }
  return { kind: 'run' };
}
