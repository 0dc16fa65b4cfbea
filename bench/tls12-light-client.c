/*
 * The light TLS 1.2 client of bench/tls12-light-client.ts, in C, for handshake-rate benches on a
 * machine whose cores the client shares with the edge (bench/scale.ts, docs/scale.md).
 *
 * The same handshake for the server: ECDHE-RSA-AES256-GCM-SHA384 on secp384r1 (S-TLS-3, S-TLS-5), no
 * session ID or ticket offered, the client's ephemeral private key fixed at 1, so its public key is the
 * generator G and the premaster secret is the x coordinate of the server's own ephemeral point
 * (RFC 8422 §5.10): the server makes a fresh key pair, signs its parameters with RSA, multiplies the
 * client's point, runs the key schedule and verifies the client's Finished before it sends its own.
 * The client computes the PRF (RFC 5246 §5) and one AES-GCM seal (RFC 5288) per handshake and counts a
 * handshake when the server's encrypted Finished record arrives (the caller cross-checks the count with
 * the server's own). No certificate or signature is checked: a load generator, nothing to trust.
 *
 * What the TypeScript client spends in node:net per connection (0.35-0.45 ms CPU) this one does not:
 * one epoll loop, a socket per lane, no allocation per handshake.
 *
 *   tls12-light-client HOST PORT SERVERNAME SECONDS LANES [TIMEOUT_MS]
 * prints one JSON line: {"done":N,"failed":N,"firstError":"...","seconds":S,"cpuSec":S}
 * Build: cc -O2 -o tls12-light-client tls12-light-client.c -lcrypto
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define REC_CCS 20
#define REC_ALERT 21
#define REC_HANDSHAKE 22
#define HS_SERVER_HELLO 2
#define HS_CERTIFICATE 11
#define HS_SERVER_KEY_EXCHANGE 12
#define HS_CERTIFICATE_REQUEST 13
#define HS_SERVER_HELLO_DONE 14
#define HS_FINISHED 20
#define SUITE 0xc030
#define GROUP 0x0018
#define BUF 65536

/* P-384's generator, uncompressed (SEC 1 §2.3.3): the public key of the private key 1. */
static const unsigned char GENERATOR[97] = {
  0x04,
  0xaa, 0x87, 0xca, 0x22, 0xbe, 0x8b, 0x05, 0x37, 0x8e, 0xb1, 0xc7, 0x1e, 0xf3, 0x20, 0xad, 0x74,
  0x6e, 0x1d, 0x3b, 0x62, 0x8b, 0xa7, 0x9b, 0x98, 0x59, 0xf7, 0x41, 0xe0, 0x82, 0x54, 0x2a, 0x38,
  0x55, 0x02, 0xf2, 0x5d, 0xbf, 0x55, 0x29, 0x6c, 0x3a, 0x54, 0x5e, 0x38, 0x72, 0x76, 0x0a, 0xb7,
  0x36, 0x17, 0xde, 0x4a, 0x96, 0x26, 0x2c, 0x6f, 0x5d, 0x9e, 0x98, 0xbf, 0x92, 0x92, 0xdc, 0x29,
  0xf8, 0xf4, 0x1d, 0xbd, 0x28, 0x9a, 0x14, 0x7c, 0xe9, 0xda, 0x31, 0x13, 0xb5, 0xf0, 0xb8, 0xc0,
  0x0a, 0x60, 0xb1, 0xce, 0x1d, 0x7e, 0x81, 0x9d, 0x7a, 0x43, 0x1d, 0x7c, 0x90, 0xea, 0x0e, 0x5f,
};

enum state { IDLE, CONNECTING, HANDSHAKING, FINISHING };

struct conn {
  int fd;
  enum state state;
  double deadline;
  int server_ccs, have_random, have_premaster;
  size_t inlen, hslen;
  unsigned char client_random[32], server_random[32], premaster[48];
  EVP_MD_CTX *transcript;
  unsigned char in[BUF], hs[BUF];
};

