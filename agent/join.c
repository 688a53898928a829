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
#include <lmdb.h>
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
    ag_id io, summary_timer;
    ag_join_limiter lim;
    uint64_t admitted;
    uint64_t refused[AG_JOIN_R__N];
    /* refusals not yet in a summary event, and the last one's words */
    uint64_t unsummed[AG_JOIN_R__N];
    uint64_t summary_at_ms;
    char last_why[400];
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

/* ---- token secrets: kept by the issuing host only (docs/security.md "Join") ------------ */

#define TOKEN_VERIFIER_LEN 32
#define TOKEN_VERIFIER_DOMAIN "drover-jointoken-v1"

/* The replicated stand-in for a secret: proves which secret a record was made for
 * without letting a reader of the record (any host, a backup) answer joins with it. */
static void token_verifier(const uint8_t secret[TOKEN_SECRET_LEN], uint8_t out[TOKEN_VERIFIER_LEN])
{
    crypto_generichash(out, TOKEN_VERIFIER_LEN, (const uint8_t *)TOKEN_VERIFIER_DOMAIN,
                       sizeof TOKEN_VERIFIER_DOMAIN, secret, TOKEN_SECRET_LEN);
}

/* Local (never replicated) key of a token's secret: meta "jointoken/<idhex>". */
static size_t secret_key(const char *idhex, char *key, size_t n)
{
    return (size_t)snprintf(key, n, "jointoken/%s", idhex);
}

static int secret_keep(ag_agent *a, const char *idhex, const uint8_t secret[TOKEN_SECRET_LEN])
{
    char key[32];
    size_t kl = secret_key(idhex, key, sizeof key);
    return st_put(a->store, ST_DB_META, key, kl, secret, TOKEN_SECRET_LEN);
}

static void secret_forget(ag_agent *a, const char *idhex)
{
    char key[32];
    size_t kl = secret_key(idhex, key, sizeof key);
    st_del(a->store, ST_DB_META, key, kl);
}

static int secret_load(ag_agent *a, const char *idhex, uint8_t secret[TOKEN_SECRET_LEN])
{
    char key[32];
    size_t kl = secret_key(idhex, key, sizeof key), vl = 0;
    if (st_get(a->store, ST_DB_META, key, kl, secret, TOKEN_SECRET_LEN, &vl) != 0 || vl != TOKEN_SECRET_LEN)
        return -1;
    return 0;
}

/* ---- server: the join endpoint ------------------------------------------------------ */

