/* loadgen: a lean open-loop HTTPS/1.1 load generator for bench/webhook_load.py.
 *
 * Why it exists: the Python load generator uses 0.3-0.45 ms of CPU per review on the same two
 * CPUs as the server it measures; this one uses a few microseconds, so at 1,000 reviews/s the
 * figures are the server's. It still runs on the same machine, so it is a leaner generator,
 * not a second machine.
 *
 * What it does: N keep-alive TLS connections (epoll, non-blocking, one thread), one request
 * in flight per connection (HTTP/1.1, no pipelining). Open loop at a fixed rate: connection c
 * sends its k-th request at start + c/rate + k*N/rate (rate 0: back to back). Latency is
 * measured both from the actual send and from the scheduled slot: an answer that keeps a
 * connection busy past its next slot delays that send, and the delay counts (no coordinated
 * omission, as in wrk2). A request is an error unless the answer is HTTP 200 with a complete
 * body (Content-Length) that holds the request's own uid. When the server closes a kept-alive
 * connection (Connection: close after its keep-alive request limit, or EOF) the generator
 * reconnects (a full handshake, as a fresh client would) and counts it.
 *
 *   loadgen --host 127.0.0.1 --port 8443 --ca ca.pem --request req.bin --rate 1000
 *           --duration 20 --connections 4 [--warmup 20] [--timeout 10]
 *           [--uid-placeholder 00000000-0000-0000-0000-000000000000]
 *
 * --request is the whole request (head and body) as bytes; every occurrence of the placeholder
 * uid in it is replaced by a fresh uid per request (same length). Output: one JSON line on
 * stdout. Exit 0 when it ran (errors are counted in the JSON), 2 on bad usage or setup.
 *
 * Bounded: fixed connections and duration; after the end it waits at most --timeout for the
 * answers and late slots, then counts requests still in flight as timeouts and slots never sent
 * as "unsent" errors. One file on purpose (~700 lines): one gcc command builds it, no build
 * system.
 *
 * Build: gcc -O2 -o loadgen loadgen.c -lssl -lcrypto
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define UID_LEN 36
#define MAX_CONNECTIONS 1024
#define RBUF_MAX (8 << 20) /* an answer larger than this is an error, not unbounded memory */

enum state { C_BACKOFF, C_CONNECTING, C_HANDSHAKE, C_IDLE, C_WRITING, C_READING };

struct conn {
    int id;
    int fd;
    SSL *ssl;
    enum state state;
    long next_index; /* open loop: the schedule's index of this connection's next request */
    double slot, sent, ready, deadline;
    int measured;    /* the request in flight counts (not warm-up) */
    int warm_left;   /* warm-up requests still to send */
    char *req;       /* this connection's copy of the request, uid spliced in */
    size_t wpos;
    char *rbuf;
    size_t rlen, rcap;
    char uid[UID_LEN + 1];
    uint64_t counter;
    uint32_t events; /* epoll interest now registered */
};

struct samples {
    double *v;
    size_t n, cap;
};

static struct {
    const char *host, *port, *ca, *request_file, *placeholder;
    double rate, duration, timeout;
    int connections, warmup, insecure;
} opt = {"127.0.0.1", NULL, NULL, NULL, "00000000-0000-0000-0000-000000000000", 0, 10, 10, 4,
         20, 0};

static char *request;
static size_t request_len;
static size_t uid_at[16];
static int uid_count;
static struct addrinfo *addr;
static SSL_CTX *ctx;
static int epfd, tfd;
static struct conn *conns;
static struct samples from_send, from_slot, lag, own_lag;
static long warmup_done, warmup_errors, reconnects, connect_errors, completed;
static long err_status, err_body, err_io, err_timeout, unsent, ok_count;
static double start, end, last_done;
static int phase; /* 0 warm-up, 1 measured run, 2 drain */

static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "loadgen: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(2);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void push(struct samples *s, double x) {
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 4096;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
        if (!s->v)
            die("out of memory");
    }
    s->v[s->n++] = x;
}

static void watch(struct conn *c, uint32_t events) {
    if (c->events == events)
        return;
    struct epoll_event ev = {.events = events, .data.ptr = c};
    int op = c->events ? (events ? EPOLL_CTL_MOD : EPOLL_CTL_DEL) : EPOLL_CTL_ADD;
    if (!events && !c->events)
        return;
    if (epoll_ctl(epfd, op, c->fd, &ev) < 0)
        die("epoll_ctl: %s", strerror(errno));
    c->events = events;
}

