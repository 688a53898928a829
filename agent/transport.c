/* transport.c — libzmq CURVE transport with our own ZAP handler; see transport.h. */
#include "transport.h"
#include "log.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

/* Per wake-up we drain at most this many messages so timers and the control socket keep
 * their turn under a flood. */
#define TP_RECV_BATCH 512
/* A draft option in Debian's libzmq 4.3.4 header; stable builds may refuse it. Then we
 * rely on what it would add: our handler is bound before the ROUTER binds, so every
 * CURVE handshake is sent to it, and it checks the domain itself. */
#ifndef ZMQ_ZAP_ENFORCE_DOMAIN
#define ZMQ_ZAP_ENFORCE_DOMAIN 93
#endif

struct allowed {
    uint8_t id[AG_HOST_ID_LEN];
    uint8_t curve_pk[32];
};

struct peer {
    char addr[TP_ADDR_MAX];
    uint8_t curve_pk[32];
    void *sock;
    uint64_t last_used;
    uint64_t sock_since_ms;   /* when sock was made */
    uint32_t fail_streak;     /* sends refused in a row (no connection up) */
};

/* A peer that refused our handshake (its ZAP did not know our key yet: we joined a
 * moment before it applied our admission) is never retried by libzmq, and the link
 * stays one-way for good; the lab lost a whole cluster that way when the third host
 * died. So a socket whose sends have all failed for TP_RECREATE_MS is made anew. */
#define TP_RECREATE_MS     2000
#define TP_RECREATE_FAILS    8

struct tp {
    ag_loop *loop;
    void *ctx, *zap, *router;
    ag_id zap_io, router_io;
    const ag_identity *self;
    tp_recv_fn cb;
    void *ud;
    struct allowed *allow;
    size_t nallow, capallow;
    struct peer *peers;
    size_t npeers, cappeers;
    uint64_t use_clock;
    size_t max_msg;
    struct tp_stats st;
};

/* A partition does not close TCP connections: both ends just hear nothing, the kernel
 * backs retransmissions off to many seconds, and a healed link stays silent that long
 * (the lab saw a host rejoin 12 s after its link came back). ZMTP heartbeats declare a
 * silent connection dead after TP_HB_TIMEOUT_MS and the DEALER reconnects at once; a
 * connect that gets no answer is given up after TP_CONNECT_TIMEOUT_MS and retried,
 * instead of waiting out the kernel's SYN back-off. Both well under a fence_timeout. */
#define TP_HB_IVL_MS          500
#define TP_HB_TIMEOUT_MS     2000
#define TP_CONNECT_TIMEOUT_MS 1000
static void tp_liveness(void *s)
{
    int ivl = TP_HB_IVL_MS, tmo = TP_HB_TIMEOUT_MS, ttl = TP_HB_TIMEOUT_MS, ct = TP_CONNECT_TIMEOUT_MS;
    zmq_setsockopt(s, ZMQ_HEARTBEAT_IVL, &ivl, sizeof ivl);
    zmq_setsockopt(s, ZMQ_HEARTBEAT_TIMEOUT, &tmo, sizeof tmo);
    zmq_setsockopt(s, ZMQ_HEARTBEAT_TTL, &ttl, sizeof ttl);
    zmq_setsockopt(s, ZMQ_CONNECT_TIMEOUT, &ct, sizeof ct);
}

static struct allowed *find_allowed_key(tp *t, const uint8_t curve_pk[32])
{
    for (size_t i = 0; i < t->nallow; i++)
        if (sodium_memcmp(t->allow[i].curve_pk, curve_pk, 32) == 0)
            return &t->allow[i];
    return NULL;
}

int tp_allow(tp *t, const uint8_t host_id[AG_HOST_ID_LEN], const uint8_t curve_pk[32])
{
    for (size_t i = 0; i < t->nallow; i++) {
        if (memcmp(t->allow[i].id, host_id, AG_HOST_ID_LEN) == 0) {
            memcpy(t->allow[i].curve_pk, curve_pk, 32);   /* key rotation */
            return 0;
        }
    }
    if (t->nallow == t->capallow) {
        size_t cap = t->capallow ? t->capallow * 2 : 16;
        struct allowed *v = realloc(t->allow, cap * sizeof *v);
        if (!v)
            return -ENOMEM;
        t->allow = v;
        t->capallow = cap;
    }
    memcpy(t->allow[t->nallow].id, host_id, AG_HOST_ID_LEN);
    memcpy(t->allow[t->nallow].curve_pk, curve_pk, 32);
    t->nallow++;
    return 0;
}