static const EVP_MD *SHA384;
static const EVP_CIPHER *AES256GCM;
static struct sockaddr_in target;
static unsigned char hello[512];
static size_t hello_len; /* the whole record; the random is at offset 5 + 6 */
static long done_count, failed_count;
static char first_error[200];
static int ep;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void put16(unsigned char *p, unsigned v) { p[0] = (unsigned char)(v >> 8); p[1] = (unsigned char)v; }
static void put24(unsigned char *p, unsigned v) { p[0] = (unsigned char)(v >> 16); p[1] = (unsigned char)(v >> 8); p[2] = (unsigned char)v; }
static unsigned get16(const unsigned char *p) { return ((unsigned)p[0] << 8) | p[1]; }
static unsigned get24(const unsigned char *p) { return ((unsigned)p[0] << 16) | ((unsigned)p[1] << 8) | p[2]; }

/* RFC 2104 HMAC-SHA-384 over a || b; keys here are at most 48 bytes, messages at most 256. */
static void hmac384(const unsigned char *key, size_t klen, const unsigned char *a, size_t alen,
                    const unsigned char *b, size_t blen, unsigned char out[48]) {
  unsigned char inner[128 + 256], outer[128 + 48];
  memset(inner, 0x36, 128);
  memset(outer, 0x5c, 128);
  for (size_t i = 0; i < klen; i++) { inner[i] ^= key[i]; outer[i] ^= key[i]; }
  memcpy(inner + 128, a, alen);
  if (blen) memcpy(inner + 128 + alen, b, blen);
  EVP_Digest(inner, 128 + alen + blen, outer + 128, NULL, SHA384, NULL);
  EVP_Digest(outer, sizeof outer, out, NULL, SHA384, NULL);
}

/* RFC 5246 §5: P_SHA384(secret, label + seed), `len` bytes. */
static void prf384(const unsigned char *secret, size_t slen, const char *label, const unsigned char *seed,
                   size_t seedlen, unsigned char *out, size_t len) {
  unsigned char ls[128], a[48], block[48];
  size_t llen = strlen(label);
  memcpy(ls, label, llen);
  memcpy(ls + llen, seed, seedlen);
  size_t lslen = llen + seedlen;
  hmac384(secret, slen, ls, lslen, NULL, 0, a);
  for (size_t have = 0; have < len; have += 48) {
    hmac384(secret, slen, a, 48, ls, lslen, block);
    memcpy(out + have, block, len - have < 48 ? len - have : 48);
    hmac384(secret, slen, a, 48, NULL, 0, a);
  }
}

static size_t extension(unsigned char *p, unsigned type, const unsigned char *data, size_t len) {
  put16(p, type);
  put16(p + 2, (unsigned)len);
  memcpy(p + 4, data, len);
  return 4 + len;
}

/* The ClientHello record of bench/tls12-light-client.ts, byte for byte (its random written per handshake). */
static void build_hello(const char *servername) {
  unsigned char ext[256], d[128];
  size_t n = 0, nl = strlen(servername);
  put16(d, (unsigned)nl + 3); d[2] = 0; put16(d + 3, (unsigned)nl); memcpy(d + 5, servername, nl);
  n += extension(ext + n, 0x0000, d, nl + 5);                 /* server_name */
  put16(d, 2); put16(d + 2, GROUP);
  n += extension(ext + n, 0x000a, d, 4);                      /* supported_groups */
  d[0] = 1; d[1] = 0;
  n += extension(ext + n, 0x000b, d, 2);                      /* ec_point_formats: uncompressed */
  put16(d, 8); put16(d + 2, 0x0804); put16(d + 4, 0x0805); put16(d + 6, 0x0401); put16(d + 8, 0x0501);
  n += extension(ext + n, 0x000d, d, 10);                     /* signature_algorithms */
  d[0] = 0;
  n += extension(ext + n, 0xff01, d, 1);                      /* renegotiation_info, empty (RFC 5746) */
  unsigned char *h = hello + 5, *b = h + 4;
  size_t bl = 0;
  put16(b, 0x0303); bl += 2;
  memset(b + bl, 0, 32); bl += 32;
  b[bl++] = 0;                                                /* no session ID */
  put16(b + bl, 2); put16(b + bl + 2, SUITE); bl += 4;
  b[bl++] = 1; b[bl++] = 0;                                   /* null compression */
  put16(b + bl, (unsigned)n); bl += 2;
  memcpy(b + bl, ext, n); bl += n;
  h[0] = 1; put24(h + 1, (unsigned)bl);
  hello[0] = REC_HANDSHAKE; put16(hello + 1, 0x0301); put16(hello + 3, (unsigned)(bl + 4));
  hello_len = 5 + 4 + bl;
}