static void drop(struct conn *c) {
    if (c->ssl) {
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    if (c->fd >= 0) {
        if (c->events)
            epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
    }
    c->fd = -1;
    c->events = 0;
    c->rlen = 0;
}

static void start_connect(struct conn *c, double t);

/* A request ended (answer, error or timeout): record it and make the connection ready. */
static void finish(struct conn *c, double t, int ok, int reconnect) {
    completed++;
    if (!c->measured) {
        warmup_done++;
        warmup_errors += !ok;
    } else {
        ok_count += ok;
        push(&from_send, t - c->sent);
        push(&from_slot, t - c->slot);
        last_done = t;
    }
    c->measured = 0;
    if (reconnect) {
        drop(c);
        start_connect(c, t);
    } else {
        c->state = C_IDLE;
        c->ready = t;
        c->rlen = 0;
        watch(c, EPOLLIN); /* to see the server close an idle connection */
    }
}

static void fail_request(struct conn *c, double t, long *counter) {
    if (c->measured)
        (*counter)++;
    finish(c, t, 0, 1);
}

static void start_connect(struct conn *c, double t) {
    c->fd = socket(addr->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        die("socket: %s", strerror(errno));
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->deadline = t + opt.timeout;
    if (connect(c->fd, addr->ai_addr, addr->ai_addrlen) < 0 && errno != EINPROGRESS) {
        connect_errors++;
        close(c->fd);
        c->fd = -1;
        c->state = C_BACKOFF; /* try again in 100 ms, never in a tight loop */
        c->deadline = t + 0.1;
        return;
    }
    c->state = C_CONNECTING;
    watch(c, EPOLLOUT);
}

static void connect_failed(struct conn *c, double t) {
    connect_errors++;
    drop(c);
    c->state = C_BACKOFF;
    c->deadline = t + 0.1;
}

static void handshake(struct conn *c, double t) {
    if (!c->ssl) {
        c->ssl = SSL_new(ctx);
        SSL_set_fd(c->ssl, c->fd);
        struct in6_addr ip;
        int is_ip = inet_pton(AF_INET, opt.host, &ip) == 1 || inet_pton(AF_INET6, opt.host, &ip) == 1;
        if (is_ip) {
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), opt.host);
        } else {
            SSL_set_tlsext_host_name(c->ssl, opt.host);
            SSL_set1_host(c->ssl, opt.host);
        }
        c->state = C_HANDSHAKE;
    }
    ERR_clear_error();
    int r = SSL_connect(c->ssl);
    if (r == 1) {
        c->state = C_IDLE;
        c->ready = t;
        watch(c, EPOLLIN);
        return;
    }
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ)
        watch(c, EPOLLIN);
    else if (e == SSL_ERROR_WANT_WRITE)
        watch(c, EPOLLOUT);
    else {
        unsigned long code = ERR_peek_error();
        if (code && connect_errors < 3)
            fprintf(stderr, "loadgen: TLS handshake: %s\n", ERR_error_string(code, NULL));
        connect_failed(c, t);
    }
}

static void set_uid(struct conn *c) {
    /* unique per request, same length as a UUID: connection id and a counter */
    snprintf(c->uid, sizeof c->uid, "%08x-0000-4000-8000-%012llx", (unsigned)c->id,
             (unsigned long long)(c->counter++ & 0xffffffffffffULL));
    for (int i = 0; i < uid_count; i++)
        memcpy(c->req + uid_at[i], c->uid, UID_LEN);
}

static void do_write(struct conn *c, double t) {
    while (c->wpos < request_len) {
        ERR_clear_error();
        int r = SSL_write(c->ssl, c->req + c->wpos, (int)(request_len - c->wpos));
        if (r > 0) {
            c->wpos += (size_t)r;
            continue;
        }
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_WRITE) {
            watch(c, EPOLLOUT);
            return;
        }
        if (e == SSL_ERROR_WANT_READ) {
            watch(c, EPOLLIN);
            return;
        }
        fail_request(c, t, &err_io);
        return;
    }
    c->state = C_READING;
    c->rlen = 0;
    watch(c, EPOLLIN);
}

static void send_request(struct conn *c, double slot, int measured, double t) {
    set_uid(c);
    c->slot = slot;
    c->sent = t;
    c->measured = measured;
    if (measured) {
        push(&lag, t - slot);
        push(&own_lag, t - (slot > c->ready ? slot : c->ready));
    }
    c->wpos = 0;
    c->deadline = t + opt.timeout;
    c->state = C_WRITING;
    do_write(c, t);
}

