// REFERENCE, NOT WEIR: the bare Bun-native L4 proxy prototype, copied unchanged (below this header) from
// ../shared/perf/proto/bunnative.js. bench/run.ts runs it as the 'bunnative' target because issue 7's acceptance
// compares weir's shipped binary with it (>= 90% of its rate, <= 1.2x its RSS). It has no routes, no logs, no admin.
// Throwaway L4 proxy on Bun-native APIs only (Bun.listen / Bun.connect / Bun.udpSocket). Bun only.
// usage: bun bunnative.js tcp:LPORT:UPPORT udp:LPORT:UPPORT tls:LPORT:UPPORT:CERT:KEY ...
// Listens on 127.0.0.1 only, forwards to 127.0.0.1:UPPORT.
//
// TCP: Bun sockets do not buffer: write() returns the bytes the kernel took. The rest is kept in a
// per-direction queue (the data Buffers Bun hands to `data` are fresh per call, so they may be kept),
// the reading side is paused with socket.pause() and resumed from the writer's `drain` handler.
// Handlers are shared objects (no per-connection closures); per-connection state is a Pair in socket.data.
// UDP: replies to clients and forwards to upstream are collected per event-loop turn and sent with
// sendMany() from a setImmediate (Bun receives with recvmmsg and calls `data` once per datagram).
'use strict';
const H = '127.0.0.1';
const SIDE_C = 0, SIDE_U = 1;

class Pair {
  constructor(c, upPort) {
    this.c = c; this.u = null; this.upPort = upPort;
    this.qc = null; this.qu = null;          // pending chunks towards client / towards upstream
    this.cEof = false; this.uEof = false;    // FIN received from client / upstream
    this.closed = false;
    this.finC = false; this.finU = false;    // FIN sent to client / to upstream
  }
}
// Half-close: with allowHalfOpen, socket.end() still closes the whole socket (the peer's further
// writes get RST), so a FIN is sent with shutdown() (Bun 1.4: no argument = shut the write side) and
// the socket is end()ed once both directions are finished.
function finU(p) { p.finU = true; if (p.uEof) p.u.end(); else p.u.shutdown(); }
function finC(p) { p.finC = true; if (p.cEof) p.c.end(); else p.c.shutdown(); }
// write buf to dst; returns true if everything went out. Otherwise queues the rest.
function push(p, toU, buf) {
  const dst = toU ? p.u : p.c;
  let q = toU ? p.qu : p.qc;
  if (q === null && dst !== null) {
    const n = dst.write(buf);
    if (n === buf.length) return true;
    buf = n > 0 ? buf.subarray(n) : buf;
  }
  if (q === null) { q = []; if (toU) p.qu = q; else p.qc = q; }
  q.push(buf);
  return false;
}
function flush(p, toU) { // from drain: write queued chunks; true when the queue is empty
  const dst = toU ? p.u : p.c, q = toU ? p.qu : p.qc;
  if (q === null) return true;
  while (q.length) {
    const b = q[0], n = dst.write(b);
    if (n < b.length) { q[0] = n > 0 ? b.subarray(n) : b; return false; }
    q.shift();
  }
  if (toU) p.qu = null; else p.qc = null;
  return true;
}
function closeBoth(p) {
  if (p.closed) return;
  p.closed = true;
  if (p.c) p.c.end(); if (p.u) p.u.end();
}

const clientHandlers = {
  open(c) {
    c.setNoDelay(true);
    const p = c.data; p.c = c;
    Bun.connect({ hostname: H, port: p.upPort, data: p, allowHalfOpen: true, socket: upstreamHandlers }).catch(() => closeBoth(p));
  },
  data(c, buf) {
    const p = c.data;
    if (!push(p, true, buf)) c.pause();
  },
  drain(c) { // client writable again: flush what upstream sent, then let upstream read again
    const p = c.data;
    if (flush(p, false)) { if (p.uEof) finC(p); else if (p.u) p.u.resume(); }
  },
  // FIN from the client: pass it on once everything queued towards upstream is written
  end(c) { const p = c.data; p.cEof = true; if (p.finC) c.end(); if (p.u && p.qu === null) finU(p); },
  close(c) { const p = c.data; p.c = null; p.cEof = true; p.qc = null; if (p.u && p.qu === null && !p.finU) finU(p); },
  error(c) { },
};
const upstreamHandlers = {
  open(u) {
    u.setNoDelay(true);
    const p = u.data; p.u = u;
    if (p.closed) { u.end(); return; }
    if (flush(p, true)) { if (p.cEof) finU(p); else p.c.resume(); }
  },
  data(u, buf) {
    const p = u.data;
    if (p.c === null) return;
    if (!push(p, false, buf)) u.pause();
  },
  drain(u) {
    const p = u.data;
    if (flush(p, true)) { if (p.cEof) finU(p); else if (p.c) p.c.resume(); }
  },
  end(u) { const p = u.data; p.uEof = true; if (p.finU) u.end(); if (p.c && p.qc === null) finC(p); },
  close(u) { const p = u.data; p.u = null; p.uEof = true; p.qu = null; if (p.c && p.qc === null && !p.finC) finC(p); },
  error(u) { },
  connectError(u) { const p = u.data; closeBoth(p); },
};

