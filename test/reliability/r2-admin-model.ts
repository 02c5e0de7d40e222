// R2 model-based admin sequences (fast-check fc.commands): PUT/DELETE/GET of upstreams and stream_routes with
// upstream_id references against a running weir, checked after every step against an in-memory model; a Connect
// command checks that the next TCP connection follows the model (each route matches one client source address
// and each upstream is an echo server that tags its replies). Figure: 0 divergences.

import fc from 'fast-check';
import net from 'node:net';
import { configureErrorLog } from '../../src/log/logger';
import { startTestWeir, type TestWeir } from '../helpers/weir';
import { freePort } from '../helpers/net';
import { FigureSheet, isMain, runAsScript, type Figures, type Size } from './harness';

const UPSTREAMS = ['u1', 'u2', 'u3'];
const ROUTES = ['r1', 'r2', 'r3', 'r4'];

interface Model {
  upstreams: Map<string, string>; // id -> echo tag
  routes: Map<string, string>; // id -> upstream id
}
interface Real {
  w: TestWeir;
  port: number;
  echoes: Map<string, number>; // tag -> port
}

class Divergence extends Error {}
function expect(what: string, got: unknown, want: unknown): void {
  if (JSON.stringify(got) !== JSON.stringify(want)) throw new Divergence(`${what}: got ${JSON.stringify(got)}, model says ${JSON.stringify(want)}`);
}

const srcOf = (route: string): string => `127.0.0.${10 + ROUTES.indexOf(route)}`;

/** Send one byte from the route's source address; resolves with the echoed tag, or null when closed unanswered. */
function probe(port: number, route: string): Promise<string | null> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1', localAddress: srcOf(route) }, () => s.write('?'));
    let got = '';
    const done = (v: string | null): void => {
      s.destroy();
      resolve(v);
    };
    s.on('data', (d: Buffer) => {
      got += d.toString();
      if (got.endsWith('?')) done(got.slice(0, -1));
    });
    s.on('error', () => done(null));
    s.on('close', () => done(got === '' ? null : got));
    setTimeout(() => done(null), 3000).unref();
  });
}

class PutUpstream implements fc.AsyncCommand<Model, Real> {
  constructor(readonly id: string, readonly tag: string) {}
  check = (): boolean => true;
  async run(m: Model, r: Real): Promise<void> {
    const res = await r.w.admin('PUT', `/apisix/admin/upstreams/${this.id}`, { type: 'roundrobin', nodes: { [`127.0.0.1:${r.echoes.get(this.tag)}`]: 1 } });
    expect(`PUT upstreams/${this.id} status`, res.status, m.upstreams.has(this.id) ? 200 : 201);
    m.upstreams.set(this.id, this.tag);
  }
  toString = (): string => `PutUpstream(${this.id},${this.tag})`;
}
class DeleteUpstream implements fc.AsyncCommand<Model, Real> {
  constructor(readonly id: string) {}
  check = (): boolean => true;
  async run(m: Model, r: Real): Promise<void> {
    const res = await r.w.admin('DELETE', `/apisix/admin/upstreams/${this.id}`);
    const inUse = [...m.routes.values()].includes(this.id);
    expect(`DELETE upstreams/${this.id} status`, res.status, !m.upstreams.has(this.id) ? 404 : inUse ? 400 : 200);
    if (res.status === 200) m.upstreams.delete(this.id);
  }
  toString = (): string => `DeleteUpstream(${this.id})`;
}
class PutRoute implements fc.AsyncCommand<Model, Real> {
  constructor(readonly id: string, readonly upstream: string) {}
  check = (): boolean => true;
  async run(m: Model, r: Real): Promise<void> {
    const res = await r.w.admin('PUT', `/apisix/admin/stream_routes/${this.id}`, { upstream_id: this.upstream, remote_addr: srcOf(this.id) });
    const want = !m.upstreams.has(this.upstream) ? 400 : m.routes.has(this.id) ? 200 : 201;
    expect(`PUT stream_routes/${this.id} -> ${this.upstream} status`, res.status, want);
    if (want !== 400) m.routes.set(this.id, this.upstream);
  }
  toString = (): string => `PutRoute(${this.id},${this.upstream})`;
}
class DeleteRoute implements fc.AsyncCommand<Model, Real> {
  constructor(readonly id: string) {}
  check = (): boolean => true;
  async run(m: Model, r: Real): Promise<void> {
    const res = await r.w.admin('DELETE', `/apisix/admin/stream_routes/${this.id}`);
    expect(`DELETE stream_routes/${this.id} status`, res.status, m.routes.has(this.id) ? 200 : 404);
    m.routes.delete(this.id);
  }
  toString = (): string => `DeleteRoute(${this.id})`;
}
class GetAll implements fc.AsyncCommand<Model, Real> {
  check = (): boolean => true;
  async run(m: Model, r: Real): Promise<void> {
    const ups = await r.w.admin('GET', '/apisix/admin/upstreams');
    const routes = await r.w.admin('GET', '/apisix/admin/stream_routes');
    const ids = (b: { list?: Array<{ value: { id: string } }> }): string[] => (b.list ?? []).map((e) => e.value.id).sort();
    expect('upstream ids', ids(ups.body), [...m.upstreams.keys()].sort());
    expect('route ids', ids(routes.body), [...m.routes.keys()].sort());
    const refs = Object.fromEntries((routes.body.list ?? []).map((e: { value: { id: string; upstream_id: string } }) => [e.value.id, e.value.upstream_id]));
    expect('route references', refs, Object.fromEntries([...m.routes].sort()));
  }
  toString = (): string => 'GetAll';
}
class Connect implements fc.AsyncCommand<Model, Real> {
  constructor(readonly route: string) {}
  check = (): boolean => true;
  async run(m: Model, r: Real): Promise<void> {
    const up = m.routes.get(this.route);
    expect(`connection from ${srcOf(this.route)}`, await probe(r.port, this.route), up === undefined ? null : m.upstreams.get(up)!);
  }
  toString = (): string => `Connect(${this.route})`;
}

