/* weir bench helper: small epoll/OpenSSL tools for what iperf3, redis-benchmark and dnsperf do not cover.
 * Built by bench/setup.ts on every run (gcc -O2 ... -lssl -lcrypto). Loopback addresses only.
 *
 *   loadgen echo PORT SECS                 TCP echo server on 127.0.0.1:PORT (upstream of tls, tlsbulk and idle
 *                                          tests); a connection whose first byte is 'S' is a sink: read, discarded
 *   loadgen dnsecho PORT SECS              UDP responder: every datagram goes back with the DNS QR bit set
 *   loadgen idle PORT N SECS               N connections to 127.0.0.1:PORT, 1 byte each way to prove the whole
 *                                          path, then idle for SECS; prints "held OK FAILED" when set up
 *   loadgen handshakes PORT SNI PROCS SECS PROCS processes loop: connect, TLS handshake with SNI and no resumption,
 *                                          1 byte echoed, close; prints "ok N failed N rate R"
 *   loadgen tlssink PORT CERT KEY SECS     TLS server (the direct target of tlsbulk): a process per connection
 *                                          reads and discards until the peer closes, lingers 2 s, exits
 *   loadgen tlsbulk PORT SNI CONNS SECS    CONNS processes: TLS 1.3 (TLS_AES_128_GCM_SHA256 only, so every server
 *                                          negotiates the same suite) with SNI, then 'S' bytes in 64 KiB writes for
 *                                          SECS, close_notify + FIN, wait for the proxy to close; prints
 *                                          "bytes B secs S gbps G failed F drain_ms D cipher C"
 *   loadgen pongserve PORT PP SECS         TCP server: answers every "\n"-ended line with "+PONG\r\n" (a redis
 *                                          PING_INLINE stand-in); PP=1: every connection starts with a PROXY v2
 *                                          header, which is checked and skipped (a connection without one is closed)
 *   loadgen pingconn PORT PP CONCUR TOTAL  TOTAL connections, CONCUR at a time, each: connect, send "PING\r\n"
 *                                          (PP=1: a PROXY v2 header for 192.0.2.1 first, in the same write), read
 *                                          "+PONG", close (redis-benchmark -k 0, which cannot send a PROXY
 *                                          header); prints "ok N failed F secs S rate R"
 * Every loop ends by the clock (pingconn: after TOTAL connections or 60 s).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double clock_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

static struct sockaddr_in loopback(int port) {
  struct sockaddr_in sa = {0};
  sa.sin_family = AF_INET;
  sa.sin_port = htons((unsigned short)port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return sa;
}

static int bound(int type, int port) {
  int fd = socket(AF_INET, type | SOCK_NONBLOCK, 0), on = 1;
  struct sockaddr_in sa = loopback(port);
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) { perror("bind"); exit(2); }
  if (type == SOCK_STREAM && listen(fd, 4096) != 0) { perror("listen"); exit(2); }
  return fd;
}

static void watch(int ep, int fd, unsigned events, int op) {
  struct epoll_event e = {.events = events, .data.fd = fd};
  epoll_ctl(ep, op, fd, &e);
}

enum { MAX_FD = 1 << 16 };

static int echo_server(int port, double secs) {
  int lfd = bound(SOCK_STREAM, port), ep = epoll_create1(0);
  static char buf[1 << 17];
  /* per fd: 0 nothing read yet, 1 echo, 2 sink (tlsbulk's upstream: the sender counts the bytes) */
  static unsigned char mode[MAX_FD];
  struct epoll_event ev[128];
  watch(ep, lfd, EPOLLIN, EPOLL_CTL_ADD);
  for (double stop = clock_s() + secs; clock_s() < stop;) {
    int n = epoll_wait(ep, ev, 128, 250);
    for (int i = 0; i < n; i++) {
      int fd = ev[i].data.fd, c;
      if (fd == lfd) {
        while ((c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
          if (c >= MAX_FD) { close(c); continue; }
          mode[c] = 0;
          watch(ep, c, EPOLLIN, EPOLL_CTL_ADD);
        }
        continue;
      }
      ssize_t r;
      while ((r = read(fd, buf, sizeof buf)) > 0) {
        if (mode[fd] == 0) mode[fd] = buf[0] == 'S' ? 2 : 1;
        if (mode[fd] == 2) continue;
        if (write(fd, buf, (size_t)r) != r) break; /* small echoes only: a short write just loses bytes */
      }
      if (r == 0 || (r < 0 && errno != EAGAIN)) close(fd);
    }
  }
  return 0;
}