/* 1: a complete answer is in rbuf (checked and recorded), 0: need more bytes. */
static int parse(struct conn *c, double t) {
    char *head_end = memmem(c->rbuf, c->rlen, "\r\n\r\n", 4);
    if (!head_end)
        return 0;
    size_t head_len = (size_t)(head_end - c->rbuf) + 4;
    if (c->rlen < 12 || memcmp(c->rbuf, "HTTP/1.", 7) != 0) {
        fail_request(c, t, &err_status);
        return 1;
    }
    int status = atoi(c->rbuf + 9);
    int http10 = c->rbuf[7] == '0';
    long length = -1;
    int close_after = http10;
    for (char *line = memchr(c->rbuf, '\n', head_len) + 1; line < head_end;) {
        char *eol = memchr(line, '\n', (size_t)(head_end + 2 - line));
        if (!eol)
            break;
        if (!strncasecmp(line, "content-length:", 15))
            length = strtol(line + 15, NULL, 10);
        else if (!strncasecmp(line, "connection:", 11)) {
            char *v = line + 11;
            while (*v == ' ')
                v++;
            if (!strncasecmp(v, "close", 5))
                close_after = 1;
            else if (!strncasecmp(v, "keep-alive", 10))
                close_after = 0;
        }
        line = eol + 1;
    }
    if (length < 0) { /* no Content-Length: we cannot tell where the body ends */
        fail_request(c, t, &err_body);
        return 1;
    }
    if (c->rlen < head_len + (size_t)length)
        return 0;
    if (c->rlen > head_len + (size_t)length) { /* bytes nobody asked for */
        fail_request(c, t, &err_body);
        return 1;
    }
    char want[UID_LEN + 16];
    int want_len = snprintf(want, sizeof want, "\"uid\":\"%s\"", c->uid);
    int ok = status == 200;
    int body_ok = !uid_count || memmem(c->rbuf + head_len, (size_t)length, want, want_len);
    if (c->measured) {
        if (!ok)
            err_status++;
        else if (!body_ok)
            err_body++;
    }
    if (close_after)
        reconnects++;
    finish(c, t, ok && body_ok, close_after);
    return 1;
}

static void do_read(struct conn *c, double t) {
    for (;;) {
        if (c->rcap - c->rlen < 16384) {
            if (c->rcap >= RBUF_MAX) {
                if (c->state == C_READING)
                    fail_request(c, t, &err_body);
                else
                    drop(c), start_connect(c, t);
                return;
            }
            c->rcap = c->rcap ? c->rcap * 2 : 65536;
            c->rbuf = realloc(c->rbuf, c->rcap);
            if (!c->rbuf)
                die("out of memory");
        }
        ERR_clear_error();
        int r = SSL_read(c->ssl, c->rbuf + c->rlen, (int)(c->rcap - c->rlen));
        if (r > 0) {
            if (c->state != C_READING) { /* bytes nobody asked for on an idle connection */
                drop(c);
                start_connect(c, t);
                return;
            }
            c->rlen += (size_t)r;
            if (parse(c, t))
                return;
            continue;
        }
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ)
            return;
        if (e == SSL_ERROR_WANT_WRITE) {
            watch(c, EPOLLOUT);
            return;
        }
        /* EOF or error */
        if (c->state == C_READING)
            fail_request(c, t, &err_io);
        else { /* the server closed an idle kept-alive connection: reconnect */
            reconnects++;
            drop(c);
            start_connect(c, t);
        }
        return;
    }
}

static void on_event(struct conn *c, uint32_t events, double t) {
    switch (c->state) {
    case C_CONNECTING: {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) {
            connect_failed(c, t);
            return;
        }
        handshake(c, t);
        return;
    }
    case C_HANDSHAKE:
        handshake(c, t);
        return;
    case C_WRITING:
        do_write(c, t);
        return;
    case C_READING:
    case C_IDLE:
        (void)events;
        do_read(c, t);
        return;
    case C_BACKOFF:
        return;
    }
}

