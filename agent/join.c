/* join.c — token creation, the join endpoint and the joiner's side; see join.h. */
#include "join.h"
#include "admin.h"
#include "events.h"
#include "exitcodes.h"
#include "log.h"
#include "net.h"
#include "raft_drv.h"
#include "state.pb-c.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define REQ_DOMAIN   "drover-join-v1"
#define REPLY_DOMAIN "drover-joinreply-v1"
#define TOKEN_ID_LEN 8
#define TOKEN_SECRET_LEN crypto_auth_KEYBYTES   /* 32 */
/* A joiner waits this long for the answer: admission needs one commit, and an election
 * or two may be in the way. */
#define JOIN_CLIENT_TIMEOUT_MS 15000

struct ag_join {
    void *ctx, *sock;
    ag_id io;
    double bucket;
    uint64_t bucket_at;
    uint64_t refused_rate, refused_auth;
    char endpoint[96];   /* tcp://ADVERTISE_IP:PORT+1 */
};

static struct ag_join *J(ag_agent *a) { return a->join; }

/* "IP:PORT" + offset -> "tcp://IP:PORT+offset" */
static int port_plus(const char *hostport, int off, char *out, size_t n)
{
    const char *colon = strrchr(hostport, ':');
    if (!colon)
        return -1;
    long port = strtol(colon + 1, NULL, 10);
    if (port <= 0 || port + off > 65535)
        return -1;
    int w = snprintf(out, n, "tcp://%.*s:%ld", (int)(colon - hostport), hostport, port + off);
    return w > 0 && (size_t)w < n ? 0 : -1;
}

/* ---- authentication helpers ------------------------------------------------------- */

static void req_mac(const uint8_t *body, size_t len, const uint8_t *secret, uint8_t mac[crypto_auth_BYTES])
{
    crypto_auth_hmacsha512256_state st;
    crypto_auth_hmacsha512256_init(&st, secret, TOKEN_SECRET_LEN);
    crypto_auth_hmacsha512256_update(&st, (const uint8_t *)REQ_DOMAIN, sizeof REQ_DOMAIN);
    crypto_auth_hmacsha512256_update(&st, body, len);
    crypto_auth_hmacsha512256_final(&st, mac);
}

static void reply_digest(const uint8_t *body, size_t len, uint8_t d[32])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, (const uint8_t *)REPLY_DOMAIN, sizeof REPLY_DOMAIN);
    crypto_generichash_update(&st, body, len);
    crypto_generichash_final(&st, d, 32);
}

/* ---- server: the join endpoint ------------------------------------------------------ */

struct join_wait {
    ag_agent *a;
    zmq_msg_t rid;
    uint8_t nonce[16];
    uint8_t joiner[AG_HOST_ID_LEN];
};