static int dns_echo(int port, double secs) {
  enum { BATCH = 32 };
  int fd = bound(SOCK_DGRAM, port), ep = epoll_create1(0);
  static unsigned char data[BATCH][1500];
  struct mmsghdr m[BATCH];
  struct iovec io[BATCH];
  struct sockaddr_in peer[BATCH];
  struct epoll_event ev;
  unsigned long total = 0;
  watch(ep, fd, EPOLLIN, EPOLL_CTL_ADD);
  for (double stop = clock_s() + secs; clock_s() < stop;) {
    if (epoll_wait(ep, &ev, 1, 250) < 1) continue;
    int got;
    do {
      memset(m, 0, sizeof m);
      for (int i = 0; i < BATCH; i++) {
        io[i] = (struct iovec){data[i], sizeof data[i]};
        m[i].msg_hdr = (struct msghdr){.msg_name = &peer[i], .msg_namelen = sizeof peer[i], .msg_iov = &io[i], .msg_iovlen = 1};
      }
      got = recvmmsg(fd, m, BATCH, MSG_DONTWAIT, NULL);
      for (int i = 0; i < got; i++) {
        io[i].iov_len = m[i].msg_len;
        if (m[i].msg_len > 2) data[i][2] |= 0x80;
      }
      if (got > 0) { sendmmsg(fd, m, (unsigned)got, MSG_DONTWAIT); total += (unsigned long)got; }
    } while (got == BATCH);
  }
  fprintf(stderr, "dnsecho answered %lu\n", total);
  return 0;
}

/* connection states for idle: 0 connecting, 1 sent, 2 echoed, 3 failed */
static int idle_conns(int port, int n, double secs) {
  struct sockaddr_in sa = loopback(port);
  int *fd = calloc((size_t)n, sizeof *fd), ep = epoll_create1(0), started = 0, ok = 0, bad = 0;
  char *st = calloc((size_t)n, 1);
  struct epoll_event ev[256];
  double give_up = clock_s() + 40;
  while (ok + bad < n && clock_s() < give_up) {
    for (; started < n && started - ok - bad < 256; started++) { /* at most 256 in flight */
      fd[started] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
      if (fd[started] < 0 || (connect(fd[started], (struct sockaddr *)&sa, sizeof sa) != 0 && errno != EINPROGRESS)) {
        st[started] = 3, bad++;
        continue;
      }
      struct epoll_event e = {.events = EPOLLOUT, .data.u32 = (unsigned)started};
      epoll_ctl(ep, EPOLL_CTL_ADD, fd[started], &e);
    }
    int k = epoll_wait(ep, ev, 256, 100);
    for (int i = 0; i < k; i++) {
      int j = (int)ev[i].data.u32;
      char b;
      if (ev[i].events & (EPOLLERR | EPOLLHUP)) { st[j] = 3, bad++; epoll_ctl(ep, EPOLL_CTL_DEL, fd[j], NULL); continue; }
      if (st[j] == 0) {
        st[j] = write(fd[j], "i", 1) == 1 ? 1 : 3;
        if (st[j] == 3) { bad++; epoll_ctl(ep, EPOLL_CTL_DEL, fd[j], NULL); continue; }
        struct epoll_event e = {.events = EPOLLIN, .data.u32 = (unsigned)j};
        epoll_ctl(ep, EPOLL_CTL_MOD, fd[j], &e);
      } else if (st[j] == 1) {
        if (read(fd[j], &b, 1) == 1) st[j] = 2, ok++; else st[j] = 3, bad++;
        epoll_ctl(ep, EPOLL_CTL_DEL, fd[j], NULL);
      }
    }
  }
  printf("held %d %d\n", ok, n - ok);
  fflush(stdout);
  for (double stop = clock_s() + secs; clock_s() < stop;) usleep(50000);
  for (int i = 0; i < started; i++) if (fd[i] >= 0) close(fd[i]);
  return 0;
}

static int one_handshake(SSL_CTX *ctx, int port, const char *sni) {
  struct sockaddr_in sa = loopback(port);
  struct timeval limit = {3, 0};
  int fd = socket(AF_INET, SOCK_STREAM, 0), on = 1, good = 0;
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
    SSL *ssl = SSL_new(ctx);
    char b = 0;
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, sni);
    good = SSL_connect(ssl) == 1 && SSL_write(ssl, "h", 1) == 1 && SSL_read(ssl, &b, 1) == 1 && b == 'h';
    SSL_shutdown(ssl);
    SSL_free(ssl);
  }
  close(fd);
  return good;
}