static void peer_close(struct peer *p);

void tp_revoke(tp *t, const uint8_t host_id[AG_HOST_ID_LEN])
{
    for (size_t i = 0; i < t->nallow; i++) {
        if (memcmp(t->allow[i].id, host_id, AG_HOST_ID_LEN) == 0) {
            /* Our connections to it end now. Its connection to us stays open until it
             * drops (libzmq closes no single peer of a ROUTER), but what it sends there
             * is refused as unknown_sender (net.c) and ZAP refuses it a new one. */
            for (size_t k = 0; k < t->npeers; k++)
                if (memcmp(t->peers[k].curve_pk, t->allow[i].curve_pk, 32) == 0)
                    peer_close(&t->peers[k]);
            t->allow[i] = t->allow[--t->nallow];
            return;
        }
    }
}

/* ---- ZAP (RFC 27/ZAP): frames version, request id, domain, address, identity,
 * mechanism, credentials...; we answer version, request id, status, text, user id,
 * metadata. */
static void zap_reply(void *zap, zmq_msg_t *reqid, const char *code, const char *text,
                      const char *user)
{
    zmq_send(zap, "1.0", 3, ZMQ_SNDMORE);
    zmq_send(zap, zmq_msg_data(reqid), zmq_msg_size(reqid), ZMQ_SNDMORE);
    zmq_send(zap, code, strlen(code), ZMQ_SNDMORE);
    zmq_send(zap, text, strlen(text), ZMQ_SNDMORE);
    zmq_send(zap, user, strlen(user), ZMQ_SNDMORE);
    zmq_send(zap, "", 0, 0);
}

static void on_zap(ag_loop *l, ag_id id, short revents, void *ud)
{
    (void)l; (void)id; (void)revents;
    tp *t = ud;
    for (;;) {
        zmq_msg_t f[8];
        int n = 0, more = 1;
        while (more && n < 8) {
            zmq_msg_init(&f[n]);
            if (zmq_msg_recv(&f[n], t->zap, n == 0 ? ZMQ_DONTWAIT : 0) < 0) {
                zmq_msg_close(&f[n]);
                if (n == 0)
                    return;   /* nothing (more) pending */
                more = 0;
                break;
            }
            more = zmq_msg_more(&f[n]);
            n++;
        }
        while (more) {   /* more frames than any valid request has: drain them */
            zmq_msg_t x;
            zmq_msg_init(&x);
            zmq_msg_recv(&x, t->zap, 0);
            more = zmq_msg_more(&x);
            zmq_msg_close(&x);
        }
        if (n < 2) {
            for (int i = 0; i < n; i++)
                zmq_msg_close(&f[i]);
            continue;   /* cannot even name the request: libzmq never sends this */
        }
        const char *why = NULL;
        struct allowed *a = NULL;
        if (n != 7)
            why = "malformed ZAP request";
        else if (zmq_msg_size(&f[2]) != strlen(TP_ZAP_DOMAIN) ||
                 memcmp(zmq_msg_data(&f[2]), TP_ZAP_DOMAIN, strlen(TP_ZAP_DOMAIN)) != 0)
            why = "wrong ZAP domain";
        else if (zmq_msg_size(&f[5]) != 5 || memcmp(zmq_msg_data(&f[5]), "CURVE", 5) != 0)
            why = "only CURVE is accepted";
        else if (zmq_msg_size(&f[6]) != 32)
            why = "bad CURVE credentials";
        else if (!(a = find_allowed_key(t, zmq_msg_data(&f[6]))))
            why = "key is not a member of this cluster";
        if (why) {
            t->st.zap_denied++;
            char peer[64] = "?";
            if (n >= 4)
                snprintf(peer, sizeof peer, "%.*s", (int)zmq_msg_size(&f[3]), (char *)zmq_msg_data(&f[3]));
            ag_debug("transport: refused connection from %s: %s", peer, why);
            zap_reply(t->zap, &f[1], "400", why, "");
        } else {
            char hex[AG_HOST_ID_HEXLEN];
            ag_hex(a->id, AG_HOST_ID_LEN, hex);
            t->st.zap_allowed++;
            zap_reply(t->zap, &f[1], "200", "OK", hex);
        }
        for (int i = 0; i < n; i++)
            zmq_msg_close(&f[i]);
    }
}

