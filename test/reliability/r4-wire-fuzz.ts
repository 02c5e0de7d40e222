// R4 wire-parser fuzz: the ClientHello parser and the PROXY v1/v2 parser, as pure functions, over mutated seeds
// (bit flips, byte sets, truncations, insertions, splices, length-field edits) and random bytes; then malformed
// connections against a live TLS passthrough listener and a live PROXY protocol one, which must stay healthy. Figures: 0 throws, only the
// listed verdicts, every split of an input decides like the whole, appended payload never changes a PROXY header.

import net from 'node:net';
import tls from 'node:tls';
import { isDeepStrictEqual } from 'node:util';
import { parseClientHello, MAX_CLIENT_HELLO } from '../../src/proxy/prelude/client-hello';
import { parseProxyHeader, parseProxyDatagram } from '../../src/proxy/prelude/proxy-protocol';
import { startTcpProxy } from '../../src/proxy/listener/tcp';
import { createNodeTcpDataPlane } from '../../src/runtime/tcp/node/plane';
import { buildSnapshot } from '../../src/snapshot/build';
import { AccessLog } from '../../src/log/logger';
import { ascii, cat, INET_BLOCK, tlv, u16, v2 } from '../helpers/proxy-protocol';
import { prng } from '../helpers/random';
import { FigureSheet, fdCount, isMain, readCorpus, runAsScript, saveCorpus, sleep, type Figures, type Size } from './harness';

type Parser = (b: Uint8Array) => { kind: string; [k: string]: unknown };

export const PARSERS: Record<string, { parse: Parser; kinds: string[] }> = {
  'client-hello': { parse: parseClientHello as Parser, kinds: ['need-more', 'not-tls', 'hello'] },
  'proxy-protocol': { parse: (b) => parseProxyHeader(b) as never, kinds: ['need-more', 'done', 'invalid'] },
  'proxy-datagram': { parse: (b) => parseProxyDatagram(b) as never, kinds: ['done', 'invalid'] },
};

/** Real ClientHellos from node:tls (various SNI, ALPN, versions), captured on a loopback socket. */
export async function captureClientHellos(
  variants: tls.ConnectionOptions[] = [
    { servername: 'a.test' },
    { servername: 'very-long-name.' + 'x'.repeat(200) + '.test' },
    { servername: 'b.test', ALPNProtocols: ['h2', 'http/1.1'] },
    { servername: 'c.test', maxVersion: 'TLSv1.2' },
    {},
  ],
): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (const v of variants) {
    const got = await new Promise<Uint8Array>((resolve) => {
      const srv = net.createServer((s) => {
        s.once('data', (d: Buffer) => {
          resolve(new Uint8Array(d));
          s.destroy();
          srv.close();
        });
      });
      srv.listen(0, '127.0.0.1', () => {
        const c = tls.connect({ port: (srv.address() as net.AddressInfo).port, host: '127.0.0.1', rejectUnauthorized: false, ...v });
        c.on('error', () => {});
      });
    });
    out.push(got);
  }
  return out;
}

/** PROXY headers: v1 TCP4/TCP6/UNKNOWN, v2 PROXY/LOCAL with and without TLVs, with a payload after them. */
export function proxySeeds(): Uint8Array[] {
  const payload = ascii('GET / HTTP/1.0\r\n\r\n');
  return [
    cat(ascii('PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n'), payload),
    cat(ascii('PROXY TCP6 2001:db8::1 2001:db8::2 1 65535\r\n'), payload),
    cat(ascii('PROXY UNKNOWN\r\n'), payload),
    cat(v2(0x21, 0x11, INET_BLOCK), payload),
    cat(v2(0x21, 0x11, cat(INET_BLOCK, tlv(0x01, ascii('h2')), tlv(0x02, ascii('a.test')), tlv(0x20, [0x07, 0, 0, 0, 0, ...tlv(0x21, ascii('TLSv1.3'))]))), payload),
    cat(v2(0x20, 0x00, []), payload),
    cat(v2(0x21, 0x21, cat(new Uint8Array(32).fill(1), u16(1), u16(2))), payload),
    cat(v2(0x21, 0x12, INET_BLOCK), payload),
  ];
}

/** One mutation of `seed` (sometimes spliced with `other`), driven by `rnd`. */
export function mutate(seed: Uint8Array, other: Uint8Array, rnd: () => number): Uint8Array {
  const b = new Uint8Array(seed);
  const at = (): number => Math.floor(rnd() * Math.max(1, b.length));
  const n = 1 + Math.floor(rnd() * 4);
  let out: Uint8Array = b;
  for (let i = 0; i < n; i++) {
    const op = Math.floor(rnd() * 7);
    if (op === 0 && out.length) out[at() % out.length]! ^= 1 << Math.floor(rnd() * 8);
    else if (op === 1 && out.length) out[at() % out.length] = [0, 0xff, 0x7f, 0x80, 0x01][Math.floor(rnd() * 5)]!;
    else if (op === 2) out = out.slice(0, at());
    else if (op === 3) {
      const p = at();
      out = cat(out.slice(0, p), new Uint8Array(1 + Math.floor(rnd() * 8)).map(() => Math.floor(rnd() * 256)), out.slice(p));
    } else if (op === 4) out = cat(out.slice(0, at()), other.slice(Math.floor(rnd() * other.length)));
    else if (op === 5 && out.length > 2) {
      // a length field: a 16-bit big-endian value at a random offset, often 0, 1, max, or off by one
      const p = at() % (out.length - 1);
      const cur = (out[p]! << 8) | out[p + 1]!;
      const v = [0, 1, 0xffff, cur + 1, cur - 1, cur + 256][Math.floor(rnd() * 6)]! & 0xffff;
      out[p] = v >> 8;
      out[p + 1] = v & 0xff;
    } else out = new Uint8Array(Math.floor(rnd() * 64)).map(() => Math.floor(rnd() * 256));
  }
  return out;
}