const commands = [
  fc.tuple(fc.constantFrom(...UPSTREAMS), fc.constantFrom('A', 'B', 'C')).map(([id, tag]) => new PutUpstream(id, tag)),
  fc.constantFrom(...UPSTREAMS).map((id) => new DeleteUpstream(id)),
  fc.tuple(fc.constantFrom(...ROUTES), fc.constantFrom(...UPSTREAMS)).map(([id, u]) => new PutRoute(id, u)),
  fc.constantFrom(...ROUTES).map((id) => new DeleteRoute(id)),
  fc.constant(new GetAll()),
  fc.constantFrom(...ROUTES).map((id) => new Connect(id)),
];

export async function runR2(size: Size, counts = size === 'short' ? { runs: 12, commands: 25 } : { runs: 1000, commands: 50 }): Promise<Figures> {
  configureErrorLog({ level: 'error' });
  const sheet = new FigureSheet('R2', 'model-based admin sequences');
  const echoServers: net.Server[] = [];
  const echoes = new Map<string, number>();
  for (const tag of ['A', 'B', 'C']) {
    const srv = net.createServer((s) => {
      s.on('error', () => {});
      s.on('data', (d: Buffer) => s.write(`${tag}${d}`));
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    echoServers.push(srv);
    echoes.set(tag, (srv.address() as net.AddressInfo).port);
  }
  const port = await freePort();
  const w = await startTestWeir([`"127.0.0.1:${port}"`], { extraYaml: '  stream:\n    enable_access_log: false' });
  let executed = 0;
  let failure: string | null = null;
  try {
    await fc.assert(
      fc.asyncProperty(fc.commands(commands, { maxCommands: counts.commands, size: 'max' }), async (cmds) => {
        // a clean store for every run: routes first (they reference upstreams)
        for (const res of ['stream_routes', 'upstreams']) {
          const list = await w.admin('GET', `/apisix/admin/${res}`);
          for (const e of list.body.list ?? []) await w.admin('DELETE', `/apisix/admin/${res}/${e.value.id}`);
        }
        const model: Model = { upstreams: new Map(), routes: new Map() };
        await fc.asyncModelRun(() => ({ model, real: { w, port, echoes } }), cmds);
        executed += [...cmds].length;
      }),
      { numRuns: counts.runs, seed: 2, endOnFailure: true },
    );
  } catch (err) {
    failure = (err as Error).message.split('\n').slice(0, 6).join(' | ');
  } finally {
    await w.stop();
    for (const s of echoServers) s.close();
  }
  sheet.set('runs', counts.runs).set('max_commands', counts.commands).set('commands_executed', executed);
  sheet.check('divergences', failure === null ? 0 : 1, '0', failure === null);
  if (failure !== null) sheet.set('first_divergence', failure.slice(0, 600));
  return sheet.done();
}

if (isMain(import.meta.url)) {
  await runAsScript({ id: 'r2-admin-model', usage: 'R2: 1,000 runs x up to 50 commands (--short: 12 x 25).' }, runR2);
}