static void send_reply(ag_agent *a, zmq_msg_t *rid, const uint8_t *nonce, int code, const char *error,
                       uint64_t admitted_index)
{
    Drover__JoinReplyBody b = DROVER__JOIN_REPLY_BODY__INIT;
    b.code = code;
    b.error = (char *)(error ? error : "");
    b.nonce.data = (uint8_t *)nonce;
    b.nonce.len = 16;
    b.server_sign_pk.data = a->id.sign_pk;
    b.server_sign_pk.len = 32;
    b.admitted_index = admitted_index;
    Drover__Member *mp = NULL, **mpp = NULL;
    if (code == 0) {
        b.cluster_id.data = a->members.cluster_id;
        b.cluster_id.len = AG_CLUSTER_ID_LEN;
        mp = calloc(a->members.n, sizeof *mp);
        mpp = calloc(a->members.n, sizeof *mpp);
        if (mp && mpp) {
            for (size_t i = 0; i < a->members.n; i++) {
                /* a stored member record is what we send; rebuild it from the table */
                const ag_member *m = &a->members.v[i];
                drover__member__init(&mp[i]);
                mp[i].name = (char *)m->name;
                mp[i].addr = (char *)m->addr;
                mp[i].host_id.data = (uint8_t *)m->id;
                mp[i].host_id.len = AG_HOST_ID_LEN;
                mp[i].sign_pk.data = (uint8_t *)m->sign_pk;
                mp[i].sign_pk.len = 32;
                mp[i].curve_pk.data = (uint8_t *)m->curve_pk;
                mp[i].curve_pk.len = 32;
                mp[i].curve_sig.data = (uint8_t *)m->curve_sig;
                mp[i].curve_sig.len = 64;
                mp[i].failure_domain = (char *)m->domain;
                mpp[i] = &mp[i];
            }
            b.members = mpp;
            b.n_members = a->members.n;
        }
    }
    size_t bl = drover__join_reply_body__get_packed_size(&b);
    uint8_t *body = malloc(bl ? bl : 1), d[32], sig[64];
    if (body) {
        drover__join_reply_body__pack(&b, body);
        reply_digest(body, bl, d);
        crypto_sign_detached(sig, NULL, d, sizeof d, a->id.sign_sk);
        Drover__JoinReply r = DROVER__JOIN_REPLY__INIT;
        r.body.data = body;
        r.body.len = bl;
        r.signature.data = sig;
        r.signature.len = sizeof sig;
        size_t n = drover__join_reply__get_packed_size(&r);
        uint8_t *out = malloc(n);
        if (out) {
            drover__join_reply__pack(&r, out);
            zmq_msg_t copy;
            zmq_msg_init(&copy);
            zmq_msg_copy(&copy, rid);
            zmq_msg_send(&copy, J(a)->sock, ZMQ_SNDMORE | ZMQ_DONTWAIT);
            zmq_send(J(a)->sock, out, n, ZMQ_DONTWAIT);
            free(out);
        }
    }
    free(body);
    free(mp);
    free(mpp);
}

static void admit_done(ag_agent *a, void *ud, int code, uint64_t index, const char *error)
{
    struct join_wait *w = ud;
    if (a->join) {
        if (code == 0 && !ag_members_find(&a->members, w->joiner))
            send_reply(a, &w->rid, w->nonce, AG_EX_NOPERM, "the join token is invalid, expired or "
                       "already used: create a new one with `drover token create`", 0);
        else
            send_reply(a, &w->rid, w->nonce, code, error, index);
    }
    zmq_msg_close(&w->rid);
    free(w);
}

static bool rate_ok(struct ag_join *j, uint64_t now)
{
    j->bucket += (double)(now - j->bucket_at) * AG_JOIN_RATE_PER_S / 1000.0;
    if (j->bucket > AG_JOIN_BURST)
        j->bucket = AG_JOIN_BURST;
    j->bucket_at = now;
    if (j->bucket < 1.0)
        return false;
    j->bucket -= 1.0;
    return true;
}