static void fail(struct conn *c, const char *what) {
  failed_count++;
  if (first_error[0] == 0) snprintf(first_error, sizeof first_error, "%s", what);
  if (c->fd >= 0) close(c->fd); /* close() also leaves the epoll set */
  c->fd = -1;
  c->state = IDLE;
}

static void succeed(struct conn *c) {
  done_count++;
  close(c->fd); /* FIN: nothing is left unread */
  c->fd = -1;
  c->state = IDLE;
}

static void start(struct conn *c, double timeout) {
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0) { fail(c, "socket"); return; }
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c->state = CONNECTING;
  c->deadline = now() + timeout;
  c->inlen = c->hslen = 0;
  c->server_ccs = c->have_random = c->have_premaster = 0;
  struct epoll_event ev = { .events = EPOLLOUT | EPOLLIN, .data.ptr = c };
  if (connect(c->fd, (struct sockaddr *)&target, sizeof target) < 0 && errno != EINPROGRESS) { fail(c, "connect"); return; }
  epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
}

static int send_all(struct conn *c, const unsigned char *p, size_t n) {
  ssize_t w = write(c->fd, p, n); /* a few hundred bytes on a fresh socket: the send buffer takes them */
  if (w != (ssize_t)n) { fail(c, "short write"); return -1; }
  return 0;
}

static void send_hello(struct conn *c) {
  RAND_bytes(c->client_random, 32);
  memcpy(hello + 5 + 6, c->client_random, 32);
  EVP_DigestInit_ex(c->transcript, SHA384, NULL);
  EVP_DigestUpdate(c->transcript, hello + 5, hello_len - 5);
  if (send_all(c, hello, hello_len) < 0) return;
  struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
  epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
  c->state = HANDSHAKING;
}