static int handshakes(int port, const char *sni, int procs, double secs) {
  int fds[2];
  long tally[2], ok = 0, bad = 0;
  double t0 = clock_s();
  if (pipe(fds) != 0) return 2;
  for (int p = 0; p < procs; p++) {
    if (fork() != 0) continue;
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    long mine[2] = {0, 0};
    for (double stop = clock_s() + secs; clock_s() < stop;) {
      if (one_handshake(ctx, port, sni)) mine[0]++;
      else { mine[1]++; usleep(2000); }
    }
    _exit(write(fds[1], mine, sizeof mine) == sizeof mine ? 0 : 1);
  }
  close(fds[1]);
  while (read(fds[0], tally, sizeof tally) == sizeof tally) ok += tally[0], bad += tally[1];
  while (wait(NULL) > 0) {}
  printf("ok %ld failed %ld rate %.1f\n", ok, bad, (double)ok / (clock_s() - t0));
  return 0;
}

static void set_timeouts(int fd, int secs) {
  struct timeval limit = {secs, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
}

/* one tlssink connection, in its own process: a stalled peer ends it through the 5 s socket timeouts */
static void sink_one(SSL_CTX *ctx, int fd) {
  static char buf[1 << 17];
  SSL *ssl = SSL_new(ctx);
  set_timeouts(fd, 5);
  SSL_set_fd(ssl, fd);
  if (SSL_accept(ssl) == 1) while (SSL_read(ssl, buf, sizeof buf) > 0) {}
  SSL_shutdown(ssl);
  SSL_free(ssl);
  close(fd);
  /* the bench reads this process's CPU time from /proc right after the client sees the close: an
     auto-reaped child's time is counted nowhere once it has exited */
  sleep(2);
}

static int tls_sink(int port, const char *cert, const char *key, double secs) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
  SSL_CTX_set_num_tickets(ctx, 0);
  if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 || SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
    fprintf(stderr, "tlssink: cannot load %s / %s\n", cert, key);
    return 2;
  }
  int lfd = bound(SOCK_STREAM, port);
  struct pollfd pfd = {.fd = lfd, .events = POLLIN};
  signal(SIGCHLD, SIG_IGN); /* the kernel reaps the per-connection processes */
  for (double stop = clock_s() + secs; clock_s() < stop;) {
    if (poll(&pfd, 1, 250) < 1) continue;
    int c = accept4(lfd, NULL, NULL, 0); /* blocking: the child reads with plain SSL_read */
    if (c < 0) continue;
    if (fork() == 0) {
      close(lfd);
      sink_one(ctx, c);
      _exit(0);
    }
    close(c);
  }
  return 0;
}

/* what one tlsbulk process reports through the pipe (well under PIPE_BUF, so one atomic write) */
struct bulk_result {
  long bytes;
  double started, wrote_until, ended; /* CLOCK_MONOTONIC is system-wide: comparable between processes */
  int ok;
  char cipher[48];
};

/*
 * One connection: handshake, stream for secs, then close_notify and FIN and wait until the proxy closes. The
 * proxy closes only after passing the FIN on and the sink closing, so [started, ended] covers every byte's
 * delivery, like iperf3's receiver-side count. ok = 0 when the handshake, a write, or the close did not happen.
 */
static struct bulk_result bulk_one(int port, const char *sni, double secs) {
  static char buf[1 << 16];
  struct bulk_result res = {0};
  struct sockaddr_in sa = loopback(port);
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
  SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256");
  memset(buf, 'S', sizeof buf); /* the first byte tells loadgen echo to act as a sink */
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  set_timeouts(fd, 5);
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, sni);
    if (SSL_connect(ssl) == 1) {
      snprintf(res.cipher, sizeof res.cipher, "%s", SSL_get_cipher_name(ssl));
      res.started = clock_s();
      int n = 1;
      for (double stop = res.started + secs; n > 0 && clock_s() < stop;) {
        n = SSL_write(ssl, buf, sizeof buf);
        if (n > 0) res.bytes += n;
      }
      res.wrote_until = clock_s();
      if (n > 0) {
        SSL_shutdown(ssl);
        shutdown(fd, SHUT_WR);
        ssize_t r;
        while ((r = recv(fd, buf, sizeof buf, 0)) > 0) {}
        res.ended = clock_s();
        res.ok = r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK); /* closed, not timed out */
      }
    }
    SSL_free(ssl);
  }
  close(fd);
  SSL_CTX_free(ctx);
  return res;
}