struct join_wait {
    ag_agent *a;
    zmq_msg_t rid;
    uint8_t nonce[16];
    uint8_t joiner[AG_HOST_ID_LEN];
    ag_member member;
    char idhex[17];
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

static void refused(ag_agent *a, ag_join_reason r, const char *why);
static void sweep_secrets(ag_agent *a);
static bool duplicate_member(const ag_members *ms, const ag_member *m, char *msg, size_t n);

/* The admission committed (or not): answer the joiner. Apply leaves the member table
 * without the joiner when the token was spent, expired or revoked, or when a member
 * took its name or address first. */
static void admit_done(ag_agent *a, void *ud, int code, uint64_t index, const char *error)
{
    struct join_wait *w = ud;
    if (a->join) {
        char msg[400];
        const ag_member *m = code == 0 ? ag_members_find(&a->members, w->joiner) : NULL;
        if (code == 0 && !m) {
            bool dup = duplicate_member(&a->members, &w->member, msg, sizeof msg);
            if (!dup)
                snprintf(msg, sizeof msg, "the join token is invalid, expired or already used: create a new "
                         "one with `drover token create`");
            refused(a, dup ? AG_JOIN_R_DUPLICATE : AG_JOIN_R_TOKEN, msg);
            send_reply(a, &w->rid, w->nonce, AG_EX_NOPERM, msg, 0);
        } else {
            if (m) {
                J(a)->admitted++;
                secret_forget(a, w->idhex);   /* spent: the record is gone everywhere */
                ag_event(a, "join", json_pack("{s:s,s:s}", "host", m->name, "addr", m->addr),
                         "admitted %s (%s) with a valid token at index %llu", m->name, m->addr,
                         (unsigned long long)index);
            }
            send_reply(a, &w->rid, w->nonce, code, error, index);
        }
    }
    zmq_msg_close(&w->rid);
    free(w);
}

/* ---- per-source rate limit ------------------------------------------------------------ */

static const char *const reason_names[AG_JOIN_R__N] = {
    "ok", "rate_source", "rate_global", "malformed", "keys", "fingerprint", "token", "mac", "expired", "duplicate",
};

const char *ag_join_reason_name(ag_join_reason r)
{
    return (unsigned)r < AG_JOIN_R__N ? reason_names[r] : "?";
}

void ag_join_limiter_init(ag_join_limiter *l, uint64_t now_ms)
{
    memset(l, 0, sizeof *l);
    l->tokens = AG_JOIN_BURST;
    l->at_ms = now_ms;
}

/* Refill a bucket for the time since *at (a clock that went back refills nothing). */
static void refill(double *tokens, uint64_t *at, uint64_t now, double rate, double burst)
{
    if (now > *at)
        *tokens += (double)(now - *at) * rate / 1000.0;
    if (*tokens > burst)
        *tokens = burst;
    *at = now;
}

/* The slot of source key: found, a free one, or the least recently seen one (evicted). */
static ag_join_src *src_slot(ag_join_limiter *l, const uint8_t *key, size_t len, uint64_t now)
{
    size_t oldest = 0;
    for (size_t i = 0; i < l->n; i++) {
        if (l->v[i].keylen == len && memcmp(l->v[i].key, key, len) == 0)
            return &l->v[i];
        if (l->v[i].at_ms < l->v[oldest].at_ms)
            oldest = i;
    }
    ag_join_src *e = l->n < AG_JOIN_SOURCES_MAX ? &l->v[l->n++] : &l->v[oldest];
    if (e == &l->v[oldest] && l->n == AG_JOIN_SOURCES_MAX && e->keylen)
        l->evicted++;
    memcpy(e->key, key, len);
    e->keylen = (uint8_t)len;
    e->tokens = AG_JOIN_SRC_BURST;
    e->at_ms = now;
    return e;
}

int ag_join_limiter_take(ag_join_limiter *l, const void *src, size_t len, uint64_t now_ms)
{
    if (len > AG_JOIN_SRC_KEY_MAX)
        len = AG_JOIN_SRC_KEY_MAX;
    ag_join_src *e = src_slot(l, src, len, now_ms);
    refill(&e->tokens, &e->at_ms, now_ms, AG_JOIN_SRC_RATE_PER_S, AG_JOIN_SRC_BURST);
    if (e->tokens < 1.0)
        return AG_JOIN_R_RATE_SOURCE;   /* not charged globally: a flood costs others nothing */
    refill(&l->tokens, &l->at_ms, now_ms, AG_JOIN_RATE_PER_S, AG_JOIN_BURST);
    if (l->tokens < 1.0)
        return AG_JOIN_R_RATE_GLOBAL;
    e->tokens -= 1.0;
    l->tokens -= 1.0;
    return 0;
}

/* ---- refusals: counted always, journalled as a summary at most once a period ----------- */

static void summary_flush(ag_agent *a, uint64_t now)
{
    struct ag_join *j = J(a);
    uint64_t total = 0;
    json_t *by = json_object();
    for (int r = 1; r < AG_JOIN_R__N; r++)
        if (j->unsummed[r]) {
            total += j->unsummed[r];
            json_object_set_new(by, reason_names[r], json_integer((json_int_t)j->unsummed[r]));
        }
    if (!total) {
        json_decref(by);
        return;
    }
    ag_event(a, "join", json_pack("{s:I,s:o,s:s}", "refused", (json_int_t)total, "by_reason", by, "last", j->last_why),
             "refused %llu join request(s) (counts in `drover status`); last: %s", (unsigned long long)total,
             j->last_why[0] ? j->last_why : "dropped over the rate limit");
    memset(j->unsummed, 0, sizeof j->unsummed);
    j->summary_at_ms = now;
}

static void refused(ag_agent *a, ag_join_reason r, const char *why)
{
    struct ag_join *j = J(a);
    uint64_t now = ag_now_ms();
    j->refused[r]++;
    j->unsummed[r]++;
    if (why)
        snprintf(j->last_why, sizeof j->last_why, "%s", why);
    if (!j->summary_at_ms || now - j->summary_at_ms >= AG_JOIN_SUMMARY_MS)
        summary_flush(a, now);
}

static void on_summary_timer(ag_loop *l, ag_id id, void *ud)
{
    (void)l; (void)id;
    ag_agent *a = ud;
    if (ag_now_ms() - J(a)->summary_at_ms >= AG_JOIN_SUMMARY_MS)
        summary_flush(a, ag_now_ms());
    sweep_secrets(a);
}

json_t *ag_join_status_json(ag_agent *a)
{
    struct ag_join *j = a->join;
    if (!j || !j->sock)
        return NULL;
    json_t *by = json_object();
    for (int r = 1; r < AG_JOIN_R__N; r++)
        json_object_set_new(by, reason_names[r], json_integer((json_int_t)j->refused[r]));
    return json_pack("{s:s,s:I,s:o,s:I,s:I}", "endpoint", j->endpoint, "admitted", (json_int_t)j->admitted,
                     "refused", by, "sources", (json_int_t)j->lim.n, "sources_evicted", (json_int_t)j->lim.evicted);
}

static void ctl_join_status(ag_ctl_req *req, json_t *args, void *ud)
{
    (void)args;
    json_t *r = ag_join_status_json(ud);
    ag_ctl_finish(req, r ? AG_EX_OK : AG_EX_UNAVAILABLE, r, r ? NULL : "no join endpoint (not in a cluster)");
}

/* ---- requests -------------------------------------------------------------------------- */

void ag_join_req_free(ag_join_req *r)
{
    if (r->b)
        drover__join_request_body__free_unpacked(r->b, NULL);
    if (r->rq)
        drover__join_request__free_unpacked(r->rq, NULL);
    r->b = NULL;
    r->rq = NULL;
}

int ag_join_req_parse(const uint8_t *buf, size_t len, ag_join_req *r, const char **why)
{
    memset(r, 0, sizeof *r);
    r->rq = drover__join_request__unpack(NULL, len, buf);
    r->b = r->rq ? drover__join_request_body__unpack(NULL, r->rq->body.len, r->rq->body.data) : NULL;
    if (!r->b || r->rq->mac.len != crypto_auth_BYTES || r->b->token_id.len != TOKEN_ID_LEN || r->b->nonce.len != 16) {
        *why = "malformed join request";
        return AG_JOIN_R_MALFORMED;
    }
    if (ag_member_from_pb(r->b->member, &r->m) != 0) {
        *why = "the joining host's keys do not check out (host ID or CURVE signature)";
        return AG_JOIN_R_KEYS;
    }
    return 0;
}

/* A member with m's name or address, other than m itself re-asking: the refusal's
 * words in msg. HA knows hosts by name, the network by address: neither may be shared. */
static bool duplicate_member(const ag_members *ms, const ag_member *m, char *msg, size_t n)
{
    for (size_t i = 0; i < ms->n; i++) {
        const ag_member *o = &ms->v[i];
        char hex[AG_HOST_ID_HEXLEN];
        ag_hex(o->id, AG_HOST_ID_LEN, hex);
        if (!strcmp(o->name, m->name)) {
            snprintf(msg, n, "a member named %s already exists (host id %s): pick another name or remove "
                     "it first with `drover members remove %s`", o->name, hex, o->name);
            return true;
        }
        if (!strcmp(o->addr, m->addr)) {
            snprintf(msg, n, "a member with address %s already exists (%s, host id %s): pick another address "
                     "or remove it first with `drover members remove %s`", o->addr, o->name, hex, o->name);
            return true;
        }
    }
    return false;
}

/* The secret that MACs requests for token tok (id idhex), into secret: this host's
 * local copy when it issued the token, the record's own for a legacy token. 0, or a
 * reason with why set. */
static int token_secret(ag_agent *a, const Drover__JoinToken *tok, const char *idhex,
                        uint8_t secret[TOKEN_SECRET_LEN], const char **why)
{
    uint8_t ver[TOKEN_VERIFIER_LEN];
    if (tok->issuer.len == 0 && tok->secret.len == TOKEN_SECRET_LEN) {
        memcpy(secret, tok->secret.data, TOKEN_SECRET_LEN);   /* made before verifiers */
        return 0;
    }
    if (tok->issuer.len != AG_HOST_ID_LEN || memcmp(tok->issuer.data, a->id.host_id, AG_HOST_ID_LEN) != 0) {
        *why = "this join token was issued by another member: use the address `drover token create` printed";
        return AG_JOIN_R_TOKEN;
    }
    if (secret_load(a, idhex, secret) != 0) {
        *why = "this host no longer has the join token's secret (state dir replaced?): create a new token";
        return AG_JOIN_R_TOKEN;
    }
    token_verifier(secret, ver);
    if (tok->verifier.len != TOKEN_VERIFIER_LEN || sodium_memcmp(ver, tok->verifier.data, sizeof ver) != 0) {
        sodium_memzero(secret, TOKEN_SECRET_LEN);
        *why = "the join token's record does not match this host's secret: create a new token";
        return AG_JOIN_R_TOKEN;
    }
    return 0;
}

/* The token check: 0 or a reason with why set. */
static int check_token(ag_agent *a, const ag_join_req *q, const char **why)
{
    char key[6 + 2 * TOKEN_ID_LEN + 1], val[256];
    size_t vl;
    uint8_t secret[TOKEN_SECRET_LEN], mac[crypto_auth_BYTES];
    memcpy(key, "token/", 6);
    ag_hex(q->b->token_id.data, TOKEN_ID_LEN, key + 6);
    Drover__JoinToken *tok = NULL;
    if (st_get(a->store, ST_DB_STATE, key, strlen(key), val, sizeof val, &vl) == 0 && vl <= sizeof val)
        tok = drover__join_token__unpack(NULL, vl, (uint8_t *)val);
    int r = 0;
    if (!tok) {
        *why = "unknown, revoked or already used join token", r = AG_JOIN_R_TOKEN;
    } else if ((r = token_secret(a, tok, key + 6, secret, why)) == 0) {
        req_mac(q->rq->body.data, q->rq->body.len, secret, mac);
        sodium_memzero(secret, sizeof secret);
        if (sodium_memcmp(mac, q->rq->mac.data, sizeof mac) != 0)
            *why = "the join token's secret does not match", r = AG_JOIN_R_MAC;
        else if (ag_wall_ms() > tok->expires_ms)
            *why = "the join token has expired: create a new one with `drover token create`", r = AG_JOIN_R_EXPIRED;
    }
    if (tok)
        drover__join_token__free_unpacked(tok, NULL);
    return r;
}

static void propose_admit(ag_agent *a, zmq_msg_t *rid, const ag_join_req *q)
{
    struct join_wait *w = calloc(1, sizeof *w);
    if (!w)
        return;   /* unanswered: the joiner times out and may retry */
    w->a = a;
    zmq_msg_init(&w->rid);
    zmq_msg_copy(&w->rid, rid);
    memcpy(w->nonce, q->b->nonce.data, 16);
    memcpy(w->joiner, q->m.id, AG_HOST_ID_LEN);
    w->member = q->m;
    ag_hex(q->b->token_id.data, TOKEN_ID_LEN, w->idhex);
    Drover__Admit ad = DROVER__ADMIT__INIT;
    ad.token_id = q->b->token_id;
    ad.now_ms = ag_wall_ms();   /* the leader stamps its own clock over this (raft_drv.c) */
    ad.member = q->b->member;
    Drover__Command c = DROVER__COMMAND__INIT;
    c.op = DROVER__COMMAND_OP__CMD_ADMIT;
    c.key = (char *)"";
    c.admit = &ad;
    ag_raft_submit_cmd(a, &c, admit_done, w);
}

static void handle_request(ag_agent *a, zmq_msg_t *rid, const uint8_t *buf, size_t len)
{
    uint8_t zero_nonce[16] = {0};
    ag_join_req q;
    const char *why = NULL;
    char dup[400];
    int r = ag_join_req_parse(buf, len, &q, &why);
    if (!r && (!q.b->server_fingerprint || !ag_fingerprint_matches(q.b->server_fingerprint, a->id.sign_pk)))
        /* checked before anything is admitted: a joiner that pinned another host must not
         * become a member through us (it will refuse our reply anyway) */
        why = "this host is not the one the joiner pinned (fingerprint mismatch): nothing was admitted",
        r = AG_JOIN_R_FINGERPRINT;
    if (!r && duplicate_member(&a->members, &q.m, dup, sizeof dup))
        why = dup, r = AG_JOIN_R_DUPLICATE;
    if (!r)
        r = check_token(a, &q, &why);
    if (r) {
        refused(a, r, why);
        send_reply(a, rid, q.b && q.b->nonce.len == 16 ? q.b->nonce.data : zero_nonce, AG_EX_NOPERM, why, 0);
    } else {
        ag_info("join: admitting %s (%s) with a valid token", q.m.name, q.m.addr);
        propose_admit(a, rid, &q);
    }
    ag_join_req_free(&q);
}

/* The source a request is charged to: the peer's IP (ZMQ's Peer-Address), else its
 * routing id (which a reconnecting peer changes, so the global bucket still holds). */
static size_t source_of(zmq_msg_t *rid, zmq_msg_t *data, const void **key)
{
    const char *ip = zmq_msg_gets(data, "Peer-Address");
    if (!ip)
        ip = zmq_msg_gets(rid, "Peer-Address");
    if (ip && ip[0]) {
        *key = ip;
        return strlen(ip);
    }
    *key = zmq_msg_data(rid);
    return zmq_msg_size(rid);
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
        const void *key;
        size_t klen = source_of(&rid, &data, &key);
        int lim = ag_join_limiter_take(&j->lim, key, klen, ag_now_ms());
        if (lim)
            refused(a, lim, NULL);   /* dropped unanswered: answering would cost as much */
        else if (zmq_msg_size(&data) > 0)
            handle_request(a, &rid, zmq_msg_data(&data), zmq_msg_size(&data));
        else
            refused(a, AG_JOIN_R_MALFORMED, "empty join request");
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
    ag_join_limiter_init(&j->lim, ag_now_ms());
    j->io = ag_loop_add_zsock(a->loop, j->sock, ZMQ_POLLIN, on_join_sock, a);
    j->summary_timer = ag_loop_timer(a->loop, AG_JOIN_SUMMARY_MS, AG_JOIN_SUMMARY_MS, on_summary_timer, a);
    return 0;
}

/* ---- token create -------------------------------------------------------------------- */

struct token_wait {
    ag_ctl_req *req;
    ag_admin *ad;
    int closed;
    char line[512];
    char token[2 * (TOKEN_ID_LEN + TOKEN_SECRET_LEN) + 2], fpr[AG_FPR_STRLEN];
    char idhex[2 * TOKEN_ID_LEN + 1];
    uint64_t expires;
};

static void token_closed(ag_ctl_req *r, void *ud) { (void)r; ((struct token_wait *)ud)->closed = 1; }

static void token_done(ag_agent *a, void *ud, int code, uint64_t index, const char *error)
{
    struct token_wait *w = ud;
    ag_admin_end(a, w->ad, code, index, "join token created", error);
    if (code)
        secret_forget(a, w->idhex);
    if (!w->closed)
        ag_ctl_finish(w->req, code, code ? NULL : json_pack("{s:s,s:s,s:s,s:s,s:I}", "command", w->line,
                                                             "token", w->token, "addr", J(a)->endpoint,
                                                             "fingerprint", w->fpr,
                                                             "expires_ms", (json_int_t)w->expires),
                      "%s", error ? error : "");
    sodium_memzero(w->line, sizeof w->line);
    sodium_memzero(w->token, sizeof w->token);
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
    snprintf(w->token, sizeof w->token, "%s.%s", idhex, sechex);
    snprintf(w->fpr, sizeof w->fpr, "%s", fpr);
    sodium_memzero(sechex, sizeof sechex);
    snprintf(w->idhex, sizeof w->idhex, "%s", idhex);
    /* the secret stays here; the replicated record names this host and holds a verifier */
    uint8_t ver[TOKEN_VERIFIER_LEN];
    token_verifier(secret, ver);
    Drover__JoinToken t = DROVER__JOIN_TOKEN__INIT;
    t.expires_ms = w->expires;
    t.issuer.data = a->id.host_id;
    t.issuer.len = AG_HOST_ID_LEN;
    t.verifier.data = ver;
    t.verifier.len = sizeof ver;
    uint8_t buf[128];
    size_t n = drover__join_token__pack(&t, buf);
    char key[6 + sizeof idhex];
    snprintf(key, sizeof key, "token/%s", idhex);
    if (secret_keep(a, idhex, secret) != 0) {
        sodium_memzero(secret, sizeof secret);
        free(w);
        ag_admin_end(a, ad, AG_EX_IOERR, 0, "join token created", "cannot store the token's secret locally");
        ag_ctl_finish(req, AG_EX_IOERR, NULL, "cannot store the token's secret in the local state dir");
        return;
    }
    ag_ctl_on_close(req, token_closed, w);
    ag_raft_submit_admin(a, ad, DROVER__COMMAND_OP__CMD_PUT, key, buf, n, token_done, w);
    sodium_memzero(secret, sizeof secret);
    sodium_memzero(buf, sizeof buf);
}

/* ---- token list / revoke ----------------------------------------------------------------- */

/* Calls fn for each token/<id> record in the applied state (at most AG_JOIN_TOKENS_LIST). */
#define AG_JOIN_TOKENS_LIST 4096
struct token_scan {
    json_t *out;
    const ag_members *ms;
};

static int scan_tokens(MDB_txn *t, const MDB_dbi *dbi, void *ud)
{
    struct token_scan *sc = ud;
    MDB_cursor *cur;
    if (mdb_cursor_open(t, dbi[ST_DB_STATE], &cur) != 0)
        return EIO;
    MDB_val k = {6, (void *)"token/"}, v;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    for (; rc == 0 && k.mv_size == 6 + 2 * TOKEN_ID_LEN && memcmp(k.mv_data, "token/", 6) == 0 &&
           json_array_size(sc->out) < AG_JOIN_TOKENS_LIST; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        Drover__JoinToken *tok = drover__join_token__unpack(NULL, v.mv_size, v.mv_data);
        if (!tok)
            continue;
        char id[2 * TOKEN_ID_LEN + 1], hex[AG_HOST_ID_HEXLEN] = "";
        memcpy(id, (char *)k.mv_data + 6, 2 * TOKEN_ID_LEN);
        id[2 * TOKEN_ID_LEN] = 0;
        const ag_member *m = NULL;
        if (tok->issuer.len == AG_HOST_ID_LEN) {
            ag_hex(tok->issuer.data, AG_HOST_ID_LEN, hex);
            m = ag_members_find(sc->ms, tok->issuer.data);
        }
        /* no secret leaves here: ids, expiry and issuer only */
        json_array_append_new(sc->out, json_pack("{s:s,s:I,s:s,s:s,s:b}", "id", id,
                              "expires_ms", (json_int_t)tok->expires_ms, "issuer", m ? m->name : "",
                              "issuer_id", hex, "secret_replicated", tok->secret.len != 0));
        drover__join_token__free_unpacked(tok, NULL);
    }
    mdb_cursor_close(cur);
    return 0;
}

static void ctl_token_list(ag_ctl_req *req, json_t *args, void *ud)
{
    (void)args;
    ag_agent *a = ud;
    struct token_scan sc = {json_array(), &a->members};
    if (st_read(a->store, scan_tokens, &sc) != 0) {
        json_decref(sc.out);
        ag_ctl_finish(req, AG_EX_IOERR, NULL, "cannot read the replicated state");
        return;
    }
    ag_ctl_finish(req, AG_EX_OK, json_pack("{s:o,s:I}", "tokens", sc.out, "now_ms", (json_int_t)ag_wall_ms()), NULL);
}

struct revoke_wait {
    ag_ctl_req *req;
    ag_admin *ad;
    int closed;
    char id[2 * TOKEN_ID_LEN + 1];
};

static void revoke_closed(ag_ctl_req *r, void *ud) { (void)r; ((struct revoke_wait *)ud)->closed = 1; }

static void revoke_done(ag_agent *a, void *ud, int code, uint64_t index, const char *error)
{
    struct revoke_wait *w = ud;
    char what[64];
    snprintf(what, sizeof what, "revoked join token %s", w->id);
    ag_admin_end(a, w->ad, code, index, what, error);
    if (!code)
        secret_forget(a, w->id);   /* when issued here; other issuers sweep theirs */
    if (!w->closed)
        ag_ctl_finish(w->req, code, code ? NULL : json_pack("{s:s,s:I}", "revoked", w->id, "index", (json_int_t)index),
                      "%s", error ? error : "");
    free(w);
}

static void ctl_token_revoke(ag_ctl_req *req, json_t *args, void *ud)
{
    ag_agent *a = ud;
    const char *id = json_string_value(json_object_get(args, "id"));
    uint8_t raw[TOKEN_ID_LEN], val[256];
    char key[6 + 2 * TOKEN_ID_LEN + 1];
    size_t vl;
    if (!id || strlen(id) != 2 * TOKEN_ID_LEN || ag_unhex(id, raw, sizeof raw) != 0) {
        ag_ctl_finish(req, AG_EX_INVALID, NULL, "a token id is %d hex digits (see `drover token list`)",
                      2 * TOKEN_ID_LEN);
        return;
    }
    snprintf(key, sizeof key, "token/%s", id);
    if (st_get(a->store, ST_DB_STATE, key, strlen(key), val, sizeof val, &vl) != 0) {
        ag_ctl_finish(req, AG_EX_NOSUCH, NULL, "no join token %s (used, expired or never made; "
                      "see `drover token list`)", id);
        return;
    }
    ag_admin *ad;
    if (ag_admin_begin(a, req, "token.revoke", args, &ad) != 0)
        return;
    struct revoke_wait *w = calloc(1, sizeof *w);
    w->req = req;
    w->ad = ad;
    snprintf(w->id, sizeof w->id, "%s", id);
    ag_ctl_on_close(req, revoke_closed, w);
    ag_raft_submit_admin(a, ad, DROVER__COMMAND_OP__CMD_DEL, key, NULL, 0, revoke_done, w);
}

/* Local secrets whose record is gone (used, expired and cleaned, revoked elsewhere):
 * forgotten on the summary timer, a few at a time. */
struct sweep {
    char ids[16][2 * TOKEN_ID_LEN + 1];
    size_t n;
};

static int scan_orphans(MDB_txn *t, const MDB_dbi *dbi, void *ud)
{
    struct sweep *sw = ud;
    MDB_cursor *cur;
    if (mdb_cursor_open(t, dbi[ST_DB_META], &cur) != 0)
        return EIO;
    MDB_val k = {10, (void *)"jointoken/"}, v;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    for (; rc == 0 && sw->n < 16 && k.mv_size == 10 + 2 * TOKEN_ID_LEN && memcmp(k.mv_data, "jointoken/", 10) == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        char tk[6 + 2 * TOKEN_ID_LEN];
        memcpy(tk, "token/", 6);
        memcpy(tk + 6, (char *)k.mv_data + 10, 2 * TOKEN_ID_LEN);
        MDB_val sk = {sizeof tk, tk}, sv;
        if (mdb_get(t, dbi[ST_DB_STATE], &sk, &sv) == MDB_NOTFOUND) {
            memcpy(sw->ids[sw->n], tk + 6, 2 * TOKEN_ID_LEN);
            sw->ids[sw->n++][2 * TOKEN_ID_LEN] = 0;
        }
    }
    mdb_cursor_close(cur);
    return 0;
}

static void sweep_secrets(ag_agent *a)
{
    struct sweep sw = {.n = 0};
    if (st_read(a->store, scan_orphans, &sw) != 0)
        return;
    for (size_t i = 0; i < sw.n; i++)
        secret_forget(a, sw.ids[i]);
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

void ag_join_rep_free(ag_join_rep *r)
{
    if (r->b)
        drover__join_reply_body__free_unpacked(r->b, NULL);
    if (r->r)
        drover__join_reply__free_unpacked(r->r, NULL);
    r->b = NULL;
    r->r = NULL;
}

int ag_join_rep_parse(const uint8_t *buf, size_t len, const char *fpr, const uint8_t nonce[16],
                      ag_join_rep *p, char *msg, size_t msglen)
{
    memset(p, 0, sizeof *p);
    p->r = buf ? drover__join_reply__unpack(NULL, len, buf) : NULL;
    p->b = p->r ? drover__join_reply_body__unpack(NULL, p->r->body.len, p->r->body.data) : NULL;
    Drover__JoinReply *r = p->r;
    Drover__JoinReplyBody *b = p->b;
    if (!b || r->signature.len != 64 || b->server_sign_pk.len != 32 || b->nonce.len != 16) {
        snprintf(msg, msglen, "the join endpoint answered something that is not a drover join reply");
        return AG_EX_PROTOCOL;
    }
    if (!ag_fingerprint_matches(fpr, b->server_sign_pk.data)) {
        char got[AG_FPR_STRLEN];
        ag_fingerprint(b->server_sign_pk.data, got);
        snprintf(msg, msglen, "fingerprint mismatch: the endpoint answered as %s, not %s. Refusing to join: "
                 "check the address, or ask for the fingerprint again", got, fpr);
        return AG_EX_UNSAFE;
    }
    uint8_t d[32];
    reply_digest(r->body.data, r->body.len, d);
    if (crypto_sign_verify_detached(r->signature.data, d, sizeof d, b->server_sign_pk.data) != 0 ||
        sodium_memcmp(b->nonce.data, nonce, 16) != 0) {
        snprintf(msg, msglen, "the join reply's signature or nonce does not verify: refusing to join");
        return AG_EX_UNSAFE;
    }
    if (b->code) {
        snprintf(msg, msglen, "%s", b->error && b->error[0] ? b->error : "the cluster refused the join");
        return b->code > 0 && b->code < 256 ? b->code : AG_EX_PROTOCOL;
    }
    if (b->cluster_id.len != AG_CLUSTER_ID_LEN || b->n_members == 0) {
        snprintf(msg, msglen, "the join reply lacks the cluster id or its members");
        return AG_EX_PROTOCOL;
    }
    return 0;
}

static void join_after(ag_loop *l, void *ud)
{
    (void)l;
    struct join_job *jb = ud;
    ag_agent *a = jb->a;
    ag_join_rep p = {0};
    char msg[640];
    if (jb->error[0]) {
        join_fail(jb, AG_EX_UNAVAILABLE, jb->error);
        goto out;
    }
    int prc = ag_join_rep_parse(jb->reply, jb->reply_len, jb->fpr, jb->nonce, &p, msg, sizeof msg);
    if (prc) {
        join_fail(jb, prc, msg);
        goto out;
    }
    Drover__JoinReply *r = p.r;
    Drover__JoinReplyBody *b = p.b;
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
    ag_join_rep_free(&p);
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
    ag_ctl_register(a->ctl, "join.status", ctl_join_status, a);
    ag_ctl_register(a->ctl, "token.list", ctl_token_list, a);
    ag_ctl_register(a->ctl, "token.revoke", ctl_token_revoke, a);
    return bind_endpoint(a, err, errlen);
}

void ag_join_stop(ag_agent *a)
{
    struct ag_join *j = J(a);
    if (!j)
        return;
    if (j->sock) {
        ag_loop_remove(a->loop, j->io);
        ag_loop_cancel(a->loop, j->summary_timer);
        zmq_close(j->sock);
        zmq_ctx_term(j->ctx);
    }
    free(j);
    a->join = NULL;
}