/* ClientKeyExchange (G), ChangeCipherSpec, and the Finished sealed with sequence number 0 (RFC 5288 §3). */
static void send_flight(struct conn *c) {
  unsigned char out[256], seed[64], master[48], block[72], digest[48], fin[16], aad[13], nonce[12];
  size_t n = 0;
  out[n++] = REC_HANDSHAKE; put16(out + n, 0x0303); put16(out + n + 2, 4 + 1 + 97); n += 4;
  unsigned char *cke = out + n;
  cke[0] = 16; put24(cke + 1, 1 + 97); cke[4] = 97; memcpy(cke + 5, GENERATOR, 97);
  n += 4 + 1 + 97;
  EVP_DigestUpdate(c->transcript, cke, 4 + 1 + 97);
  out[n++] = REC_CCS; put16(out + n, 0x0303); put16(out + n + 2, 1); out[n + 4] = 1; n += 5;

  memcpy(seed, c->client_random, 32); memcpy(seed + 32, c->server_random, 32);
  prf384(c->premaster, 48, "master secret", seed, 64, master, 48);
  memcpy(seed, c->server_random, 32); memcpy(seed + 32, c->client_random, 32);
  prf384(master, 48, "key expansion", seed, 64, block, 72);
  EVP_MD_CTX *copy = EVP_MD_CTX_new();
  EVP_MD_CTX_copy_ex(copy, c->transcript);
  EVP_DigestFinal_ex(copy, digest, NULL);
  EVP_MD_CTX_free(copy);
  fin[0] = HS_FINISHED; put24(fin + 1, 12);
  prf384(master, 48, "client finished", digest, 48, fin + 4, 12);

  memset(aad, 0, 8); aad[8] = REC_HANDSHAKE; put16(aad + 9, 0x0303); put16(aad + 11, 16);
  memcpy(nonce, block + 64, 4); memset(nonce + 4, 0, 8); /* client_write_IV, explicit nonce 0 */
  out[n++] = REC_HANDSHAKE; put16(out + n, 0x0303); put16(out + n + 2, 8 + 16 + 16); n += 4;
  memset(out + n, 0, 8); n += 8;
  EVP_CIPHER_CTX *g = EVP_CIPHER_CTX_new();
  int len = 0;
  EVP_EncryptInit_ex(g, AES256GCM, NULL, block, nonce); /* client_write_key: the first 32 bytes */
  EVP_EncryptUpdate(g, NULL, &len, aad, 13);
  EVP_EncryptUpdate(g, out + n, &len, fin, 16); n += 16;
  EVP_EncryptFinal_ex(g, out + n, &len);
  EVP_CIPHER_CTX_ctrl(g, EVP_CTRL_GCM_GET_TAG, 16, out + n); n += 16;
  EVP_CIPHER_CTX_free(g);
  send_all(c, out, n);
}

/* Whole handshake messages of the server's first flight; -1 when the connection failed. */
static int on_handshake_messages(struct conn *c) {
  size_t off = 0;
  while (c->hslen - off >= 4) {
    unsigned char *m = c->hs + off;
    size_t len = get24(m + 1);
    if (c->hslen - off < 4 + len) break;
    const unsigned char *body = m + 4;
    EVP_DigestUpdate(c->transcript, m, 4 + len);
    off += 4 + len;
    switch (m[0]) {
    case HS_SERVER_HELLO: {
      if (len < 38) { fail(c, "short ServerHello"); return -1; }
      memcpy(c->server_random, body + 2, 32);
      size_t sid = body[34];
      if (len < 38 + sid || get16(body + 35 + sid) != SUITE) { fail(c, "cipher: server chose another suite"); return -1; }
      c->have_random = 1;
      break;
    }
    case HS_SERVER_KEY_EXCHANGE:
      if (len < 5 + 96 || body[0] != 3 || get16(body + 1) != GROUP || body[3] != 97 || body[4] != 4) {
        fail(c, "group: ServerKeyExchange is not an uncompressed secp384r1 point"); return -1;
      }
      memcpy(c->premaster, body + 5, 48); /* d_c = 1: the shared point is the server's own */
      c->have_premaster = 1;
      break;
    case HS_CERTIFICATE:
      break;
    case HS_CERTIFICATE_REQUEST:
      fail(c, "client-certificate: server requested one"); return -1;
    case HS_SERVER_HELLO_DONE:
      if (!c->have_random || !c->have_premaster) { fail(c, "unexpected-message: ServerHelloDone too early"); return -1; }
      send_flight(c);
      if (c->state == IDLE) return -1;
      c->state = FINISHING;
      break;
    default:
      fail(c, "unexpected-message before ServerHelloDone"); return -1;
    }
  }
  memmove(c->hs, c->hs + off, c->hslen - off);
  c->hslen -= off;
  return 0;
}