static void arm(double when, double t) {
    static double armed = -1;
    if (when == armed && when > t) /* already set and still ahead: save the syscall */
        return;
    armed = when;
    struct itimerspec its = {0};
    if (when > 0) {
        its.it_value.tv_sec = (time_t)when;
        its.it_value.tv_nsec = (long)((when - (double)(time_t)when) * 1e9);
        if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
            its.it_value.tv_nsec = 1;
    }
    timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(struct samples *s, double p) {
    if (!s->n)
        return -1;
    size_t i = (size_t)(p / 100 * (double)s->n);
    return s->v[i < s->n ? i : s->n - 1] * 1000;
}

static void print_dist(const char *prefix, struct samples *s) {
    qsort(s->v, s->n, sizeof *s->v, cmp);
    printf("\"%sp50_ms\":%.3f,\"%sp90_ms\":%.3f,\"%sp99_ms\":%.3f,\"%sp999_ms\":%.3f,"
           "\"%smax_ms\":%.3f,",
           prefix, pct(s, 50), prefix, pct(s, 90), prefix, pct(s, 99), prefix, pct(s, 99.9),
           prefix, pct(s, 100));
}

static void usage(void) {
    die("usage: loadgen --port P --request FILE (--ca FILE | --insecure) [--host H] [--rate R "
        "(0: back to back)] [--duration S] [--connections N] [--warmup N] [--timeout S] "
        "[--uid-placeholder UID]");
}

static void parse_args(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--insecure")) {
            opt.insecure = 1;
            continue;
        }
        if (i + 1 >= argc)
            usage();
        const char *v = argv[++i];
        if (!strcmp(a, "--host"))
            opt.host = v;
        else if (!strcmp(a, "--port"))
            opt.port = v;
        else if (!strcmp(a, "--ca"))
            opt.ca = v;
        else if (!strcmp(a, "--request"))
            opt.request_file = v;
        else if (!strcmp(a, "--uid-placeholder"))
            opt.placeholder = v;
        else if (!strcmp(a, "--rate"))
            opt.rate = atof(v);
        else if (!strcmp(a, "--duration"))
            opt.duration = atof(v);
        else if (!strcmp(a, "--timeout"))
            opt.timeout = atof(v);
        else if (!strcmp(a, "--connections"))
            opt.connections = atoi(v);
        else if (!strcmp(a, "--warmup"))
            opt.warmup = atoi(v);
        else
            usage();
    }
    if (!opt.port || !opt.request_file || (!opt.ca && !opt.insecure))
        usage();
    if (opt.connections < 1 || opt.connections > MAX_CONNECTIONS || opt.rate < 0 ||
        opt.duration <= 0 || opt.duration > 3600 || opt.timeout <= 0 || opt.warmup < 0)
        die("--connections 1..%d, --rate >= 0, --duration 0..3600 s, --timeout > 0",
            MAX_CONNECTIONS);
}

static void load_request(void) {
    FILE *f = fopen(opt.request_file, "rb");
    if (!f)
        die("%s: %s", opt.request_file, strerror(errno));
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (size <= 0 || size > RBUF_MAX)
        die("%s: empty or larger than %d bytes", opt.request_file, RBUF_MAX);
    request = malloc((size_t)size);
    if (!request || fread(request, 1, (size_t)size, f) != (size_t)size)
        die("%s: cannot read", opt.request_file);
    fclose(f);
    request_len = (size_t)size;
    size_t plen = strlen(opt.placeholder);
    if (plen && plen != UID_LEN)
        die("--uid-placeholder must be %d characters (or empty: no uid check)", UID_LEN);
    for (char *p = request; plen && (p = memmem(p, request_len - (size_t)(p - request),
                                                opt.placeholder, plen));
         p += plen) {
        if (uid_count == 16)
            die("more than 16 placeholder uids in the request");
        uid_at[uid_count++] = (size_t)(p - request);
    }
    if (plen && !uid_count)
        die("%s holds no placeholder uid %s", opt.request_file, opt.placeholder);
}