static void handle_request(ag_agent *a, zmq_msg_t *rid, const uint8_t *buf, size_t len)
{
    struct ag_join *j = J(a);
    uint8_t zero_nonce[16] = {0};
    Drover__JoinRequest *rq = drover__join_request__unpack(NULL, len, buf);
    Drover__JoinRequestBody *b = rq ? drover__join_request_body__unpack(NULL, rq->body.len, rq->body.data) : NULL;
    const uint8_t *nonce = b && b->nonce.len == 16 ? b->nonce.data : zero_nonce;
    ag_member m;
    const char *why = NULL;
    uint8_t secret[TOKEN_SECRET_LEN], mac[crypto_auth_BYTES];
    if (!b || rq->mac.len != crypto_auth_BYTES || b->token_id.len != TOKEN_ID_LEN || b->nonce.len != 16)
        why = "malformed join request";
    else if (ag_member_from_pb(b->member, &m) != 0)
        why = "the joining host's keys do not check out (host ID or CURVE signature)";
    else if (!b->server_fingerprint || !ag_fingerprint_matches(b->server_fingerprint, a->id.sign_pk))
        /* checked before anything is admitted: a joiner that pinned another host must not
         * become a member through us (it will refuse our reply anyway) */
        why = "this host is not the one the joiner pinned (fingerprint mismatch): nothing was admitted";
    if (!why) {
        char key[6 + 2 * TOKEN_ID_LEN + 1], val[256];
        size_t vl;
        memcpy(key, "token/", 6);
        ag_hex(b->token_id.data, TOKEN_ID_LEN, key + 6);
        Drover__JoinToken *tok = NULL;
        if (st_get(a->store, ST_DB_STATE, key, strlen(key), val, sizeof val, &vl) == 0 && vl <= sizeof val)
            tok = drover__join_token__unpack(NULL, vl, (uint8_t *)val);
        if (!tok || tok->secret.len != TOKEN_SECRET_LEN) {
            why = "unknown or already used join token";
        } else {
            memcpy(secret, tok->secret.data, TOKEN_SECRET_LEN);
            req_mac(rq->body.data, rq->body.len, secret, mac);
            if (sodium_memcmp(mac, rq->mac.data, sizeof mac) != 0)
                why = "the join token's secret does not match";
            else if (ag_wall_ms() > tok->expires_ms)
                why = "the join token has expired: create a new one with `drover token create`";
            sodium_memzero(secret, sizeof secret);
        }
        if (tok)
            drover__join_token__free_unpacked(tok, NULL);
    }
    if (why) {
        j->refused_auth++;
        ag_event(a, "join", json_pack("{s:s}", "refused", why), "refused a join request: %s", why);
        send_reply(a, rid, nonce, AG_EX_NOPERM, why, 0);
    } else {
        struct join_wait *w = calloc(1, sizeof *w);
        w->a = a;
        zmq_msg_init(&w->rid);
        zmq_msg_copy(&w->rid, rid);
        memcpy(w->nonce, nonce, 16);
        memcpy(w->joiner, m.id, AG_HOST_ID_LEN);
        ag_event(a, "join", json_pack("{s:s,s:s}", "host", m.name, "addr", m.addr),
                 "admitting %s (%s) with a valid token", m.name, m.addr);
        Drover__Admit ad = DROVER__ADMIT__INIT;
        ad.token_id = b->token_id;
        ad.now_ms = ag_wall_ms();
        ad.member = b->member;
        Drover__Command c = DROVER__COMMAND__INIT;
        c.op = DROVER__COMMAND_OP__CMD_ADMIT;
        c.key = (char *)"";
        c.admit = &ad;
        ag_raft_submit_cmd(a, &c, admit_done, w);
    }
    if (b)
        drover__join_request_body__free_unpacked(b, NULL);
    if (rq)
        drover__join_request__free_unpacked(rq, NULL);
}

static void on_join_sock(ag_loop *l, ag_id id, short revents, void *ud)
{
    (void)l; (void)id; (void)revents;
    ag_agent *a = ud;
    struct ag_join *j = J(a);
    for (int k = 0; k < 64; k++) {
        zmq_msg_t rid, data;
        zmq_msg_init(&rid);
        if (zmq_msg_recv(&rid, j->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&rid);
            return;
        }
        zmq_msg_init(&data);
        int more = zmq_msg_more(&rid);
        if (more) {
            zmq_msg_recv(&data, j->sock, 0);
            more = zmq_msg_more(&data);
        }
        while (more) {
            zmq_msg_t x;
            zmq_msg_init(&x);
            zmq_msg_recv(&x, j->sock, 0);
            more = zmq_msg_more(&x);
            zmq_msg_close(&x);
        }
        if (!rate_ok(j, ag_now_ms()))
            j->refused_rate++;   /* dropped unanswered: answering would cost as much */
        else if (zmq_msg_size(&data) > 0)
            handle_request(a, &rid, zmq_msg_data(&data), zmq_msg_size(&data));
        zmq_msg_close(&data);
        zmq_msg_close(&rid);
    }
}