/* ---- receive -------------------------------------------------------------------- */

static void on_router(ag_loop *l, ag_id id, short revents, void *ud)
{
    (void)l; (void)id; (void)revents;
    tp *t = ud;
    for (int k = 0; k < TP_RECV_BATCH; k++) {
        zmq_msg_t rid, data;
        zmq_msg_init(&rid);
        if (zmq_msg_recv(&rid, t->router, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&rid);
            return;
        }
        if (!zmq_msg_more(&rid)) {   /* a ROUTER always prefixes the routing id */
            zmq_msg_close(&rid);
            continue;
        }
        zmq_msg_init(&data);
        zmq_msg_recv(&data, t->router, 0);
        int extra = zmq_msg_more(&data);
        while (extra) {   /* our peers send one frame; drop anything else whole */
            zmq_msg_t x;
            zmq_msg_init(&x);
            zmq_msg_recv(&x, t->router, 0);
            extra = zmq_msg_more(&x);
            zmq_msg_close(&x);
        }
        const char *user = zmq_msg_gets(&data, "User-Id");
        uint8_t sender[AG_HOST_ID_LEN];
        if (user && ag_unhex(user, sender, AG_HOST_ID_LEN) == 0) {
            t->st.received++;
            t->cb(t->ud, sender, zmq_msg_data(&data), zmq_msg_size(&data));
        }
        zmq_msg_close(&data);
        zmq_msg_close(&rid);
    }
}

/* ---- send ----------------------------------------------------------------------- */

static void peer_close(struct peer *p)
{
    if (p->sock)
        zmq_close(p->sock);
    p->sock = NULL;
}

static struct peer *peer_get(tp *t, const char *addr, const uint8_t curve_pk[32])
{
    struct peer *p = NULL;
    for (size_t i = 0; i < t->npeers; i++)
        if (strcmp(t->peers[i].addr, addr) == 0)
            p = &t->peers[i];
    if (p && memcmp(p->curve_pk, curve_pk, 32) != 0)
        peer_close(p);   /* another host took over this address: reconnect with its key */
    if (!p) {
        if (t->npeers == TP_MAX_PEERS) {   /* evict the least recently used */
            size_t lru = 0;
            for (size_t i = 1; i < t->npeers; i++)
                if (t->peers[i].last_used < t->peers[lru].last_used)
                    lru = i;
            peer_close(&t->peers[lru]);
            p = &t->peers[lru];
        } else {
            if (t->npeers == t->cappeers) {
                size_t cap = t->cappeers ? t->cappeers * 2 : 16;
                struct peer *v = realloc(t->peers, cap * sizeof *v);
                if (!v)
                    return NULL;
                t->peers = v;
                t->cappeers = cap;
            }
            p = &t->peers[t->npeers++];
            memset(p, 0, sizeof *p);
        }
        snprintf(p->addr, sizeof p->addr, "%s", addr);
    }
    if (!p->sock) {
        void *s = zmq_socket(t->ctx, ZMQ_DEALER);
        if (!s)
            return NULL;
        int zero = 0, hwm = TP_SNDHWM, ivl = 100, ivl_max = 1000;
        int64_t maxmsg = (int64_t)t->max_msg;
        zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
        zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm);
        zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
        /* reconnect fast: a restarted peer should hear from us within a probe period */
        zmq_setsockopt(s, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl);
        zmq_setsockopt(s, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof ivl_max);
        tp_liveness(s);
        zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, curve_pk, 32);
        zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, t->self->curve_pk, 32);
        zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, t->self->curve_sk, 32);
        if (zmq_connect(s, addr) != 0) {
            ag_warn("transport: cannot connect to %s: %s", addr, zmq_strerror(zmq_errno()));
            zmq_close(s);
            return NULL;
        }
        p->sock = s;
        p->sock_since_ms = ag_now_ms();
        p->fail_streak = 0;
        memcpy(p->curve_pk, curve_pk, 32);
    }
    p->last_used = ++t->use_clock;
    return p;
}