int main(int argc, char **argv) {
    parse_args(argc, argv);
    load_request();
    signal(SIGPIPE, SIG_IGN);

    struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
    int gai = getaddrinfo(opt.host, opt.port, &hints, &addr);
    if (gai)
        die("%s:%s: %s", opt.host, opt.port, gai_strerror(gai));

    ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx)
        die("SSL_CTX_new failed");
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (opt.insecure)
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    else {
        if (SSL_CTX_load_verify_locations(ctx, opt.ca, NULL) != 1)
            die("cannot load CA file %s", opt.ca);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    }

    epfd = epoll_create1(EPOLL_CLOEXEC);
    tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (epfd < 0 || tfd < 0)
        die("epoll/timerfd: %s", strerror(errno));
    struct epoll_event tev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(epfd, EPOLL_CTL_ADD, tfd, &tev);

    int n = opt.connections;
    conns = calloc((size_t)n, sizeof *conns);
    double t = now();
    for (int i = 0; i < n; i++) {
        conns[i].id = i;
        conns[i].fd = -1;
        conns[i].warm_left = opt.warmup;
        conns[i].req = malloc(request_len);
        memcpy(conns[i].req, request, request_len);
        start_connect(&conns[i], t);
    }
    /* slot j is start + j / rate for j < total: computed from integers, never accumulated, so
       rate x duration requests are scheduled exactly (adding 0.05 ten times lands below 0.5) */
    double wanted = opt.rate > 0 ? opt.rate * opt.duration : 0;
    long total = (long)wanted;
    total += total < wanted - 1e-9; /* j / rate < duration: j < rate x duration, rounded up */
    double warmup_deadline = t + 30 + opt.timeout; /* bounded even if the server never answers */
    double drain_deadline = 0;
    struct epoll_event evs[64];
    phase = 0;

    for (;;) {
        t = now();
        if (phase == 0) {
            int warm = 1;
            for (int i = 0; i < n; i++)
                warm &= conns[i].warm_left == 0 && conns[i].state == C_IDLE;
            if (warm || t > warmup_deadline) {
                phase = 1;
                start = t;
                end = start + opt.duration;
                for (int i = 0; i < n; i++)
                    conns[i].next_index = i;
            }
        }
        if (phase == 1 && t >= end) {
            phase = 2;
            drain_deadline = t + opt.timeout;
        }
        double wake = phase == 0 ? warmup_deadline : phase == 1 ? end : drain_deadline;
        int busy = 0;
        for (int i = 0; i < n; i++) {
            struct conn *c = &conns[i];
            if (c->state == C_BACKOFF && t >= c->deadline)
                start_connect(c, t);
            else if (c->state != C_IDLE && c->state != C_BACKOFF && t >= c->deadline) {
                if (c->state == C_WRITING || c->state == C_READING)
                    fail_request(c, t, &err_timeout);
                else
                    connect_failed(c, t);
            }
            if (c->state == C_IDLE) {
                if (phase == 0 && c->warm_left > 0) {
                    c->warm_left--;
                    send_request(c, t, 0, t);
                } else if (phase >= 1) {
                    /* every slot before the end is sent, late if need be (and counted) */
                    int left = opt.rate > 0 ? c->next_index < total : phase == 1;
                    double slot = opt.rate > 0 ? start + c->next_index / opt.rate : t;
                    if (left && slot <= t) {
                        c->next_index += n;
                        send_request(c, slot, 1, t);
                    } else if (left && slot < wake)
                        wake = slot;
                }
            }
            if (c->state != C_IDLE && c->deadline < wake)
                wake = c->deadline;
            /* drained: nothing in flight and no slot left that could still be sent */
            busy |= c->state == C_WRITING || c->state == C_READING ||
                    (opt.rate > 0 && c->next_index < total);
        }
        if (phase == 2 && (!busy || t >= drain_deadline))
            break;
        arm(wake, t);
        int k = epoll_wait(epfd, evs, 64, -1);
        if (k < 0 && errno != EINTR)
            die("epoll_wait: %s", strerror(errno));
        t = now();
        for (int j = 0; j < k; j++) {
            if (!evs[j].data.ptr) {
                uint64_t expirations;
                while (read(tfd, &expirations, sizeof expirations) > 0) {
                }
                continue;
            }
            on_event(evs[j].data.ptr, evs[j].events, t);
        }
    }

    /* slots never sent before the drain deadline: errors, not silence */
    for (int i = 0; i < n; i++) {
        struct conn *c = &conns[i];
        if (c->measured)
            err_timeout++; /* in flight at the deadline */
        for (long j = c->next_index; opt.rate > 0 && j < total; j += n)
            unsent++;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + ru.ru_stime.tv_sec +
                 ru.ru_stime.tv_usec * 1e-6;
    double span = last_done - start > opt.duration ? last_done - start : opt.duration;
    long requests = (long)from_send.n;
    long errors = err_status + err_body + err_io + err_timeout + unsent;
    printf("{\"generator\":\"c\",\"target_rate\":%g,\"connections\":%d,\"duration_s\":%g,", opt.rate,
           n, opt.duration);
    printf("\"requests\":%ld,\"ok\":%ld,\"achieved_rate\":%.1f,\"span_s\":%.3f,", requests,
           ok_count, requests / span, span);
    printf("\"errors\":%ld,\"errors_status\":%ld,\"errors_body\":%ld,\"errors_io\":%ld,"
           "\"errors_timeout\":%ld,\"unsent\":%ld,\"connect_errors\":%ld,\"reconnects\":%ld,",
           errors, err_status, err_body, err_io, err_timeout, unsent, connect_errors, reconnects);
    printf("\"warmup_requests\":%ld,\"warmup_errors\":%ld,", warmup_done, warmup_errors);
    print_dist("", &from_send);
    print_dist("slot_", &from_slot);
    print_dist("lag_", &lag);
    print_dist("own_lag_", &own_lag);
    printf("\"cpu_s\":%.4f,\"cpu_ms_per_request\":%.4f}\n", cpu,
           completed ? cpu * 1000 / completed : -1.0);
    return 0;
}
