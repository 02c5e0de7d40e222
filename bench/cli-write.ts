// weir-only: the in-process time of one offline CLI write, `weir upstreams put ID BODY -c CONFIG` (run under
// Bun, the shipped runtime, once per fresh process by weir-only.ts). Process start-up and module loading are
// not timed; the command is (config, keyring, opening and checking the file, validation, the write, close).
// Prints one JSON object: {"ms": ..., "code": exit code}.

import { runCli } from '../src/cli/run';

const [config, id, port] = process.argv.slice(2);
const io = { out() {}, err: (t: string) => void process.stderr.write(t), readStdin: async () => '', env: process.env };
const argv = ['upstreams', 'put', id!, JSON.stringify({ nodes: { [`127.0.0.1:${port}`]: 1 } }), '-c', config!];
const t0 = performance.now();
const code = await runCli(argv, io, { signals: false });
console.log(JSON.stringify({ ms: +(performance.now() - t0).toFixed(2), code }));