/** Check one input; returns a problem or null. `allSplits` parses every prefix, else one random split. */
export function checkInput(name: string, bytes: Uint8Array, allSplits: boolean, rnd: () => number): string | null {
  const { parse, kinds } = PARSERS[name]!;
  let whole;
  try {
    whole = parse(bytes);
  } catch (err) {
    return `throws: ${(err as Error).message}`;
  }
  if (!kinds.includes(whole.kind)) return `unexpected verdict ${whole.kind}`;
  if (name === 'proxy-datagram') return null; // one datagram, no splits
  const splits = allSplits ? [...Array(bytes.length).keys()] : [Math.floor(rnd() * bytes.length)];
  let sawFinal: string | null = null;
  for (const k of splits) {
    let r;
    try {
      r = parse(bytes.subarray(0, k));
    } catch (err) {
      return `throws at split ${k}: ${(err as Error).message}`;
    }
    if (r.kind === 'need-more') {
      if (sawFinal !== null) return `need-more at ${k} after a final verdict at a shorter prefix`;
      continue;
    }
    // a final verdict on a prefix must be the whole input's verdict
    if (r.kind !== whole.kind) return `split ${k} decides ${r.kind}, whole input ${whole.kind}`;
    if (r.kind === 'hello' && r.sni !== whole.sni) return `split ${k} sni ${String(r.sni)} != ${String(whole.sni)}`;
    if (r.kind === 'done' && !isDeepStrictEqual(r.header, whole.header)) return `split ${k} header differs`;
    sawFinal = r.kind;
  }
  if (name === 'proxy-protocol' && whole.kind === 'done') {
    const hl = (whole.header as { headerLength: number }).headerLength;
    if (hl > bytes.length) return `headerLength ${hl} past the ${bytes.length} bytes read`;
    // the payload after the header never changes it (HAProxy 488ee7fb6: TLVs read from the payload)
    const cut = parse(bytes.subarray(0, hl));
    if (!isDeepStrictEqual(cut, whole)) return 'header parsed differently without its payload';
  }
  return null;
}

export async function runR4(size: Size, counts = size === 'short' ? { inputs: 20_000, live: 200 } : { inputs: 1_000_000, live: 10_000 }): Promise<Figures> {
  const sheet = new FigureSheet('R4', 'wire-parser fuzz');
  const hellos = await captureClientHellos();
  const seeds: Record<string, Uint8Array[]> = {
    'client-hello': hellos,
    'proxy-protocol': proxySeeds(),
    'proxy-datagram': proxySeeds().filter((s) => s[0] === 0x0d),
  };
  const rnd = prng(4);
  let problems = 0;
  let inputs = 0;
  const verdicts: Record<string, Record<string, number>> = {};
  for (const name of Object.keys(PARSERS)) {
    verdicts[name] = {};
    const list = seeds[name]!;
    // seeds and corpus: every split point
    for (const s of [...list, ...readCorpus(name).map((c) => c.bytes)]) {
      const p = checkInput(name, s, true, rnd);
      if (p !== null) problems++;
    }
    const per = Math.floor(counts.inputs / 1);
    for (let i = 0; i < per; i++) {
      const seed = list[Math.floor(rnd() * list.length)]!;
      const other = list[Math.floor(rnd() * list.length)]!;
      const input = mutate(seed, other, rnd);
      inputs++;
      const p = checkInput(name, input, i % 100 === 0, rnd);
      if (p !== null) {
        problems++;
        if (problems <= 5) process.stderr.write(`R4 ${name}: ${p} (saved ${saveCorpus(name, input)})\n`);
      } else {
        const k = PARSERS[name]!.parse(input).kind;
        verdicts[name]![k] = (verdicts[name]![k] ?? 0) + 1;
      }
    }
  }
  // boundaries the specs set
  const v1Long = parseProxyHeader(ascii(`PROXY TCP4 ${'1'.repeat(200)}`)).kind;
  const helloHuge = new Uint8Array(MAX_CLIENT_HELLO + 10);
  helloHuge.set([0x16, 0x03, 0x01, 0x40, 0x00, 0x01, 0xff, 0xff, 0xff]);
  const hugeKind = parseClientHello(helloHuge).kind;

  const live = await liveListener('client-hello', hellos, counts.live, rnd);
  const proxyLive = await liveListener('proxy-protocol', seeds['proxy-protocol']!, counts.live, rnd);
  sheet.set('inputs_per_parser', counts.inputs).set('parsers', Object.keys(PARSERS).join(',')).set('inputs_total', inputs);
  sheet.set('verdicts', JSON.stringify(verdicts));
  sheet.check('problems', problems, '0 (throws, bad verdicts, split or payload disagreements)', problems === 0);
  sheet.check('v1_over_107_bytes', v1Long, 'invalid', v1Long === 'invalid');
  sheet.check('client_hello_over_cap', hugeKind, 'not-tls', hugeKind === 'not-tls');
  sheet.set('client_hello_cap_bytes', MAX_CLIENT_HELLO);
  sheet.set('live_connections', counts.live);
  sheet.check('live_probe_ok', live.probeOk, 'true', live.probeOk);
  sheet.check('live_fd_delta', live.fdDelta, '|delta| <= 2', live.fdDelta !== null && Math.abs(live.fdDelta) <= 2);
  sheet.check('live_open_after', live.openAfter, '0', live.openAfter === 0);
  // the same on a PROXY protocol listener: mutated v1 and v2 headers, then a valid one
  sheet.check('proxy_live_probe_ok', proxyLive.probeOk, 'true', proxyLive.probeOk);
  sheet.check('proxy_live_fd_delta', proxyLive.fdDelta, '|delta| <= 2', proxyLive.fdDelta !== null && Math.abs(proxyLive.fdDelta) <= 2);
  sheet.check('proxy_live_open_after', proxyLive.openAfter, '0', proxyLive.openAfter === 0);
  return sheet.done();
}