function listenTcp(lp, up, tls) {
  // socket.data for accepted sockets: Bun.listen's `data` option is copied to every accepted socket,
  // so the Pair is created in `open` instead (one object per connection, nothing else).
  const handlers = {
    open(c) { c.data = new Pair(c, up); clientHandlers.open(c); },
    data: clientHandlers.data, drain: clientHandlers.drain, end: clientHandlers.end,
    close: clientHandlers.close, error: clientHandlers.error,
  };
  const o = { hostname: H, port: lp, socket: handlers, allowHalfOpen: true, backlog: 4096 };
  if (tls) o.tls = { cert: Bun.file(tls.cert), key: Bun.file(tls.key) };
  return Bun.listen(o);
}

// ---------------- UDP ----------------
async function listenUdp(lp, up) {
  const sessions = new Map();             // "addr|port" -> Session
  let outC = [], outCn = 0, sched = false; // batched replies to clients: [buf, port, addr, ...]
  const dirtyU = [];                       // sessions with queued upstream datagrams
  function flushAll() {
    sched = false;
    if (outCn) {
      const arr = outC; outC = []; outCn = 0;
      const n = ls.sendMany(arr);
      // n < arr.length/3 means the kernel buffer was full: UDP may drop, as nginx does
    }
    for (let i = 0; i < dirtyU.length; i++) {
      const s = dirtyU[i]; s.dirty = false;
      if (s.u !== null) { const q = s.q; s.q = []; if (q.length === 1) s.u.send(q[0]); else s.u.sendMany(q); }
    }
    dirtyU.length = 0;
  }
  const upHandlers = {
    data(u, buf) {
      const s = u.sess; s.t = now;
      outC.push(buf, s.port, s.addr); outCn++;
      if (!sched) { sched = true; setImmediate(flushAll); }
    },
  };
  let now = Date.now();
  const ls = await Bun.udpSocket({
    hostname: H, port: lp,
    socket: {
      data(sock, buf, port, addr) {
        const k = addr + '|' + port;
        let s = sessions.get(k);
        if (s === undefined) {
          s = { addr, port, u: null, q: [], t: now, dirty: false };
          sessions.set(k, s);
          const ss = s;
          Bun.udpSocket({ hostname: H, connect: { hostname: H, port: up }, socket: upHandlers }).then(u => {
            u.sess = ss; ss.u = u;
            if (ss.q.length && !ss.dirty) { ss.dirty = true; dirtyU.push(ss); if (!sched) { sched = true; setImmediate(flushAll); } }
          }, () => sessions.delete(k));
        }
        s.t = now;
        if (s.q.length < 1024) s.q.push(buf);
        if (!s.dirty && s.u !== null) { s.dirty = true; dirtyU.push(s); }
        if (!sched && s.u !== null) { sched = true; setImmediate(flushAll); }
      },
    },
  });
  setInterval(() => {
    now = Date.now(); const cut = now - 30000;
    for (const [k, s] of sessions) if (s.t < cut && s.u) { s.u.close(); sessions.delete(k); }
  }, 1000).unref();
  return ls;
}

for (const spec of process.argv.slice(2)) {
  const [kind, lp, up, cert, key] = spec.split(':');
  if (kind === 'tcp') listenTcp(+lp, +up, null);
  else if (kind === 'tls') listenTcp(+lp, +up, { cert, key });
  else if (kind === 'udp') listenUdp(+lp, +up);
}
process.on('SIGTERM', () => process.exit(0));