static void on_readable(struct conn *c) {
  for (;;) {
    ssize_t r = read(c->fd, c->in + c->inlen, BUF - c->inlen);
    if (r == 0) { fail(c, "closed: connection closed before the server Finished"); return; }
    if (r < 0) {
      if (errno == EAGAIN) return;
      fail(c, "socket: read error"); return;
    }
    c->inlen += (size_t)r;
    size_t off = 0;
    while (c->inlen - off >= 5) {
      unsigned char *rec = c->in + off;
      size_t len = get16(rec + 3);
      if (c->inlen - off < 5 + len) break;
      off += 5 + len;
      if (rec[0] == REC_ALERT) { char e[64]; snprintf(e, sizeof e, "alert: server alert %u/%u", rec[5], rec[6]); fail(c, e); return; }
      if (rec[0] == REC_CCS) { c->server_ccs = 1; continue; }
      if (rec[0] != REC_HANDSHAKE) { fail(c, "unexpected-record"); return; }
      if (c->server_ccs) {
        if (c->state != FINISHING) { fail(c, "unexpected-message: ChangeCipherSpec before the client flight"); return; }
        succeed(c); /* the server's Finished: sent only after it verified the client's */
        return;
      }
      if (c->hslen + len > BUF) { fail(c, "handshake flight too large"); return; }
      memcpy(c->hs + c->hslen, rec + 5, len);
      c->hslen += len;
      if (on_handshake_messages(c) < 0) return;
    }
    memmove(c->in, c->in + off, c->inlen - off);
    c->inlen -= off;
    if (c->inlen == BUF) { fail(c, "record too large"); return; }
  }
}

int main(int argc, char **argv) {
  if (argc < 6) { fprintf(stderr, "usage: %s HOST PORT SERVERNAME SECONDS LANES [TIMEOUT_MS]\n", argv[0]); return 2; }
  SHA384 = EVP_sha384();
  AES256GCM = EVP_aes_256_gcm();
  memset(&target, 0, sizeof target);
  target.sin_family = AF_INET;
  target.sin_port = htons((unsigned short)atoi(argv[2]));
  if (inet_pton(AF_INET, argv[1], &target.sin_addr) != 1) { fprintf(stderr, "HOST must be an IPv4 address\n"); return 2; }
  build_hello(argv[3]);
  double seconds = atof(argv[4]);
  int lanes = atoi(argv[5]);
  double timeout = (argc > 6 ? atof(argv[6]) : 10000) / 1000;
  ep = epoll_create1(EPOLL_CLOEXEC);
  struct conn *conns = calloc((size_t)lanes, sizeof *conns);
  if (conns == NULL || lanes < 1) return 2;
  double t0 = now(), end = t0 + seconds;
  for (int i = 0; i < lanes; i++) { conns[i].fd = -1; conns[i].transcript = EVP_MD_CTX_new(); start(&conns[i], timeout); }
  struct epoll_event evs[64];
  for (;;) {
    int n = epoll_wait(ep, evs, 64, 50);
    for (int i = 0; i < n; i++) {
      struct conn *c = evs[i].data.ptr;
      if (c->fd < 0) continue;
      if (c->state == CONNECTING) {
        int err = 0;
        socklen_t el = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err != 0) { char e[96]; snprintf(e, sizeof e, "connect: %s", strerror(err)); fail(c, e); continue; }
        if (evs[i].events & EPOLLOUT) send_hello(c);
        continue;
      }
      on_readable(c);
    }
    double t = now();
    int busy = 0;
    for (int i = 0; i < lanes; i++) {
      struct conn *c = &conns[i];
      if (c->state != IDLE && t > c->deadline) fail(c, "timeout: no server Finished in time");
      if (c->state == IDLE && t < end) start(c, timeout);
      busy += c->state != IDLE;
    }
    if (busy == 0 && t >= end) break;
  }
  double secs = now() - t0;
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
  printf("{\"done\":%ld,\"failed\":%ld,\"firstError\":\"%s\",\"seconds\":%.3f,\"cpuSec\":%.3f}\n", done_count, failed_count, first_error, secs, cpu);
  return 0;
}