/* Bind the endpoint once this host is in a cluster (and so can vouch for it). */
static int bind_endpoint(ag_agent *a, char *err, size_t errlen)
{
    struct ag_join *j = J(a);
    if (j->sock || !a->tp)
        return 0;
    char bind[96];
    if (port_plus(a->cfg.bind, AG_JOIN_PORT_OFFSET, bind, sizeof bind) != 0 ||
        port_plus(a->cfg.advertise, AG_JOIN_PORT_OFFSET, j->endpoint, sizeof j->endpoint) != 0) {
        snprintf(err, errlen, "cannot derive the join endpoint from [cluster] bind %s (need IP:PORT below 65535)",
                 a->cfg.bind);
        return AG_EX_CONFIG;
    }
    j->ctx = zmq_ctx_new();
    j->sock = zmq_socket(j->ctx, ZMQ_ROUTER);
    int zero = 0;
    int64_t max = AG_JOIN_MSG_MAX;
    zmq_setsockopt(j->sock, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(j->sock, ZMQ_MAXMSGSIZE, &max, sizeof max);
    if (zmq_bind(j->sock, bind) != 0) {
        snprintf(err, errlen, "cannot listen for joins on %s: %s", bind, zmq_strerror(zmq_errno()));
        zmq_close(j->sock);
        zmq_ctx_term(j->ctx);
        j->sock = j->ctx = NULL;
        return AG_EX_OSERR;
    }
    j->bucket = AG_JOIN_BURST;
    j->bucket_at = ag_now_ms();
    j->io = ag_loop_add_zsock(a->loop, j->sock, ZMQ_POLLIN, on_join_sock, a);
    return 0;
}

/* ---- token create -------------------------------------------------------------------- */

struct token_wait {
    ag_ctl_req *req;
    ag_admin *ad;
    int closed;
    char line[512];
    uint64_t expires;
};

static void token_closed(ag_ctl_req *r, void *ud) { (void)r; ((struct token_wait *)ud)->closed = 1; }

static void token_done(ag_agent *a, void *ud, int code, uint64_t index, const char *error)
{
    struct token_wait *w = ud;
    ag_admin_end(a, w->ad, code, index, "join token created", error);
    if (!w->closed)
        ag_ctl_finish(w->req, code, code ? NULL : json_pack("{s:s,s:I}", "command", w->line,
                                                             "expires_ms", (json_int_t)w->expires),
                      "%s", error ? error : "");
    sodium_memzero(w->line, sizeof w->line);
    free(w);
}

static void ctl_token_create(ag_ctl_req *req, json_t *args, void *ud)
{
    ag_agent *a = ud;
    if (!a->raft || !J(a)->sock) {
        ag_ctl_finish(req, AG_EX_UNAVAILABLE, NULL, "this host is not in a cluster yet "
                      "(start from `drover init`, or join one with `drover join`)");
        return;
    }
    json_int_t ttl = json_integer_value(json_object_get(args, "ttl_ms"));
    if (ttl <= 0)
        ttl = 3600000;
    ag_admin *ad;
    if (ag_admin_begin(a, req, "token.create", args, &ad) != 0)
        return;
    uint8_t id[TOKEN_ID_LEN], secret[TOKEN_SECRET_LEN];
    randombytes_buf(id, sizeof id);
    crypto_auth_keygen(secret);
    struct token_wait *w = calloc(1, sizeof *w);
    w->req = req;
    w->ad = ad;
    w->expires = ag_wall_ms() + (uint64_t)ttl;
    char idhex[2 * TOKEN_ID_LEN + 1], sechex[2 * TOKEN_SECRET_LEN + 1], fpr[AG_FPR_STRLEN];
    ag_hex(id, sizeof id, idhex);
    ag_hex(secret, sizeof secret, sechex);
    ag_fingerprint(a->id.sign_pk, fpr);
    snprintf(w->line, sizeof w->line, "drover join %s --token %s.%s --fingerprint %s", J(a)->endpoint,
             idhex, sechex, fpr);
    Drover__JoinToken t = DROVER__JOIN_TOKEN__INIT;
    t.secret.data = secret;
    t.secret.len = sizeof secret;
    t.expires_ms = w->expires;
    uint8_t buf[128];
    size_t n = drover__join_token__pack(&t, buf);
    char key[6 + sizeof idhex];
    snprintf(key, sizeof key, "token/%s", idhex);
    ag_ctl_on_close(req, token_closed, w);
    ag_raft_submit_admin(a, ad, DROVER__COMMAND_OP__CMD_PUT, key, buf, n, token_done, w);
    sodium_memzero(secret, sizeof secret);
    sodium_memzero(buf, sizeof buf);
}

/* ---- members remove ------------------------------------------------------------------- */

struct rm_wait {
    ag_ctl_req *req;
    ag_admin *ad;
    int closed;
    char name[AG_MEMBER_NAME_MAX];
};

static void rm_closed(ag_ctl_req *r, void *ud) { (void)r; ((struct rm_wait *)ud)->closed = 1; }

static void rm_done(ag_agent *a, void *ud, int code, uint64_t index, const char *error)
{
    struct rm_wait *w = ud;
    char what[AG_MEMBER_NAME_MAX + 16];
    snprintf(what, sizeof what, "removed %s", w->name);
    ag_admin_end(a, w->ad, code, index, what, error);
    if (!w->closed)
        ag_ctl_finish(w->req, code, code ? NULL : json_pack("{s:s,s:I}", "removed", w->name, "index", (json_int_t)index),
                      "%s", error ? error : "");
    free(w);
}

static void ctl_members_remove(ag_ctl_req *req, json_t *args, void *ud)
{
    ag_agent *a = ud;
    const char *host = json_string_value(json_object_get(args, "host"));
    const ag_member *m = NULL;
    for (size_t i = 0; host && i < a->members.n; i++) {
        char hex[AG_HOST_ID_HEXLEN];
        ag_hex(a->members.v[i].id, AG_HOST_ID_LEN, hex);
        if (!strcmp(a->members.v[i].name, host) || !strcmp(hex, host))
            m = &a->members.v[i];
    }
    if (!m) {
        ag_ctl_finish(req, AG_EX_NOSUCH, NULL, "no member named '%s' (see `drover members`)", host ? host : "");
        return;
    }
    if (!memcmp(m->id, a->id.host_id, AG_HOST_ID_LEN)) {
        ag_ctl_finish(req, AG_EX_UNSAFE, NULL, "a host cannot remove itself: run this on another member");
        return;
    }
    ag_admin *ad;
    if (ag_admin_begin(a, req, "members.remove", args, &ad) != 0)
        return;
    struct rm_wait *w = calloc(1, sizeof *w);
    w->req = req;
    w->ad = ad;
    snprintf(w->name, sizeof w->name, "%s", m->name);
    char key[7 + AG_HOST_ID_HEXLEN];
    memcpy(key, "member/", 7);
    ag_hex(m->id, AG_HOST_ID_LEN, key + 7);
    ag_ctl_on_close(req, rm_closed, w);
    ag_raft_submit_admin(a, ad, DROVER__COMMAND_OP__CMD_DEL, key, NULL, 0, rm_done, w);
}

/* ---- joiner side ------------------------------------------------------------------------ */

struct join_job {
    ag_agent *a;
    ag_ctl_req *req;
    int closed;
    char addr[128], fpr[64];
    uint8_t *request;
    size_t request_len;
    uint8_t nonce[16];
    uint8_t *reply;     /* filled by the worker */
    size_t reply_len;
    char error[256];
};

static void join_closed(ag_ctl_req *r, void *ud) { (void)r; ((struct join_job *)ud)->closed = 1; }

/* Worker thread: one request, one reply, bounded wait. */
static void join_work(void *ud)
{
    struct join_job *jb = ud;
    void *ctx = zmq_ctx_new(), *s = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0;
    int64_t max = AG_JOIN_MSG_MAX * 16;   /* the member list of a large cluster */
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &max, sizeof max);
    if (zmq_connect(s, jb->addr) != 0) {
        snprintf(jb->error, sizeof jb->error, "'%s' is not a valid endpoint (expected tcp://IP:PORT)", jb->addr);
    } else if (zmq_send(s, jb->request, jb->request_len, 0) < 0) {
        snprintf(jb->error, sizeof jb->error, "cannot send to %s: %s", jb->addr, zmq_strerror(zmq_errno()));
    } else {
        zmq_pollitem_t it = {.socket = s, .events = ZMQ_POLLIN};
        if (zmq_poll(&it, 1, JOIN_CLIENT_TIMEOUT_MS) == 1) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, s, 0) >= 0) {
                jb->reply_len = zmq_msg_size(&m);
                jb->reply = malloc(jb->reply_len ? jb->reply_len : 1);
                if (jb->reply)
                    memcpy(jb->reply, zmq_msg_data(&m), jb->reply_len);
            }
            zmq_msg_close(&m);
        } else {
            snprintf(jb->error, sizeof jb->error, "no answer from %s within %d s: check the address "
                     "(the join port is the cluster port + 1) and that its agent runs", jb->addr,
                     JOIN_CLIENT_TIMEOUT_MS / 1000);
        }
    }
    zmq_close(s);
    zmq_ctx_term(ctx);
}