int tp_send(tp *t, const char *addr, const uint8_t curve_pk[32], const void *bytes, size_t len)
{
    if (strlen(addr) >= TP_ADDR_MAX || len > t->max_msg)
        return -EINVAL;
    struct peer *p = peer_get(t, addr, curve_pk);
    if (!p)
        return -EINVAL;
    if (zmq_send(p->sock, bytes, len, ZMQ_DONTWAIT) < 0) {
        t->st.send_dropped++;
        if (++p->fail_streak >= TP_RECREATE_FAILS && ag_now_ms() >= p->sock_since_ms + TP_RECREATE_MS) {
            peer_close(p);   /* the next send connects afresh */
            p->fail_streak = 0;
        }
        return -EAGAIN;
    }
    p->fail_streak = 0;
    t->st.sent++;
    return 0;
}

void tp_stats_get(const tp *t, struct tp_stats *st)
{
    *st = t->st;
}

/* ---- life cycle ------------------------------------------------------------------- */

int tp_new(ag_loop *l, const ag_identity *self, const char *bind_addr, size_t max_msg,
           tp_recv_fn cb, void *ud, tp **out, char *err, size_t errlen)
{
    tp *t = calloc(1, sizeof *t);
    if (!t)
        return -ENOMEM;
    t->loop = l;
    t->self = self;
    t->cb = cb;
    t->ud = ud;
    t->max_msg = max_msg;
    t->ctx = zmq_ctx_new();
    if (!t->ctx) {
        snprintf(err, errlen, "cannot create a zmq context");
        free(t);
        return -ENOMEM;
    }
    int rc;
    /* the ZAP handler must exist before the server socket binds, or CURVE admits anyone */
    t->zap = zmq_socket(t->ctx, ZMQ_REP);
    if (!t->zap || zmq_bind(t->zap, "inproc://zeromq.zap.01") != 0) {
        rc = -zmq_errno();
        snprintf(err, errlen, "cannot bind the ZAP handler: %s", zmq_strerror(-rc));
        goto err_after_ctx;
    }
    t->router = zmq_socket(t->ctx, ZMQ_ROUTER);
    int one = 1, zero = 0;
    int64_t maxmsg = (int64_t)max_msg;
    zmq_setsockopt(t->router, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(t->router, ZMQ_CURVE_SERVER, &one, sizeof one);
    zmq_setsockopt(t->router, ZMQ_CURVE_SECRETKEY, self->curve_sk, 32);
    zmq_setsockopt(t->router, ZMQ_ZAP_DOMAIN, TP_ZAP_DOMAIN, strlen(TP_ZAP_DOMAIN));
    if (zmq_setsockopt(t->router, ZMQ_ZAP_ENFORCE_DOMAIN, &one, sizeof one) != 0)
        ag_debug("transport: libzmq lacks ZAP_ENFORCE_DOMAIN; the ZAP handler bound first covers it");
    /* a peer announcing a larger message is disconnected before we allocate for it */
    zmq_setsockopt(t->router, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    tp_liveness(t->router);
    if (zmq_bind(t->router, bind_addr) != 0) {
        rc = -zmq_errno();
        snprintf(err, errlen, "cannot listen on %s: %s (check [cluster] bind; is another agent "
                 "using the port?)", bind_addr, zmq_strerror(-rc));
        goto err_after_ctx;
    }
    t->zap_io = ag_loop_add_zsock(l, t->zap, ZMQ_POLLIN, on_zap, t);
    t->router_io = ag_loop_add_zsock(l, t->router, ZMQ_POLLIN, on_router, t);
    ag_loop_set_label(l, t->zap_io, "net.zap");
    ag_loop_set_label(l, t->router_io, "net.router");
    *out = t;
    return 0;

err_after_ctx:
    if (t->router)
        zmq_close(t->router);
    if (t->zap)
        zmq_close(t->zap);
    zmq_ctx_term(t->ctx);
    free(t);
    return rc;
}

void tp_free(tp *t)
{
    if (!t)
        return;
    ag_loop_remove(t->loop, t->router_io);
    ag_loop_remove(t->loop, t->zap_io);
    for (size_t i = 0; i < t->npeers; i++)
        peer_close(&t->peers[i]);
    zmq_close(t->router);
    zmq_close(t->zap);
    zmq_ctx_term(t->ctx);
    free(t->peers);
    free(t->allow);
    free(t);
}