static int tls_bulk(int port, const char *sni, int conns, double secs) {
  int fds[2], failed = 0;
  struct bulk_result r, all = {0};
  double first = 0, wrote = 0, last = 0;
  if (pipe(fds) != 0) return 2;
  for (int p = 0; p < conns; p++) {
    if (fork() != 0) continue;
    r = bulk_one(port, sni, secs);
    _exit(write(fds[1], &r, sizeof r) == sizeof r ? 0 : 1);
  }
  close(fds[1]);
  snprintf(all.cipher, sizeof all.cipher, "none");
  while (read(fds[0], &r, sizeof r) == sizeof r) {
    all.bytes += r.bytes;
    if (!r.ok) { failed++; continue; }
    if (first == 0 || r.started < first) first = r.started;
    if (r.wrote_until > wrote) wrote = r.wrote_until;
    if (r.ended > last) last = r.ended;
    snprintf(all.cipher, sizeof all.cipher, "%s", r.cipher);
  }
  while (wait(NULL) > 0) {}
  double span = last > first ? last - first : 1;
  printf("bytes %ld secs %.3f gbps %.3f failed %d drain_ms %.1f cipher %s\n", all.bytes, span,
         (double)all.bytes * 8 / span / 1e9, failed, last > wrote ? (last - wrote) * 1e3 : 0, all.cipher);
  return 0;
}

/* The v2 signature; a header is 16 bytes plus its length field. */
static const unsigned char PP2_SIG[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};