static void join_fail(struct join_job *jb, int code, const char *msg)
{
    if (!jb->closed)
        ag_ctl_finish(jb->req, code, NULL, "%s", msg);
}

static void join_after(ag_loop *l, void *ud)
{
    (void)l;
    struct join_job *jb = ud;
    ag_agent *a = jb->a;
    Drover__JoinReply *r = NULL;
    Drover__JoinReplyBody *b = NULL;
    if (jb->error[0]) {
        join_fail(jb, AG_EX_UNAVAILABLE, jb->error);
        goto out;
    }
    r = jb->reply ? drover__join_reply__unpack(NULL, jb->reply_len, jb->reply) : NULL;
    b = r ? drover__join_reply_body__unpack(NULL, r->body.len, r->body.data) : NULL;
    if (!b || r->signature.len != 64 || b->server_sign_pk.len != 32 || b->nonce.len != 16) {
        join_fail(jb, AG_EX_PROTOCOL, "the join endpoint answered something that is not a drover join reply");
        goto out;
    }
    if (!ag_fingerprint_matches(jb->fpr, b->server_sign_pk.data)) {
        char got[AG_FPR_STRLEN];
        ag_fingerprint(b->server_sign_pk.data, got);
        char msg[640];
        snprintf(msg, sizeof msg, "fingerprint mismatch: %s answered as %s, not %s. Refusing to join: "
                 "check the address, or ask for the fingerprint again", jb->addr, got, jb->fpr);
        join_fail(jb, AG_EX_UNSAFE, msg);
        goto out;
    }
    uint8_t d[32];
    reply_digest(r->body.data, r->body.len, d);
    if (crypto_sign_verify_detached(r->signature.data, d, sizeof d, b->server_sign_pk.data) != 0 ||
        sodium_memcmp(b->nonce.data, jb->nonce, 16) != 0) {
        join_fail(jb, AG_EX_UNSAFE, "the join reply's signature or nonce does not verify: refusing to join");
        goto out;
    }
    if (b->code) {
        join_fail(jb, b->code, b->error && b->error[0] ? b->error : "the cluster refused the join");
        goto out;
    }
    if (b->cluster_id.len != AG_CLUSTER_ID_LEN || b->n_members == 0) {
        join_fail(jb, AG_EX_PROTOCOL, "the join reply lacks the cluster id or its members");
        goto out;
    }
    /* become a member: remember the cluster and who is in it, then start the network */
    st_put(a->store, ST_DB_META, "join_reply", 10, r->body.data, r->body.len);
    st_put(a->store, ST_DB_META, "cluster_id", 10, b->cluster_id.data, AG_CLUSTER_ID_LEN);
    char err[512];
    int rc = ag_net_start(a, err, sizeof err);
    if (rc == 0)
        rc = bind_endpoint(a, err, sizeof err);
    if (rc) {
        join_fail(jb, rc, err);
        goto out;
    }
    char cid[2 * AG_CLUSTER_ID_LEN + 1];
    ag_hex(b->cluster_id.data, AG_CLUSTER_ID_LEN, cid);
    ag_event(a, "join", json_pack("{s:s}", "cluster_id", cid),
             "joined cluster %s (%zu members); catching up from the coordinator", cid, b->n_members);
    if (!jb->closed)
        ag_ctl_finish(jb->req, AG_EX_OK, json_pack("{s:s,s:I,s:I}", "cluster_id", cid,
                                                   "members", (json_int_t)b->n_members,
                                                   "admitted_index", (json_int_t)b->admitted_index), NULL);
out:
    if (b)
        drover__join_reply_body__free_unpacked(b, NULL);
    if (r)
        drover__join_reply__free_unpacked(r, NULL);
    free(jb->reply);
    free(jb->request);
    free(jb);
}