/**
 * Malformed inputs against a live listener: mutated ClientHellos on a TLS passthrough one, or mutated PROXY
 * headers on a proxy_protocol one. Then a valid input (the first seed) must still reach the upstream.
 */
async function liveListener(kind: 'client-hello' | 'proxy-protocol', seeds: Uint8Array[], n: number, rnd: () => number): Promise<{ probeOk: boolean; fdDelta: number | null; openAfter: number }> {
  const valid = seeds[0]!;
  let upstreamBytes = 0;
  const upstream = net.createServer((s) => {
    s.on('data', (d: Buffer) => (upstreamBytes += d.length));
    s.on('error', () => {});
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const up = (upstream.address() as net.AddressInfo).port;
  const upstreamObject = { type: 'roundrobin', nodes: { [`127.0.0.1:${up}`]: 1 } };
  const value = kind === 'client-hello' ? { id: '1', sni: 'a.test', upstream: upstreamObject } : { id: '1', upstream: upstreamObject };
  const snap = buildSnapshot({ revision: 1, streamRoutes: [{ id: '1', value, createdIndex: 1, modifiedIndex: 1, raw: JSON.stringify(value) }], upstreams: [], ssls: [], unreadable: [] }, null).snapshot;
  const proxy = await startTcpProxy({
    plane: createNodeTcpDataPlane(),
    listeners: [kind === 'client-hello' ? { host: '127.0.0.1', port: 0, tls: false, tlsPassthrough: true, origin: 'r4' } : { host: '127.0.0.1', port: 0, tls: false, proxyProtocol: true, origin: 'r4' }],
    snapshot: () => snap,
    accessLog: new AccessLog({ disabled: true }),
    tls: { fallbackSni: null, prereadTimeoutMs: 500 },
  });
  const port = proxy.listeners[0]!.port;
  await sleep(50);
  const fd0 = fdCount();
  const batch = 50;
  for (let i = 0; i < n; i += batch) {
    await Promise.all(
      Array.from({ length: Math.min(batch, n - i) }, () => {
        const bytes = mutate(seeds[Math.floor(rnd() * seeds.length)]!, seeds[Math.floor(rnd() * seeds.length)]!, rnd);
        return new Promise<void>((resolve) => {
          const s = net.connect(port, '127.0.0.1', () => s.end(bytes));
          s.on('error', () => resolve());
          s.on('close', () => resolve());
          s.resume();
          setTimeout(() => s.destroy(), 3000).unref();
        });
      }),
    );
  }
  // a valid input still reaches the upstream
  const before = upstreamBytes;
  const probe = net.connect(port, '127.0.0.1', () => probe.write(valid));
  probe.on('error', () => {});
  for (let i = 0; i < 100 && upstreamBytes === before; i++) await sleep(20);
  const probeOk = upstreamBytes > before;
  probe.destroy();
  for (let i = 0; i < 100 && proxy.activeConnections() > 0; i++) await sleep(20);
  await sleep(100);
  const fd1 = fdCount();
  const openAfter = proxy.activeConnections();
  await proxy.shutdown(0);
  await new Promise((r) => upstream.close(r));
  return { probeOk, fdDelta: fd0 !== null && fd1 !== null ? fd1 - fd0 : null, openAfter };
}

if (isMain(import.meta.url)) {
  await runAsScript({ id: 'r4-wire-fuzz', usage: 'R4: 1,000,000 mutated inputs per parser, every split of seeds and 1 in 100 inputs; 10,000 malformed live connections (--short: 20,000 / 200).' }, runR4);
}