static int pong_server(int port, int pp, double secs) {
  int lfd = bound(SOCK_STREAM, port), ep = epoll_create1(0);
  static char buf[1 << 16];
  /* per fd: bytes of an unfinished PROXY header (PP=1), and whether the header is done */
  static unsigned char head[MAX_FD][256];
  static unsigned short have[MAX_FD];
  static unsigned char ready[MAX_FD];
  static const char PONG[] = "+PONG\r\n";
  char out[64 * 7];
  struct epoll_event ev[128];
  watch(ep, lfd, EPOLLIN, EPOLL_CTL_ADD);
  for (double stop = clock_s() + secs; clock_s() < stop;) {
    int n = epoll_wait(ep, ev, 128, 250);
    for (int i = 0; i < n; i++) {
      int fd = ev[i].data.fd, c;
      if (fd == lfd) {
        while ((c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
          if (c >= MAX_FD) { close(c); continue; }
          have[c] = 0;
          ready[c] = !pp;
          watch(ep, c, EPOLLIN, EPOLL_CTL_ADD);
        }
        continue;
      }
      ssize_t r;
      int dead = 0;
      while ((r = read(fd, buf, sizeof buf)) > 0) {
        char *p = buf;
        ssize_t left = r;
        if (!ready[fd]) {
          /* gather the header (it may come in pieces), check the signature, skip it */
          size_t take = (size_t)left < sizeof head[fd] - have[fd] ? (size_t)left : sizeof head[fd] - have[fd];
          memcpy(head[fd] + have[fd], p, take);
          size_t old = have[fd];
          have[fd] = (unsigned short)(have[fd] + take);
          if (have[fd] < 16) continue;
          size_t total = 16 + ((size_t)head[fd][14] << 8 | head[fd][15]);
          if (memcmp(head[fd], PP2_SIG, 12) != 0 || total > sizeof head[fd]) { dead = 1; break; }
          if (have[fd] < total) continue;
          ready[fd] = 1;
          p += total - old;
          left -= (ssize_t)(total - old);
        }
        int lines = 0;
        for (ssize_t k = 0; k < left; k++) lines += p[k] == '\n';
        while (lines > 0) {
          int batch = lines < 64 ? lines : 64, len = 0;
          for (int k = 0; k < batch; k++, len += 7) memcpy(out + len, PONG, 7);
          if (write(fd, out, (size_t)len) != len) break; /* small replies only */
          lines -= batch;
        }
      }
      if (dead || r == 0 || (r < 0 && errno != EAGAIN)) close(fd);
    }
  }
  return 0;
}

/* pingconn: one connection's slot. state 0 connecting, 1 waiting for the reply */
static int ping_conns(int port, int pp, int concur, long total) {
  struct sockaddr_in sa = loopback(port);
  int ep = epoll_create1(0);
  int *fd = calloc((size_t)concur, sizeof *fd);
  char *st = calloc((size_t)concur, 1);
  long started = 0, ok = 0, bad = 0;
  struct epoll_event ev[256];
  unsigned char msg[64];
  size_t mlen = 0;
  if (pp) {
    /* v2 PROXY TCP4 192.0.2.1:40000 -> 127.0.0.1:port, no TLVs: 28 bytes */
    memcpy(msg, PP2_SIG, 12);
    unsigned char rest[16] = {0x21, 0x11, 0x00, 0x0c, 192, 0, 2, 1, 127, 0, 0, 1, 40000 >> 8, 40000 & 0xff, (unsigned char)(port >> 8), (unsigned char)port};
    memcpy(msg + 12, rest, 16);
    mlen = 28;
  }
  memcpy(msg + mlen, "PING\r\n", 6);
  mlen += 6;
  double t0 = clock_s(), give_up = t0 + 60;
  for (int j = 0; j < concur; j++) fd[j] = -1;
  while (ok + bad < total && clock_s() < give_up) {
    for (int j = 0; j < concur && started < total; j++) {
      if (fd[j] >= 0) continue;
      started++;
      fd[j] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
      if (fd[j] < 0 || (connect(fd[j], (struct sockaddr *)&sa, sizeof sa) != 0 && errno != EINPROGRESS)) {
        if (fd[j] >= 0) close(fd[j]);
        fd[j] = -1, bad++;
        continue;
      }
      st[j] = 0;
      struct epoll_event e = {.events = EPOLLOUT, .data.u32 = (unsigned)j};
      epoll_ctl(ep, EPOLL_CTL_ADD, fd[j], &e);
    }
    int k = epoll_wait(ep, ev, 256, 100);
    for (int i = 0; i < k; i++) {
      int j = (int)ev[i].data.u32, good = -1;
      char b[64];
      if (st[j] == 0 && !(ev[i].events & (EPOLLERR | EPOLLHUP))) {
        if (write(fd[j], msg, mlen) == (ssize_t)mlen) {
          st[j] = 1;
          struct epoll_event e = {.events = EPOLLIN, .data.u32 = (unsigned)j};
          epoll_ctl(ep, EPOLL_CTL_MOD, fd[j], &e);
          continue;
        }
        good = 0;
      } else if (st[j] == 1) {
        ssize_t r = read(fd[j], b, sizeof b);
        if (r < 0 && errno == EAGAIN) continue;
        good = r >= 5 && memcmp(b, "+PONG", 5) == 0;
      } else good = 0;
      close(fd[j]); /* also leaves the epoll set */
      fd[j] = -1;
      if (good) ok++; else bad++;
    }
  }
  double secs = clock_s() - t0;
  printf("ok %ld failed %ld secs %.3f rate %.1f\n", ok, bad, secs, (double)ok / secs);
  return 0;
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  const char *cmd = argc > 1 ? argv[1] : "";
  if (!strcmp(cmd, "echo") && argc == 4) return echo_server(atoi(argv[2]), atof(argv[3]));
  if (!strcmp(cmd, "dnsecho") && argc == 4) return dns_echo(atoi(argv[2]), atof(argv[3]));
  if (!strcmp(cmd, "idle") && argc == 5) return idle_conns(atoi(argv[2]), atoi(argv[3]), atof(argv[4]));
  if (!strcmp(cmd, "handshakes") && argc == 6) return handshakes(atoi(argv[2]), argv[3], atoi(argv[4]), atof(argv[5]));
  if (!strcmp(cmd, "tlssink") && argc == 6) return tls_sink(atoi(argv[2]), argv[3], argv[4], atof(argv[5]));
  if (!strcmp(cmd, "tlsbulk") && argc == 6) return tls_bulk(atoi(argv[2]), argv[3], atoi(argv[4]), atof(argv[5]));
  if (!strcmp(cmd, "pongserve") && argc == 5) return pong_server(atoi(argv[2]), atoi(argv[3]), atof(argv[4]));
  if (!strcmp(cmd, "pingconn") && argc == 6) return ping_conns(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), atol(argv[5]));
  fprintf(stderr, "usage: see the comment at the top of bench/loadgen.c\n");
  return 2;
}