static void ctl_join(ag_ctl_req *req, json_t *args, void *ud)
{
    ag_agent *a = ud;
    const char *addr = json_string_value(json_object_get(args, "addr"));
    const char *token = json_string_value(json_object_get(args, "token"));
    const char *fpr = json_string_value(json_object_get(args, "fingerprint"));
    if (a->tp) {
        ag_ctl_finish(req, AG_EX_EXISTS, NULL, "this host is already a member of a cluster");
        return;
    }
    uint8_t id[TOKEN_ID_LEN], secret[TOKEN_SECRET_LEN];
    const char *dot = token ? strchr(token, '.') : NULL;
    char idhex[2 * TOKEN_ID_LEN + 1];
    if (!addr || !fpr || !dot || (size_t)(dot - token) != 2 * TOKEN_ID_LEN) {
        ag_ctl_finish(req, AG_EX_INVALID, NULL, "join needs ADDR, --token ID.SECRET and --fingerprint "
                      "(copy the line `drover token create` printed)");
        return;
    }
    memcpy(idhex, token, 2 * TOKEN_ID_LEN);
    idhex[2 * TOKEN_ID_LEN] = 0;
    if (ag_unhex(idhex, id, sizeof id) || ag_unhex(dot + 1, secret, sizeof secret)) {
        ag_ctl_finish(req, AG_EX_INVALID, NULL, "the token is not ID.SECRET in hex as `drover token create` prints it");
        return;
    }
    struct join_job *jb = calloc(1, sizeof *jb);
    jb->a = a;
    jb->req = req;
    snprintf(jb->addr, sizeof jb->addr, "%s", addr);
    snprintf(jb->fpr, sizeof jb->fpr, "%s", fpr);
    randombytes_buf(jb->nonce, sizeof jb->nonce);
    char self_addr[AG_MEMBER_ADDR_MAX];
    if (strlen(a->cfg.advertise) + 7 > sizeof self_addr) {
        ag_ctl_finish(req, AG_EX_CONFIG, NULL, "[cluster] advertise is too long for a member address");
        return;
    }
    snprintf(self_addr, sizeof self_addr, "tcp://%.*s", (int)(sizeof self_addr - 7), a->cfg.advertise);
    Drover__Member mp;
    ag_member_self_pb(&a->id, a->cfg.name, self_addr, a->cfg.failure_domain, &mp);
    Drover__JoinRequestBody b = DROVER__JOIN_REQUEST_BODY__INIT;
    b.token_id.data = id;
    b.token_id.len = sizeof id;
    b.member = &mp;
    b.nonce.data = jb->nonce;
    b.nonce.len = sizeof jb->nonce;
    b.server_fingerprint = jb->fpr;
    size_t bl = drover__join_request_body__get_packed_size(&b);
    uint8_t *body = malloc(bl), mac[crypto_auth_BYTES];
    drover__join_request_body__pack(&b, body);
    req_mac(body, bl, secret, mac);
    sodium_memzero(secret, sizeof secret);
    Drover__JoinRequest rq = DROVER__JOIN_REQUEST__INIT;
    rq.body.data = body;
    rq.body.len = bl;
    rq.mac.data = mac;
    rq.mac.len = sizeof mac;
    jb->request_len = drover__join_request__get_packed_size(&rq);
    jb->request = malloc(jb->request_len);
    drover__join_request__pack(&rq, jb->request);
    free(body);
    ag_ctl_on_close(req, join_closed, jb);
    if (ag_loop_submit(a->loop, join_work, join_after, jb) != 0) {
        ag_ctl_finish(req, AG_EX_TEMPFAIL, NULL, "the agent is busy; retry");
        free(jb->request);
        free(jb);
    }
}

/* ---- life cycle ------------------------------------------------------------------------- */

int ag_join_start(ag_agent *a, char *err, size_t errlen)
{
    a->join = calloc(1, sizeof(struct ag_join));
    if (!a->join)
        return AG_EX_OSERR;
    ag_ctl_register(a->ctl, "token.create", ctl_token_create, a);
    ag_ctl_register(a->ctl, "members.remove", ctl_members_remove, a);
    ag_ctl_register(a->ctl, "join", ctl_join, a);
    return bind_endpoint(a, err, errlen);
}

void ag_join_stop(ag_agent *a)
{
    struct ag_join *j = J(a);
    if (!j)
        return;
    if (j->sock) {
        ag_loop_remove(a->loop, j->io);
        zmq_close(j->sock);
        zmq_ctx_term(j->ctx);
    }
    free(j);
    a->join = NULL;
}
