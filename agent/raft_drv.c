/* raft_drv.c — the agent side of Raft; see raft_drv.h for the persistence and
 * forwarding design.
 *
 * One raft_step at a time, each update carried out completely (persist -> send ->
 * apply -> PERSISTED feedback -> snapshot) before the next step, because the core reuses
 * the update's buffers on the next call.
 */
#include "raft_drv.h"
#include "admin.h"
#include "ctl.h"
#include "events.h"
#include "exitcodes.h"
#include "log.h"
#include "net.h"
#include "raft.h"
#include "raft_codec.h"
#include "autopilot.h"
#include "gossip.h"
#include "ha_drv.h"
#include "gossip_drv.h"
#include "hac.h"
#include "hac_codec.h"
#include "operator.h"
#include "drover.pb-c.h"
#include "state.pb-c.h"

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The core wants a tick "often"; 10 ms keeps timeouts accurate to 2% of a 500 ms
 * election timeout and costs nothing when there is nothing to do. */
#define RAFT_TICK_MS        10
/* How long a client waits for its request to commit and apply before hearing
 * "no quorum": 10 election timeouts cover a leader change or two. */
#define RAFT_REQUEST_TIMEOUT_MS 5000
#define RAFT_PENDING_MAX    1024   /* outstanding requests per host */
/* After a leader asked us to retry: long enough for an election round to settle, short
 * against the 5 s budget. */
#define RETRY_BACKOFF_MS    100
/* Entries apply refused, remembered until their askers are answered (settle runs right
 * after every apply, so a few per apply batch suffice). */
#define DENIED_RING         64
/* Entries a new cluster starts with: its configuration, its first member, its operator
 * key. Written before Raft runs, so they carry no origin and no grant. */
#define BOOTSTRAP_ENTRIES   3
#define HA_STATE_KEY        "ha/state"

struct pending {
    uint64_t req_id;
    uint64_t index, term;   /* 0 until known */
    uint64_t deadline;
    int forwarded_in;       /* leader side: reply to origin when applied */
    uint8_t origin[AG_HOST_ID_LEN];
    ag_raft_done_fn done;   /* local requests */
    void *ud;
    uint8_t *cmd;           /* local requests: the encoded Command, re-sent to a new leader */
    size_t cmdlen;
    raft_id sent_to;        /* leader it was last handed to (0: not yet) */
    uint64_t retry_at;      /* not before: the leader asked us to retry */
    struct pending *next;
};

struct ag_raft {
    struct raft *r;
    ag_id tick;
    uint64_t next_req;
    struct pending *pend;
    unsigned npend;
    uint64_t applied;
    uint64_t leader_changes, msgs_sent, msgs_bad;
    raft_id last_leader;
    bool resending;
    uint64_t next_autopilot_ms;
    /* the operator credential: grants this leader took (replay), refusals by reason at
     * the leader's door and on apply, and the indices apply refused, so the asker hears
     * "permission denied" rather than "done" */
    ag_op_nonces *nonces;
    uint64_t gate_refused[AG_OPR__N], apply_refused[AG_OPR__N], grants_applied;
    uint64_t denied_index[DENIED_RING];
    uint8_t denied_why[DENIED_RING];
};

/* How often the coordinator reviews the voter set, and how long a voter may be dead
 * before a healthy learner replaces it (a reboot should not reshuffle voters; a lost
 * host should not leave the cluster one failure from losing quorum for long). */
#define AUTOPILOT_PERIOD_MS  500
#define AUTOPILOT_GRACE_MS   30000

/* A client request may be re-sent to a new leader after it already reached the old one,
 * so the state machine applies each (origin, req_id) once: it remembers the newest
 * DEDUP_WINDOW request ids per origin. Request ids are epoch-scoped (the epoch is the
 * high half), so a restarted host never reuses one. */
#define DEDUP_WINDOW 64

uint64_t ag_raft_id_of_host(const uint8_t id[AG_HOST_ID_LEN])
{
    uint64_t v;
    memcpy(&v, id, 8);
    v = be64toh(v);
    return v ? v : 1;
}

static const ag_member *member_of(ag_agent *a, raft_id id)
{
    for (size_t i = 0; i < a->members.n; i++)
        if (ag_raft_id_of_host(a->members.v[i].id) == id)
            return &a->members.v[i];
    return NULL;
}

static const char *name_of(ag_agent *a, raft_id id)
{
    const ag_member *m = member_of(a, id);
    return m ? m->name : (id ? "?" : "none");
}

/* ---- LMDB persistence ---------------------------------------------------------- */

static void u64be(uint8_t *p, uint64_t v) { v = htobe64(v); memcpy(p, &v, 8); }
static uint64_t getu64(const void *p) { uint64_t v; memcpy(&v, p, 8); return be64toh(v); }

static int put_u64(MDB_txn *t, MDB_dbi db, const char *k, uint64_t v)
{
    uint8_t b[8];
    u64be(b, v);
    MDB_val key = {strlen(k), (void *)k}, val = {8, b};
    return mdb_put(t, db, &key, &val, 0);
}

static int get_u64(MDB_txn *t, MDB_dbi db, const char *k, uint64_t *v)
{
    MDB_val key = {strlen(k), (void *)k}, val;
    int rc = mdb_get(t, db, &key, &val);
    if (rc == 0 && val.mv_size == 8)
        *v = getu64(val.mv_data);
    return rc;
}

static int put_blob(MDB_txn *t, MDB_dbi db, const char *k, const void *b, size_t n)
{
    MDB_val key = {strlen(k), (void *)k}, val = {n, (void *)b};
    return mdb_put(t, db, &key, &val, 0);
}

/* delete log entries with index >= from (upto = 0) or <= upto (from = 0) */
static int log_delete(MDB_txn *t, MDB_dbi db, uint64_t from, uint64_t upto)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(t, db, &c);
    if (rc)
        return rc;
    uint8_t kb[8];
    u64be(kb, from ? from : 1);
    MDB_val k = {8, kb}, v;
    rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    while (rc == 0) {
        if (upto && getu64(k.mv_data) > upto)
            break;
        if ((rc = mdb_cursor_del(c, 0)) != 0)
            break;
        rc = mdb_cursor_get(c, &k, &v, MDB_GET_CURRENT);
        if (rc == EINVAL || rc == MDB_NOTFOUND) /* deleted the last one */
            rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* state snapshot blob: repeated [u32 klen][key][u32 vlen][value] */
static int state_serialize(MDB_txn *t, MDB_dbi db, uint8_t **out, size_t *len)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(t, db, &c);
    if (rc)
        return rc;
    size_t cap = 4096, n = 0;
    uint8_t *b = malloc(cap);
    MDB_val k, v;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0 && b; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        size_t need = n + 8 + k.mv_size + v.mv_size;
        if (need > cap) {
            while (cap < need)
                cap *= 2;
            uint8_t *nb = realloc(b, cap);
            if (!nb) {
                free(b);
                b = NULL;
                break;
            }
            b = nb;
        }
        uint32_t kl = htobe32((uint32_t)k.mv_size), vl = htobe32((uint32_t)v.mv_size);
        memcpy(b + n, &kl, 4);
        memcpy(b + n + 4, k.mv_data, k.mv_size);
        n += 4 + k.mv_size;
        memcpy(b + n, &vl, 4);
        memcpy(b + n + 4, v.mv_data, v.mv_size);
        n += 4 + v.mv_size;
    }
    mdb_cursor_close(c);
    if (!b)
        return ENOMEM;
    *out = b;
    *len = n;
    return 0;
}

static int state_restore(MDB_txn *t, MDB_dbi db, const uint8_t *b, size_t n)
{
    int rc = mdb_drop(t, db, 0);
    size_t o = 0;
    while (rc == 0 && o < n) {
        uint32_t kl, vl;
        if (n - o < 4)
            return MDB_CORRUPTED;
        memcpy(&kl, b + o, 4);
        kl = be32toh(kl);
        if (n - o - 4 < kl + 4u)
            return MDB_CORRUPTED;
        MDB_val k = {kl, (void *)(b + o + 4)};
        o += 4 + kl;
        memcpy(&vl, b + o, 4);
        vl = be32toh(vl);
        if (n - o - 4 < vl)
            return MDB_CORRUPTED;
        MDB_val v = {vl, (void *)(b + o + 4)};
        o += 4 + vl;
        rc = mdb_put(t, db, &k, &v, 0);
    }
    return rc;
}

static int snap_meta_put(MDB_txn *t, MDB_dbi db, const struct raft_snapshot_meta *m)
{
    uint8_t b[24 + RAFT_CONFIG_ENCODED_MAX];
    u64be(b, m->index);
    u64be(b + 8, m->term);
    u64be(b + 16, m->size);
    size_t n = raft_config_encode(&m->config, b + 24);
    return put_blob(t, db, "snap_meta", b, 24 + n);
}

struct persist_ctx {
    const struct raft_update *up;
};

static int persist_fn(MDB_txn *t, const MDB_dbi *dbi, void *ctx)
{
    const struct raft_update *up = ((struct persist_ctx *)ctx)->up;
    MDB_dbi R = dbi[ST_DB_RAFT], L = dbi[ST_DB_LOG];
    int rc = 0;
    if (up->flags & RAFT_UPD_HARD_STATE) {
        if ((rc = put_u64(t, R, "term", up->term)) || (rc = put_u64(t, R, "vote", up->vote)))
            return rc;
    }
    if (up->flags & RAFT_UPD_SNAPSHOT_CHUNK) {
        uint64_t si = 0, st = 0;
        MDB_val key = {7, "staging"}, val = {0, NULL};
        get_u64(t, R, "staging_index", &si);
        get_u64(t, R, "staging_term", &st);
        size_t have = 0;
        if (si == up->chunk.index && st == up->chunk.term && mdb_get(t, R, &key, &val) == 0)
            have = val.mv_size;
        size_t end = (size_t)up->chunk.offset + up->chunk.len, n = have > end ? have : end;
        uint8_t *b = calloc(1, n ? n : 1);
        if (!b)
            return ENOMEM;
        if (have)
            memcpy(b, val.mv_data, have);
        memcpy(b + up->chunk.offset, up->chunk.data, up->chunk.len);
        rc = put_blob(t, R, "staging", b, n);
        free(b);
        if (rc || (rc = put_u64(t, R, "staging_index", up->chunk.index)) ||
            (rc = put_u64(t, R, "staging_term", up->chunk.term)))
            return rc;
    }
    if (up->flags & RAFT_UPD_SNAPSHOT_INSTALL) {
        MDB_val key = {7, "staging"}, val;
        if ((rc = mdb_get(t, R, &key, &val)) != 0)
            return rc;
        if ((rc = state_restore(t, dbi[ST_DB_STATE], val.mv_data, val.mv_size)) != 0)
            return rc;
        struct raft_snapshot_meta m = {.index = up->install.index, .term = up->install.term,
                                       .size = val.mv_size, .config = *up->install.config};
        /* copy before the staging value is overwritten by our own puts below */
        uint8_t *copy = malloc(val.mv_size ? val.mv_size : 1);
        if (!copy)
            return ENOMEM;
        memcpy(copy, val.mv_data, val.mv_size);
        rc = put_blob(t, R, "snapshot", copy, m.size);
        free(copy);
        if (rc || (rc = snap_meta_put(t, R, &m)) || (rc = put_u64(t, R, "applied_index", m.index)))
            return rc;
        mdb_del(t, R, &key, NULL);
        rc = up->install.drop_log ? mdb_drop(t, L, 0) : log_delete(t, L, 0, m.index);
        if (rc)
            return rc;
    }
    if (up->flags & RAFT_UPD_LOG_TRUNCATE) {
        if ((rc = log_delete(t, L, up->truncate_from, 0)) != 0)
            return rc;
    }
    for (unsigned i = 0; i < up->n_append; i++) {
        const struct raft_entry *e = &up->append[i];
        uint8_t kb[8];
        u64be(kb, up->append_first + i);
        MDB_val k = {8, kb}, v = {9 + (size_t)e->len, NULL};
        if ((rc = mdb_put(t, L, &k, &v, MDB_RESERVE)) != 0)
            return rc;
        u64be(v.mv_data, e->term);
        ((uint8_t *)v.mv_data)[8] = e->type;
        if (e->len)
            memcpy((uint8_t *)v.mv_data + 9, e->buf, e->len);
    }
    return 0;
}

/* ---- apply ------------------------------------------------------------------------ */

/* 1 if (origin, req_id) was applied before, 0 if not (and now it is recorded), -errno. */
static int seen_before(MDB_txn *t, MDB_dbi db, const Drover__Command *c)
{
    if (c->origin.len != AG_HOST_ID_LEN || !c->req_id)
        return 0;
    char key[8 + AG_HOST_ID_HEXLEN];
    memcpy(key, "dedup/", 6);
    ag_hex(c->origin.data, AG_HOST_ID_LEN, key + 6);
    MDB_val k = {strlen(key), key}, v;
    uint64_t ids[DEDUP_WINDOW + 1];
    size_t n = 0;
    if (mdb_get(t, db, &k, &v) == 0) {
        n = v.mv_size / 8 > DEDUP_WINDOW ? DEDUP_WINDOW : v.mv_size / 8;
        memcpy(ids, v.mv_data, n * 8);
    }
    for (size_t i = 0; i < n; i++)
        if (ids[i] == c->req_id)
            return 1;
    if (n == DEDUP_WINDOW) {   /* forget the smallest (oldest) id */
        size_t m = 0;
        for (size_t i = 1; i < n; i++)
            if (ids[i] < ids[m])
                m = i;
        ids[m] = ids[--n];
    }
    ids[n++] = c->req_id;
    v.mv_size = n * 8;
    v.mv_data = ids;
    int rc = mdb_put(t, db, &k, &v, 0);
    return rc ? -rc : 0;
}

struct apply_ctx {
    ag_agent *a;
    const struct raft_update *up;
    uint64_t applied;
    bool members_changed;
};

/* Is there a member record in txn with m's name or address? HA knows hosts by name and
 * the network by address, so a second holder of either would be mistaken for the first. */
static bool member_clash(MDB_txn *t, MDB_dbi db, const ag_member *m)
{
    MDB_cursor *cur;
    if (mdb_cursor_open(t, db, &cur) != 0)
        return true;   /* cannot tell: refuse rather than admit a possible twin */
    MDB_val k = {7, (void *)"member/"}, v;
    bool clash = false;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    for (; rc == 0 && !clash && k.mv_size >= 7 && memcmp(k.mv_data, "member/", 7) == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        Drover__Member *o = drover__member__unpack(NULL, v.mv_size, v.mv_data);
        clash = o && ((o->name && !strcmp(o->name, m->name)) || (o->addr && !strcmp(o->addr, m->addr)));
        if (o)
            drover__member__free_unpacked(o, NULL);
    }
    mdb_cursor_close(cur);
    return clash;
}

/* CMD_ADMIT: consume a valid token and add the member, or do nothing. Only replicated
 * inputs decide (the token record, the leader's clock stamped into the command when it
 * proposed, the command's origin, the member records), so every host reaches the same
 * outcome. */
static int apply_admit(MDB_txn *t, MDB_dbi db, const Drover__Command *c, bool *changed)
{
    const Drover__Admit *ad = c->admit;
    ag_member m;
    if (!ad || ad->token_id.len != 8 || ag_member_from_pb(ad->member, &m) != 0)
        return 0;
    char tkey[6 + 17], mkey[7 + AG_HOST_ID_HEXLEN];
    memcpy(tkey, "token/", 6);
    ag_hex(ad->token_id.data, 8, tkey + 6);
    MDB_val k = {strlen(tkey), tkey}, v;
    if (mdb_get(t, db, &k, &v) != 0)
        return 0;   /* unknown or already used */
    Drover__JoinToken *tok = drover__join_token__unpack(NULL, v.mv_size, v.mv_data);
    bool ok = tok && ad->now_ms <= tok->expires_ms;
    /* only the issuing host holds the secret and so checked the joiner's MAC: an
     * admission of its token through anyone else is forged, and must not even spend it */
    bool foreign = tok && tok->issuer.len == AG_HOST_ID_LEN &&
                   (c->origin.len != AG_HOST_ID_LEN || memcmp(c->origin.data, tok->issuer.data, AG_HOST_ID_LEN) != 0);
    if (tok)
        drover__join_token__free_unpacked(tok, NULL);
    if (foreign)
        return 0;
    if (ok && member_clash(t, db, &m))
        return 0;   /* the token stays: the joiner may retry under another name */
    int rc = mdb_del(t, db, &k, NULL);   /* single use, and expired ones are cleaned up too */
    if (rc || !ok)
        return rc;
    memcpy(mkey, "member/", 7);
    ag_hex(m.id, AG_HOST_ID_LEN, mkey + 7);
    size_t n = drover__member__get_packed_size(ad->member);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        return ENOMEM;
    drover__member__pack(ad->member, buf);
    MDB_val mk = {strlen(mkey), mkey}, mv = {n, buf};
    rc = mdb_put(t, db, &mk, &mv, 0);
    free(buf);
    *changed = true;
    return rc;
}

/* ---- who may write what ----------------------------------------------------------- */

/* The HA state as stored in txn (NULL when absent or undecodable). */
static hac_rstate *ha_state_in(MDB_txn *t, MDB_dbi db)
{
    MDB_val k = {sizeof HA_STATE_KEY - 1, HA_STATE_KEY}, v;
    hac_rstate *s = malloc(sizeof *s);
    char why[128];
    if (!s)
        return NULL;
    hac_rstate_init(s);
    if (mdb_get(t, db, &k, &v) == 0 && hac_state_decode(v.mv_data, v.mv_size, s, why, sizeof why) != 0) {
        free(s);
        return NULL;
    }
    return s;
}

/* The name in member record KEY (member/<hex>) of txn, into out. */
static const char *member_name_in(MDB_txn *t, MDB_dbi db, const char *key, char *out, size_t n)
{
    MDB_val k = {strlen(key), (void *)key}, v;
    if (mdb_get(t, db, &k, &v) != 0)
        return NULL;
    Drover__Member *m = drover__member__unpack(NULL, v.mv_size, v.mv_data);
    if (!m)
        return NULL;
    snprintf(out, n, "%s", m->name ? m->name : "");
    drover__member__free_unpacked(m, NULL);
    return out;
}

/* Take grant g once: REPLAY when its nonce is in the replicated ring of grants used,
 * else the ring gains it. 0, an ag_op_reason or -errno. */
static int ring_take(MDB_txn *t, MDB_dbi db, const ag_grant *g)
{
    MDB_val k = {sizeof AG_OP_RING_KEY - 1, AG_OP_RING_KEY}, v;
    if (mdb_get(t, db, &k, &v) != 0)
        v = (MDB_val){0, NULL};
    uint8_t *ring;
    size_t n;
    ag_op_reason r = ag_op_ring_add(v.mv_data, v.mv_size, g->nonce, &ring, &n);
    if (r == AG_OPR__N)
        return -ENOMEM;
    if (r)
        return r;
    MDB_val nv = {n, ring};
    int rc = mdb_put(t, db, &k, &nv, 0);
    free(ring);
    return rc ? -rc : 0;
}

/* A command with a grant: does the grant hold and permit exactly this command, from
 * replicated inputs only (txn, the entry)? 0 (taken), an ag_op_reason or -errno. */
static int grant_holds(ag_agent *a, MDB_txn *t, MDB_dbi db, const Drover__Command *c)
{
    const Drover__AdminAuth *au = c->auth;
    ag_grant g;
    ag_op_reason r = ag_grant_open(au->request.data, au->request.len, au->signature.data, au->signature.len,
                                   au->operator_id.data, au->operator_id.len, a->members.cluster_id, &g);
    if (r)
        return r;
    hac_prop prop;
    hac_rstate *st = NULL;
    char name[AG_MEMBER_NAME_MAX], why[200];
    ag_op_act act = {.op = c->op, .key = c->key, .val = c->value.data, .vlen = c->value.len};
    if (!ag_admin_known(a, t, db, g.pk))
        r = AG_OPR_UNKNOWN_KEY;
    else if (c->op == DROVER__COMMAND_OP__CMD_HA) {
        if (hac_prop_decode(c->ha.data, c->ha.len, &prop, NULL, 0, why, sizeof why) == 0)
            act.prop = &prop;
        act.st = st = ha_state_in(t, db);
    } else if (c->op == DROVER__COMMAND_OP__CMD_DEL && c->key && strncmp(c->key, "member/", 7) == 0)
        act.member_name = member_name_in(t, db, c->key, name, sizeof name);
    if (!r)
        r = ag_op_permits(&g, &act, why, sizeof why);
    free(st);
    int rc = r ? (int)r : ring_take(t, db, &g);
    ag_grant_free(&g);
    return rc;
}

/* May this committed command change the state? 0, an ag_op_reason (refused: skipped on
 * every host alike), or -errno. Admin keys need a grant; vmxml/, CMD_ADMIT (a token) and
 * CMD_HA without a grant are host rights the leader checked before proposing. The
 * bootstrap entries of a new cluster carry neither origin nor grant. */
static int apply_gate(struct apply_ctx *c, MDB_txn *t, MDB_dbi db, uint64_t idx, const struct raft_entry *e,
                      const Drover__Command *cmd)
{
    if (idx <= BOOTSTRAP_ENTRIES && e->term == 1 && cmd->origin.len == 0 && !cmd->auth)
        return 0;
    if (cmd->auth)
        return grant_holds(c->a, t, db, cmd);
    bool plain = cmd->op == DROVER__COMMAND_OP__CMD_PUT || cmd->op == DROVER__COMMAND_OP__CMD_DEL;
    return plain && ag_op_key_is_admin(cmd->key) ? AG_OPR_NO_GRANT : 0;
}

static void note_denied(struct ag_raft *R, uint64_t idx, int why)
{
    R->apply_refused[why]++;
    R->denied_index[idx % DENIED_RING] = idx;
    R->denied_why[idx % DENIED_RING] = (uint8_t)why;
}

static int apply_fn(MDB_txn *t, const MDB_dbi *dbi, void *ctx)
{
    struct apply_ctx *c = ctx;
    const struct raft_update *up = c->up;
    uint64_t applied = 0;
    get_u64(t, dbi[ST_DB_RAFT], "applied_index", &applied);
    for (unsigned i = 0; i < up->n_apply; i++) {
        uint64_t idx = up->apply_first + i;
        if (idx <= applied)
            continue;   /* applied before a restart: exactly once */
        const struct raft_entry *e = &up->apply[i];
        if (e->type == RAFT_ENTRY_COMMAND) {
            Drover__Command *cmd = drover__command__unpack(NULL, e->len, e->buf);
            int dup = cmd ? seen_before(t, dbi[ST_DB_RAFT], cmd) : 0;
            if (dup < 0) {
                drover__command__free_unpacked(cmd, NULL);
                return -dup;
            }
            int gate = cmd && !dup ? apply_gate(c, t, dbi[ST_DB_STATE], idx, e, cmd) : 0;
            if (gate < 0) {
                drover__command__free_unpacked(cmd, NULL);
                return -gate;
            }
            if (gate > 0) {
                note_denied(c->a->raft, idx, gate);
                ag_warn("raft: entry %llu refused on apply (%s): an admin change needs a valid "
                        "operator grant", (unsigned long long)idx, ag_op_reason_name((ag_op_reason)gate));
            } else if (cmd && !dup && cmd->auth)
                c->a->raft->grants_applied++;
            if (gate > 0) {
                /* skipped, identically on every host */
            } else if (cmd && !dup && cmd->op == DROVER__COMMAND_OP__CMD_HA) {
                int prop_rc;
                int rc = ag_ha_apply(c->a, t, dbi[ST_DB_STATE], idx, cmd->ha.data, cmd->ha.len, &prop_rc);
                if (rc) {
                    drover__command__free_unpacked(cmd, NULL);
                    return rc;
                }
            } else if (cmd && !dup && cmd->op == DROVER__COMMAND_OP__CMD_ADMIT) {
                int rc = apply_admit(t, dbi[ST_DB_STATE], cmd, &c->members_changed);
                if (rc) {
                    drover__command__free_unpacked(cmd, NULL);
                    return rc;
                }
            } else if (cmd && !dup && cmd->key && cmd->key[0] && strncmp(cmd->key, "ha/", 3) != 0) {
                /* "ha/" keys change only through CMD_HA, never by a plain put */
                if (strncmp(cmd->key, "member/", 7) == 0)
                    c->members_changed = true;
                MDB_val k = {strlen(cmd->key), cmd->key}, v = {cmd->value.len, cmd->value.data};
                int rc = 0;
                if (cmd->op == DROVER__COMMAND_OP__CMD_PUT)
                    rc = mdb_put(t, dbi[ST_DB_STATE], &k, &v, 0);
                else if (cmd->op == DROVER__COMMAND_OP__CMD_DEL)
                    rc = mdb_del(t, dbi[ST_DB_STATE], &k, NULL);
                if (rc == MDB_NOTFOUND)
                    rc = 0;
                if (rc) {
                    drover__command__free_unpacked(cmd, NULL);
                    return rc;
                }
            }
            /* an undecodable command was validated by its proposer; skipping it keeps every
             * host identical, since every host skips it the same way */
            if (cmd)
                drover__command__free_unpacked(cmd, NULL);
        }
        applied = idx;
    }
    c->applied = applied;
    return put_u64(t, dbi[ST_DB_RAFT], "applied_index", applied);
}

/* ---- the leader's door ------------------------------------------------------------- */

static int read_ha_state(MDB_txn *t, const MDB_dbi *dbi, void *ctx)
{
    *(hac_rstate **)ctx = ha_state_in(t, dbi[ST_DB_STATE]);
    return 0;
}

/* The applied HA state (malloc'd; NULL when unreadable). Read from the store rather
 * than from the HA driver, which raft_drv does not know; only forwarded host requests
 * and grants pay for it. */
static hac_rstate *ha_state_now(ag_agent *a)
{
    hac_rstate *s = NULL;
    st_read(a->store, read_ha_state, &s);
    return s;
}

static const char *host_name_of(ag_agent *a, const uint8_t id[AG_HOST_ID_LEN])
{
    const ag_member *m = ag_members_find(&a->members, id);
    return m ? m->name : NULL;
}

/* Host rights (no grant): its own VMs' definitions, its own freeze, an admission through
 * a token, and — this leader's own — the coordinator's decisions. */
static ag_op_reason host_right(ag_agent *a, const uint8_t origin[AG_HOST_ID_LEN], const Drover__Command *c,
                               const hac_rstate *s, char *why, size_t n)
{
    const char *me = host_name_of(a, origin);
    int hi = me && s ? hac_find_host(s, me) : -1;
    if (c->op == DROVER__COMMAND_OP__CMD_ADMIT)
        return AG_OPR_OK;
    if (c->op == DROVER__COMMAND_OP__CMD_PUT || c->op == DROVER__COMMAND_OP__CMD_DEL) {
        if (ag_op_key_is_admin(c->key)) {
            snprintf(why, n, "'%s' is cluster administration: it needs the operator credential", c->key);
            return AG_OPR_NO_GRANT;
        }
        int vi = s ? hac_find_vm(s, c->key + 6) : -1;
        if (hi >= 0 && vi >= 0 && (s->vms[vi].owner == hi || s->vms[vi].moving_to == hi))
            return AG_OPR_OK;
        snprintf(why, n, "host %s may store the definitions of the VMs it owns only, not %s", me ? me : "?", c->key);
        return AG_OPR_NOT_OWNER;
    }
    if (c->op == DROVER__COMMAND_OP__CMD_HA) {
        if (memcmp(origin, a->id.host_id, AG_HOST_ID_LEN) == 0)
            return AG_OPR_OK;   /* the coordinator's own decision, on the leader */
        hac_prop p;
        char w[128];
        if (hac_prop_decode(c->ha.data, c->ha.len, &p, NULL, 0, w, sizeof w) == 0 && p.kind == HAC_P_FREEZE &&
            !p.confirm_off && hi >= 0 && p.index == (uint32_t)hi)
            return AG_OPR_OK;   /* a host freezes or unfreezes itself */
        snprintf(why, n, "host %s may freeze only itself: other HA changes are the coordinator's or need "
                 "the operator credential", me ? me : "?");
        return AG_OPR_NO_GRANT;
    }
    snprintf(why, n, "unknown command");
    return AG_OPR_NO_GRANT;
}

/* A grant the leader took: recorded (one use) once its proposal is in the log. */
struct taken {
    bool granted;
    uint8_t nonce[AG_OP_NONCE_LEN];
    uint64_t issued_ms;
};

static void take(ag_agent *a, const struct taken *tk)
{
    if (tk->granted)
        ag_op_nonce_check(a->raft->nonces, tk->nonce, tk->issued_ms, ag_wall_ms(), true);
}

/* A grant at the leader: what apply checks, plus freshness by this leader's clock and
 * one use per grant (tk gets its nonce for take() after proposing). */
static ag_op_reason grant_at_leader(ag_agent *a, const Drover__Command *c, const hac_rstate *s, struct taken *tk,
                                    char *why, size_t n)
{
    const Drover__AdminAuth *au = c->auth;
    ag_grant g;
    ag_op_reason r = ag_grant_open(au->request.data, au->request.len, au->signature.data, au->signature.len,
                                   au->operator_id.data, au->operator_id.len, a->members.cluster_id, &g);
    if (r) {
        snprintf(why, n, "the operator grant does not hold (%s)", ag_op_reason_name(r));
        return r;
    }
    uint64_t now = ag_wall_ms();
    hac_prop prop;
    char w[128];
    ag_op_act act = {.op = c->op, .key = c->key, .val = c->value.data, .vlen = c->value.len, .st = s};
    if (c->op == DROVER__COMMAND_OP__CMD_HA && hac_prop_decode(c->ha.data, c->ha.len, &prop, NULL, 0, w, sizeof w) == 0)
        act.prop = &prop;
    for (size_t i = 0; c->key && strncmp(c->key, "member/", 7) == 0 && i < a->members.n; i++) {
        char hex[AG_HOST_ID_HEXLEN];
        ag_hex(a->members.v[i].id, AG_HOST_ID_LEN, hex);
        if (strcmp(hex, c->key + 7) == 0)
            act.member_name = a->members.v[i].name;
    }
    if (!ag_admin_known(a, NULL, 0, g.pk))
        snprintf(why, n, "operator key %s is not an operator of this cluster", g.fpr), r = AG_OPR_UNKNOWN_KEY;
    else if (!ag_op_fresh(g.issued_ms, now))
        snprintf(why, n, "the request was signed %lld s from the coordinator's clock (more than %d s): "
                 "check the clocks (NTP), then run it again", (long long)((int64_t)(now - g.issued_ms) / 1000),
                 AG_OP_FRESH_MS / 1000), r = AG_OPR_STALE;
    else if ((r = ag_op_nonce_check(a->raft->nonces, g.nonce, g.issued_ms, now, false)) != 0)
        snprintf(why, n, r == AG_OPR_REPLAY ? "this signed request was used before: sign a new one"
                 : "more than %d admin requests in %d s: the coordinator takes no more for now",
                 AG_OP_NONCES_MAX, AG_OP_FRESH_MS / 1000);
    else if ((r = ag_op_permits(&g, &act, w, sizeof w)) != 0)
        snprintf(why, n, "the operator grant does not permit this change: %s", w);
    memcpy(tk->nonce, g.nonce, AG_OP_NONCE_LEN);
    tk->issued_ms = g.issued_ms;
    tk->granted = r == AG_OPR_OK;
    ag_grant_free(&g);
    return r;
}

/* May ORIGIN have this command proposed? 0, or an ag_exit code with why said and the
 * refusal counted. tk says which grant to take() once proposed. */
static int leader_gate(ag_agent *a, const uint8_t origin[AG_HOST_ID_LEN], const uint8_t *buf, size_t len,
                       struct taken *tk, char *why, size_t n)
{
    struct ag_raft *R = a->raft;
    tk->granted = false;
    Drover__Command *c = drover__command__unpack(NULL, len, buf);
    ag_op_reason r = AG_OPR_OK;
    bool self = memcmp(origin, a->id.host_id, AG_HOST_ID_LEN) == 0;
    /* the coordinator's own HA decisions are the hot path: no state read for them */
    bool needs_state = c && (c->auth || !self || c->op != DROVER__COMMAND_OP__CMD_HA);
    hac_rstate *s = needs_state ? ha_state_now(a) : NULL;
    if (!c)
        snprintf(why, n, "the command does not decode"), r = AG_OPR_MALFORMED;
    else if (c->auth)
        r = grant_at_leader(a, c, s, tk, why, n);
    else if (needs_state)
        r = host_right(a, origin, c, s, why, n);
    free(s);
    if (c)
        drover__command__free_unpacked(c, NULL);
    if (!r)
        return 0;
    R->gate_refused[r]++;
    /* counted and logged, not journalled: a member could fill the journal otherwise; the
     * host the request entered through journals its own asker's refusal */
    const char *who = host_name_of(a, origin);
    ag_warn("raft: refused a change asked through %s (%s): %s", who ? who : "?", ag_op_reason_name(r), why);
    return r == AG_OPR_FULL ? AG_EX_TEMPFAIL : AG_EX_NOPERM;
}

/* ---- pending requests ------------------------------------------------------------- */

static void send_forward_reply(ag_agent *a, const uint8_t origin[AG_HOST_ID_LEN], uint64_t req_id,
                               uint64_t index, int code, const char *error)
{
    const ag_member *m = ag_members_find(&a->members, origin);
    if (!m)
        return;
    Drover__Forward f = DROVER__FORWARD__INIT;
    f.req_id = req_id;
    f.is_reply = 1;
    f.index = index;
    f.code = code;
    f.error = (char *)(error ? error : "");
    uint8_t buf[512];
    size_t n = drover__forward__pack(&f, buf);
    ag_net_send(a, m, DROVER__MSG_TYPE__MSG_FORWARD, buf, n);
}

static void resolve(ag_agent *a, struct pending **pp, int code, const char *error)
{
    struct pending *p = *pp;
    *pp = p->next;
    a->raft->npend--;
    if (p->forwarded_in)
        send_forward_reply(a, p->origin, p->req_id, p->index, code, error);
    else if (p->done)
        p->done(a, p->ud, code, p->index, error);
    free(p->cmd);
    free(p);
}

/* Called after every step: settle what is applied, failed or overdue. */
static void settle(ag_agent *a, uint64_t now)
{
    struct ag_raft *R = a->raft;
    for (struct pending **pp = &R->pend; *pp;) {
        struct pending *p = *pp;
        if (p->index && p->index <= R->applied) {
            /* the entry at that index is ours only if its term is the one we proposed in
             * (forwarded replies are checked by the leader, term 0 here) */
            raft_term t = raft_term_at(R->r, p->index);
            uint32_t d = (uint32_t)(p->index % DENIED_RING);
            if (R->denied_index[d] == p->index) {
                char why[160];
                snprintf(why, sizeof why, "permission denied: the cluster refused the change when applying "
                         "it (%s)", ag_op_reason_name((ag_op_reason)R->denied_why[d]));
                resolve(a, pp, AG_EX_NOPERM, why);
            } else if (p->term && t && t != p->term)
                resolve(a, pp, AG_EX_QUORUM, "leadership changed before the request committed; retry");
            else
                resolve(a, pp, AG_EX_OK, NULL);
            continue;
        }
        if (now >= p->deadline) {
            resolve(a, pp, AG_EX_QUORUM, "no quorum: the request was not committed within 5 s "
                    "(are a majority of the voters up? see `drover status`)");
            continue;
        }
        pp = &p->next;
    }
}

/* ---- the step loop ---------------------------------------------------------------- */

static void send_msgs(ag_agent *a, const struct raft_update *up)
{
    struct ag_raft *R = a->raft;
    for (unsigned i = 0; i < up->n_msgs; i++) {
        struct raft_message *m = &up->msgs[i];
        const ag_member *to = member_of(a, m->to);
        if (!to)
            continue;
        uint8_t *chunk = NULL;
        if (m->type == RAFT_MSG_INSTALL_SNAPSHOT && !m->snapshot.data) {
            uint8_t *blob = NULL;
            size_t blen = 0;
            st_get(a->store, ST_DB_RAFT, "snapshot", 8, NULL, 0, &blen);
            blob = malloc(blen ? blen : 1);
            if (!blob || st_get(a->store, ST_DB_RAFT, "snapshot", 8, blob, blen, &blen) != 0 ||
                m->snapshot.offset + m->snapshot.len > blen) {
                free(blob);
                continue;
            }
            chunk = blob;
            m->snapshot.data = blob + m->snapshot.offset;
        }
        uint8_t *buf;
        size_t n;
        if (raft_codec_encode(m, &buf, &n) == RAFT_OK) {
            if (ag_net_send(a, to, DROVER__MSG_TYPE__MSG_RAFT, buf, n) == 0)
                R->msgs_sent++;
            free(buf);
        }
        free(chunk);
    }
}

static void handle(ag_agent *a, struct raft_update *up);
static void resend_pending(ag_agent *a);
static void take_snapshot(ag_agent *a, uint64_t index);

static void step(ag_agent *a, struct raft_event *ev)
{
    struct raft_update up;
    ev->now_ms = ag_now_ms();
    int rc = raft_step(a->raft->r, ev, &up);
    if (rc && rc != RAFT_ENOTLEADER)
        ag_debug("raft: step %u: %s", ev->type, raft_strerror(rc));
    handle(a, &up);
}

struct snapbuf {
    uint8_t *blob;
    size_t len;
};

struct snapwrite {
    struct snapbuf b;
    const struct raft_snapshot_meta *meta;
    uint64_t compact;
};

static int read_state(MDB_txn *t, const MDB_dbi *dbi, void *ctx)
{
    struct snapbuf *sb = ctx;
    return state_serialize(t, dbi[ST_DB_STATE], &sb->blob, &sb->len);
}

static int write_snap(MDB_txn *t, const MDB_dbi *dbi, void *ctx)
{
    struct snapwrite *w = ctx;
    int rc = put_blob(t, dbi[ST_DB_RAFT], "snapshot", w->b.blob, w->b.len);
    if (!rc)
        rc = snap_meta_put(t, dbi[ST_DB_RAFT], w->meta);
    if (!rc && w->compact)
        rc = log_delete(t, dbi[ST_DB_LOG], 0, w->compact);
    return rc;
}

static void take_snapshot(ag_agent *a, uint64_t index)
{
    struct ag_raft *R = a->raft;
    if (R->applied != index)
        return;   /* we apply synchronously, so this only happens after a failed apply */
    struct snapwrite w = {0};
    if (st_read(a->store, read_state, &w.b) != 0)
        return;
    struct raft_event ev = {.type = RAFT_EV_SNAPSHOT_TAKEN};
    ev.snapshot_taken.index = index;
    ev.snapshot_taken.size = w.b.len;
    struct raft_update up;
    ev.now_ms = ag_now_ms();
    raft_step(R->r, &ev, &up);
    /* the blob and its metadata are durable before the log below it may go */
    w.meta = raft_snapshot_of(R->r);
    w.compact = up.compact_upto;
    if (st_write(a->store, write_snap, &w) != 0)
        ag_warn("raft: could not store the snapshot at index %llu", (unsigned long long)index);
    up.compact_upto = 0;
    up.flags &= ~(unsigned)RAFT_UPD_SNAPSHOT_TAKE;
    free(w.b.blob);
    handle(a, &up);
}

struct persist_apply_ctx {
    struct persist_ctx *pc;
    struct apply_ctx *ac;
};

static int persist_apply_fn(MDB_txn *t, const MDB_dbi *dbi, void *ctx)
{
    struct persist_apply_ctx *c = ctx;
    int rc = persist_fn(t, dbi, c->pc);
    return rc ? rc : apply_fn(t, dbi, c->ac);
}

static void handle(ag_agent *a, struct raft_update *up)
{
    struct ag_raft *R = a->raft;
    bool need_persist = (up->flags & (RAFT_UPD_HARD_STATE | RAFT_UPD_SNAPSHOT_CHUNK |
                                      RAFT_UPD_SNAPSHOT_INSTALL | RAFT_UPD_LOG_TRUNCATE)) ||
                        up->n_append;
    struct apply_ctx ac = {a, up, R->applied, false};
    /* Entries to persist and entries to apply go in one transaction, one fsync: every
     * fsync here holds the loop, and with it lease traffic (docs/ha.md "Stalls").
     * Applying before the messages leave is fine: only committed entries are applied. */
    bool together = need_persist && up->n_apply && !(up->flags & RAFT_UPD_SNAPSHOT_INSTALL);
    if (need_persist) {
        struct persist_ctx pc = {up};
        struct persist_apply_ctx pac = {&pc, &ac};
        int rc = together ? st_write(a->store, persist_apply_fn, &pac) : st_write(a->store, persist_fn, &pc);
        if (rc) {
            /* nothing of this update may leave the host: stop rather than lie */
            ag_err("raft: cannot persist to %s: %s; stopping the agent so no vote or "
                   "acknowledgement goes out undurable", st_path(a->store), mdb_strerror(rc));
            ag_loop_stop(a->loop);
            return;
        }
        if (up->flags & RAFT_UPD_SNAPSHOT_INSTALL)
            R->applied = up->install.index;
    }
    send_msgs(a, up);
    if (up->n_apply) {
        if (!together)
            ac.applied = R->applied;   /* a snapshot install above may have moved it */
        int rc = together ? 0 : st_write(a->store, apply_fn, &ac);
        if (rc) {
            ag_err("raft: cannot apply to %s: %s; stopping", st_path(a->store), mdb_strerror(rc));
            ag_loop_stop(a->loop);
            return;
        }
        R->applied = ac.applied;
        if (ac.members_changed) {
            ag_members old = {0};
            old.v = malloc((a->members.n + 1) * sizeof *old.v);
            if (old.v) {
                memcpy(old.v, a->members.v, a->members.n * sizeof *old.v);
                old.n = a->members.n;
            }
            ag_net_members_changed(a);
            if (old.v)
                ag_gossip_meet_new(a, &old);
            free(old.v);
        }
        ag_ha_applied(a, R->applied);
    } else if (up->flags & RAFT_UPD_SNAPSHOT_INSTALL)
        ag_ha_applied(a, R->applied);   /* the whole state was replaced */
    bool leader_changed = up->leader != R->last_leader;
    if (leader_changed) {
        if (up->leader)
            ag_event(a, "raft", json_pack("{s:s,s:I}", "leader", name_of(a, up->leader), "term", (json_int_t)up->term),
                     "leader is %s (term %llu)%s", name_of(a, up->leader), (unsigned long long)up->term,
                     up->leader == ag_raft_id_of_host(a->id.host_id) ? " — this host coordinates" : "");
        R->last_leader = up->leader;
        R->leader_changes++;
    }
    bool persisted = up->n_append > 0;
    raft_index last = up->append_first + up->n_append - 1;
    raft_term last_term = persisted ? up->append[up->n_append - 1].term : 0;
    bool snap = up->flags & RAFT_UPD_SNAPSHOT_TAKE;
    raft_index snap_at = up->snapshot_take_index;
    settle(a, ag_now_ms());
    /* the update's buffers are dead from here on: every further step makes a new one */
    if (persisted) {
        struct raft_event ev = {.type = RAFT_EV_PERSISTED};
        ev.persisted.index = last;
        ev.persisted.term = last_term;
        step(a, &ev);
    }
    if (snap)
        take_snapshot(a, snap_at);
    if (leader_changed)
        resend_pending(a);
    ag_ha_leader(a, raft_role_of(R->r) == RAFT_LEADER, raft_term_of(R->r));
}

static int propose(ag_agent *a, struct pending *p, const uint8_t *cmd, size_t len);

/* Hand every local request that has no log index yet to the current leader: at submit
 * time, and again whenever the leader changes (the old one may have died with it). */
static void resend_pending(ag_agent *a)
{
    struct ag_raft *R = a->raft;
    raft_id leader = raft_leader_of(R->r), me = ag_raft_id_of_host(a->id.host_id);
    if (!leader || R->resending)
        return;
    R->resending = true;
    /* Proposing can commit, apply and resolve (free) any pending request, this one
     * included, so after each hand-over the scan starts again from the head; a request
     * is marked (sent_to) before it is handed over, so it is never picked twice. */
    for (;;) {
        uint64_t now = ag_now_ms();
        struct pending *p = R->pend;
        while (p && (p->forwarded_in || p->index || p->sent_to == leader || now < p->retry_at))
            p = p->next;
        if (!p)
            break;
        p->sent_to = leader;
        if (leader == me) {
            struct taken tk;
            char why[400];
            int deny = leader_gate(a, a->id.host_id, p->cmd, p->cmdlen, &tk, why, sizeof why);
            if (deny) {
                for (struct pending **pp = &R->pend; *pp; pp = &(*pp)->next)
                    if (*pp == p) {
                        resolve(a, pp, deny, why);
                        break;
                    }
                continue;
            }
            int code = propose(a, p, p->cmd, p->cmdlen);   /* p may be freed from here on */
            if (!code)
                take(a, &tk);
            if (code == AG_EX_QUORUM || code == AG_EX_TEMPFAIL) {
                struct pending *q = R->pend;
                while (q && q != p)
                    q = q->next;
                if (q) {   /* still pending: lost leadership or backlog, try again shortly */
                    q->sent_to = 0;
                    q->retry_at = now + RETRY_BACKOFF_MS;
                }
                break;     /* leadership changed under us: the next tick rescans */
            } else if (code) {
                for (struct pending **pp = &R->pend; *pp; pp = &(*pp)->next)
                    if (*pp == p) {
                        resolve(a, pp, code, "the coordinator refused the request");
                        break;
                    }
            }
        } else if (member_of(a, leader)) {
            Drover__Forward f = DROVER__FORWARD__INIT;
            f.req_id = p->req_id;
            f.command.data = p->cmd;
            f.command.len = p->cmdlen;
            uint8_t *buf = malloc(drover__forward__get_packed_size(&f));
            if (buf) {
                size_t n = drover__forward__pack(&f, buf);
                ag_net_send(a, member_of(a, leader), DROVER__MSG_TYPE__MSG_FORWARD, buf, n);
                free(buf);
            }
        }
    }
    R->resending = false;
}

/* On the coordinator: ask ha/autopilot for the next membership change and make it. */
static void autopilot(ag_agent *a, uint64_t now)
{
    struct ag_raft *R = a->raft;
    if (raft_role_of(R->r) != RAFT_LEADER || now < R->next_autopilot_ms || a->cfg.roster[0])
        return;   /* a static roster fixes the configuration by design */
    R->next_autopilot_ms = now + AUTOPILOT_PERIOD_MS;
    struct ha_ap_member *m = calloc(a->members.n ? a->members.n : 1, sizeof *m);
    if (!m)
        return;
    for (size_t i = 0; i < a->members.n; i++) {
        m[i].id = ag_raft_id_of_host(a->members.v[i].id);
        m[i].alive = 1;
        snprintf(m[i].domain, sizeof m[i].domain, "%s", a->members.v[i].domain);
        ag_gossip_health(a, a->members.v[i].id, &m[i].alive, &m[i].dead_since_ms);
    }
    struct ha_ap_change ch;
    if (ha_autopilot(raft_config_of(R->r), ag_raft_id_of_host(a->id.host_id), m, a->members.n,
                     (unsigned)a->cfg.voters, AUTOPILOT_GRACE_MS, now, &ch)) {
        struct raft_event ev = {.type = RAFT_EV_CHANGE};
        ev.change.id = ch.id;
        ev.change.role = ch.role;
        struct raft_update up;
        ev.now_ms = now;
        int rc = raft_step(R->r, &ev, &up);
        if (rc == RAFT_OK)
            ag_event(a, "voters", NULL, "%s %s [%016llx] (%s)", ch.role == 0 ? "removing" : ch.role == RAFT_VOTER ? "promoting to voter"
                                                                            : "making learner",
                    name_of(a, ch.id), (unsigned long long)ch.id, ch.reason);
        handle(a, &up);
    }
    free(m);
}

static void on_tick(ag_loop *l, ag_id id, void *ud)
{
    (void)l; (void)id;
    ag_agent *a = ud;
    struct raft_event ev = {.type = RAFT_EV_TICK};
    step(a, &ev);
    autopilot(a, ag_now_ms());
    resend_pending(a);
}

/* ---- requests -------------------------------------------------------------------- */

/* An admission re-encoded with this leader's wall clock as admit.now_ms (malloc'd), or
 * NULL for any other command: apply compares the token's expiry with the clock of the
 * host that orders the entry, not with the joiner-facing host's, which may be skewed or
 * be the very member trying to stretch a token's life. */
static uint8_t *admit_stamped(const uint8_t *cmd, size_t len, size_t *outlen)
{
    Drover__Command *c = drover__command__unpack(NULL, len, cmd);
    uint8_t *out = NULL;
    if (c && c->op == DROVER__COMMAND_OP__CMD_ADMIT && c->admit) {
        c->admit->now_ms = ag_wall_ms();
        *outlen = drover__command__get_packed_size(c);
        if ((out = malloc(*outlen ? *outlen : 1)) != NULL)
            drover__command__pack(c, out);
    }
    if (c)
        drover__command__free_unpacked(c, NULL);
    return out;
}

/* Propose on the leader; fills p->index/term. Returns 0 or an ag_exit code. */
static int propose(ag_agent *a, struct pending *p, const uint8_t *cmd, size_t len)
{
    struct raft_event ev = {.type = RAFT_EV_PROPOSE};
    size_t slen = 0;
    uint8_t *stamped = admit_stamped(cmd, len, &slen);
    ev.propose.buf = stamped ? stamped : cmd;
    ev.propose.len = (uint32_t)(stamped ? slen : len);
    struct raft_update up;
    ev.now_ms = ag_now_ms();
    int rc = raft_step(a->raft->r, &ev, &up);
    free(stamped);
    if (rc == RAFT_OK) {
        p->index = up.proposed_index;
        p->term = up.proposed_term;
    }
    handle(a, &up);
    if (rc == RAFT_ENOTLEADER)
        return AG_EX_QUORUM;
    if (rc == RAFT_EBUSY)
        return AG_EX_TEMPFAIL;
    return rc ? AG_EX_ERROR : 0;
}

void ag_raft_submit_cmd(ag_agent *a, Drover__Command *c, ag_raft_done_fn done, void *ud)
{
    struct ag_raft *R = a->raft;
    if (!R) {
        done(a, ud, AG_EX_UNAVAILABLE, 0, "this agent is not part of a cluster yet "
             "(`drover init` bootstraps one, `drover join` joins one)");
        return;
    }
    if (R->npend >= RAFT_PENDING_MAX) {
        done(a, ud, AG_EX_TEMPFAIL, 0, "too many requests in flight on this host; retry");
        return;
    }
    struct pending *p = calloc(1, sizeof *p);
    if (!p) {
        done(a, ud, AG_EX_ERROR, 0, "out of memory");
        return;
    }
    p->req_id = (a->epoch << 32) | ++R->next_req;
    c->origin.data = a->id.host_id;
    c->origin.len = AG_HOST_ID_LEN;
    c->req_id = p->req_id;
    p->cmdlen = drover__command__get_packed_size(c);
    p->cmd = malloc(p->cmdlen ? p->cmdlen : 1);
    if (!p->cmd) {
        free(p);
        done(a, ud, AG_EX_ERROR, 0, "out of memory");
        return;
    }
    drover__command__pack(c, p->cmd);
    p->deadline = ag_now_ms() + RAFT_REQUEST_TIMEOUT_MS;
    p->done = done;
    p->ud = ud;
    p->next = R->pend;
    R->pend = p;
    R->npend++;
    /* with no known leader the request waits: resend_pending runs when one appears */
    resend_pending(a);
}

void ag_raft_submit(ag_agent *a, int op, const char *key, const void *val, size_t vlen,
                    ag_raft_done_fn done, void *ud)
{
    Drover__Command c = DROVER__COMMAND__INIT;
    c.op = (Drover__CommandOp)op;
    c.key = (char *)key;
    c.value.data = (uint8_t *)val;
    c.value.len = vlen;
    ag_raft_submit_cmd(a, &c, done, ud);
}

void ag_raft_submit_admin(ag_agent *a, const ag_admin *ad, int op, const char *key, const void *val,
                          size_t vlen, ag_raft_done_fn done, void *ud)
{
    Drover__Command c = DROVER__COMMAND__INIT;
    Drover__AdminAuth auth;
    c.op = (Drover__CommandOp)op;
    c.key = (char *)key;
    c.value.data = (uint8_t *)val;
    c.value.len = vlen;
    ag_admin_attach(ad, &c, &auth);
    ag_raft_submit_cmd(a, &c, done, ud);
}

int ag_raft_forward_decode(const uint8_t *buf, size_t len, const uint8_t sender[AG_HOST_ID_LEN],
                           Drover__Forward **fp, Drover__Command **cp)
{
    *fp = NULL;
    *cp = NULL;
    Drover__Forward *f = drover__forward__unpack(NULL, len, buf);
    if (!f)
        return -EBADMSG;
    if (f->is_reply) {
        *fp = f;
        return 0;
    }
    Drover__Command *c = drover__command__unpack(NULL, f->command.len, f->command.data);
    bool shape_ok = c && (c->op == DROVER__COMMAND_OP__CMD_ADMIT ? c->admit != NULL
                                                                 : (c->key && c->key[0]));
    if (!shape_ok || c->origin.len != AG_HOST_ID_LEN || memcmp(c->origin.data, sender, AG_HOST_ID_LEN) != 0) {
        if (c)
            drover__command__free_unpacked(c, NULL);
        drover__forward__free_unpacked(f, NULL);
        return -EBADMSG;
    }
    *fp = f;
    *cp = c;
    return 0;
}

void ag_raft_forward(ag_agent *a, const ag_opened *o)
{
    struct ag_raft *R = a->raft;
    if (!R)
        return;
    Drover__Forward *f;
    Drover__Command *c;
    if (ag_raft_forward_decode(o->payload, o->payload_len, o->sender, &f, &c) != 0) {
        a->rejected_payload++;   /* garbage, or a member forwarding another's request */
        return;
    }
    if (f->is_reply) {
        for (struct pending **pp = &R->pend; *pp; pp = &(*pp)->next) {
            struct pending *p = *pp;
            if (p->req_id != f->req_id || p->forwarded_in)
                continue;
            if (f->code == AG_EX_TEMPFAIL) {
                /* the leader could not take it just now (leadership moving, backlog):
                 * the request keeps its deadline and is handed over again shortly */
                p->sent_to = 0;
                p->retry_at = ag_now_ms() + RETRY_BACKOFF_MS;
            } else if (f->code)
                resolve(a, pp, f->code, f->error);
            else {
                p->index = f->index;   /* now wait until applied here too */
                settle(a, ag_now_ms());
            }
            break;
        }
    } else {
        if (R->npend >= RAFT_PENDING_MAX) {
            send_forward_reply(a, o->sender, f->req_id, 0, AG_EX_TEMPFAIL, "coordinator busy; retry");
        } else {
            struct taken tk;
            char why[400];
            int deny = leader_gate(a, o->sender, f->command.data, f->command.len, &tk, why, sizeof why);
            struct pending *p = deny ? NULL : calloc(1, sizeof *p);
            if (deny)
                send_forward_reply(a, o->sender, f->req_id, 0, deny, why);
            if (p) {
                p->req_id = f->req_id;
                p->forwarded_in = 1;
                memcpy(p->origin, o->sender, AG_HOST_ID_LEN);
                p->deadline = ag_now_ms() + RAFT_REQUEST_TIMEOUT_MS;
                p->next = R->pend;
                R->pend = p;
                R->npend++;
                int code = propose(a, p, f->command.data, f->command.len);
                if (!code)
                    take(a, &tk);
                if (code) {
                    for (struct pending **pp = &R->pend; *pp; pp = &(*pp)->next)
                        if (*pp == p) {
                            /* leadership moved or backlog: the origin retries within its budget */
                            resolve(a, pp, AG_EX_TEMPFAIL, raft_leader_of(R->r) ? "busy" : "no leader");
                            break;
                        }
                }
            }
        }
        drover__command__free_unpacked(c, NULL);
    }
    drover__forward__free_unpacked(f, NULL);
}

void ag_raft_recv(ag_agent *a, const ag_opened *o)
{
    struct ag_raft *R = a->raft;
    if (!R)
        return;
    struct raft_wire w;
    char why[128];
    if (raft_codec_decode(o->payload, o->payload_len, &w, why, sizeof why) != RAFT_OK) {
        a->rejected_payload++;
        R->msgs_bad++;
        ag_debug("raft: bad message: %s", why);
        return;
    }
    if (w.m.from != ag_raft_id_of_host(o->sender) || w.m.to != ag_raft_id_of_host(a->id.host_id)) {
        a->rejected[-AG_ENV_E_MISMATCH]++;
    } else {
        struct raft_event ev = {.type = RAFT_EV_RECEIVE};
        ev.receive = w.m;
        step(a, &ev);
    }
    raft_wire_free(&w);
}

/* ---- control socket: state.put / state.get ------------------------------------------- */

struct put_req {
    ag_ctl_req *req;
    int closed;
    ag_admin *ad;
};

static void put_done(ag_agent *a, void *ud, int code, uint64_t index, const char *error)
{
    struct put_req *pr = ud;
    ag_admin_end(a, pr->ad, code, index, "key written", error);
    if (!pr->closed)
        ag_ctl_finish(pr->req, code, code ? NULL : json_pack("{s:I}", "index", (json_int_t)index),
                      "%s", error ? error : "");
    free(pr);
}

static void put_closed(ag_ctl_req *req, void *ud)
{
    (void)req;
    ((struct put_req *)ud)->closed = 1;   /* the request still commits; nobody to tell */
}

static void ctl_put(ag_ctl_req *req, json_t *args, void *ud)
{
    ag_agent *a = ud;
    const char *key = json_string_value(json_object_get(args, "key"));
    const char *val = json_string_value(json_object_get(args, "value"));
    int del = json_is_true(json_object_get(args, "delete"));
    if (!key || !key[0] || (!val && !del)) {
        ag_ctl_finish(req, AG_EX_INVALID, NULL, "state.put needs key and value (or delete)");
        return;
    }
    if (strncmp(key, "ha/", 3) == 0) {
        ag_ctl_finish(req, AG_EX_INVALID, NULL, "keys under ha/ hold the HA state and change only by "
                      "drover host/vm/upgrade commands");
        return;
    }
    ag_admin *ad;
    if (ag_admin_begin(a, req, "state.put", args, &ad) != 0)
        return;
    struct put_req *pr = calloc(1, sizeof *pr);
    pr->req = req;
    pr->ad = ad;
    ag_ctl_on_close(req, put_closed, pr);
    ag_raft_submit_admin(a, ad, del ? DROVER__COMMAND_OP__CMD_DEL : DROVER__COMMAND_OP__CMD_PUT, key,
                         val, val ? strlen(val) : 0, put_done, pr);
}

static void ctl_get(ag_ctl_req *req, json_t *args, void *ud)
{
    ag_agent *a = ud;
    const char *key = json_string_value(json_object_get(args, "key"));
    if (!key) {
        ag_ctl_finish(req, AG_EX_INVALID, NULL, "state.get needs a key");
        return;
    }
    char val[4096];
    size_t len;
    int rc = st_get(a->store, ST_DB_STATE, key, strlen(key), val, sizeof val - 1, &len);
    if (rc == MDB_NOTFOUND) {
        ag_ctl_finish(req, AG_EX_NOSUCH, NULL, "no key '%s' in the replicated state", key);
        return;
    }
    val[len < sizeof val ? len : sizeof val - 1] = 0;
    ag_ctl_finish(req, rc ? AG_EX_IOERR : 0, rc ? NULL : json_pack("{s:s,s:s}", "key", key, "value", val),
                  rc ? "cannot read the store" : NULL);
}

uint64_t ag_raft_term(const ag_agent *a)
{
    return a->raft ? raft_term_of(a->raft->r) : 0;
}

uint64_t ag_raft_applied(const ag_agent *a)
{
    return a->raft ? a->raft->applied : 0;
}

uint64_t ag_raft_commit(const ag_agent *a)
{
    return a->raft ? raft_commit_of(a->raft->r) : 0;
}

const ag_member *ag_raft_leader_member(ag_agent *a)
{
    raft_id l = a->raft ? raft_leader_of(a->raft->r) : 0;
    return l ? member_of(a, l) : NULL;
}

bool ag_raft_lead_vouch(ag_agent *a, uint64_t *term, uint64_t *until_ms)
{
    struct ag_raft *R = a->raft;
    if (!R || raft_role_of(R->r) != RAFT_LEADER)
        return false;
    *term = raft_term_of(R->r);
    uint64_t q = raft_quorum_contact_ms(R->r), limit = raft_vouch_limit_ms(R->r);
    uint64_t until = q ? q + (uint64_t)a->cfg.election_timeout_ms / 2 : 0;
    *until_ms = until < limit ? until : limit;
    return true;
}

/* The operator credential's counters: refusals by reason at this host's leader door and
 * on apply (docs/security.md "Operator credential"). */
static json_t *admin_json(const struct ag_raft *R)
{
    json_t *gate = json_object(), *apply = json_object();
    for (int r = 1; r < AG_OPR__N; r++) {
        json_object_set_new(gate, ag_op_reason_name((ag_op_reason)r), json_integer((json_int_t)R->gate_refused[r]));
        json_object_set_new(apply, ag_op_reason_name((ag_op_reason)r), json_integer((json_int_t)R->apply_refused[r]));
    }
    return json_pack("{s:I,s:o,s:o}", "grants_applied", (json_int_t)R->grants_applied,
                     "refused_at_leader", gate, "refused_on_apply", apply);
}

json_t *ag_raft_status_json(ag_agent *a)
{
    struct ag_raft *R = a->raft;
    if (!R)
        return NULL;
    const struct raft_configuration *c = raft_config_of(R->r);
    json_t *voters = json_array(), *learners = json_array(), *lag = json_object();
    bool leader = raft_role_of(R->r) == RAFT_LEADER;
    for (unsigned i = 0; c && i < c->n; i++) {
        const char *n = name_of(a, c->servers[i].id);
        json_array_append_new(c->servers[i].role == RAFT_VOTER ? voters : learners, json_string(n));
        if (leader)
            json_object_set_new(lag, n, json_integer((json_int_t)(raft_last_index(R->r) -
                                                                  raft_match_of(R->r, c->servers[i].id))));
    }
    json_t *j = json_pack("{s:s,s:I,s:s,s:I,s:I,s:I,s:I,s:o,s:o,s:I,s:I}",
        "role", raft_role_name(raft_role_of(R->r)), "term", (json_int_t)raft_term_of(R->r),
        "leader", name_of(a, raft_leader_of(R->r)), "commit", (json_int_t)raft_commit_of(R->r),
        "applied", (json_int_t)R->applied, "last_index", (json_int_t)raft_last_index(R->r),
        "snapshot_index", (json_int_t)raft_snapshot_index(R->r),
        "voters", voters, "learners", learners,
        "leader_changes", (json_int_t)R->leader_changes, "anomalies", (json_int_t)raft_anomalies(R->r));
    if (leader)
        json_object_set_new(j, "lag", lag);
    else
        json_decref(lag);
    /* messages the core refused by reason (ha/raft.c, "who may send what") */
    const struct raft_stats *s = raft_stats_of(R->r);
    json_object_set_new(j, "refused", json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
        "not_member", (json_int_t)s->dropped_not_member, "not_voter", (json_int_t)s->dropped_not_voter,
        "term_bound", (json_int_t)s->dropped_term_bound, "bad_term", (json_int_t)s->dropped_bad_term,
        "misaddressed", (json_int_t)s->dropped_misaddressed,
        "campaigns_at_term_max", (json_int_t)s->campaigns_refused,
        "accepted_vouched", (json_int_t)s->accepted_vouched));
    json_object_set_new(j, "admin", admin_json(R));
    return j;
}

/* ---- start / stop ------------------------------------------------------------------- */

struct loadctx {
    uint64_t term, vote, applied;
    struct raft_snapshot_meta snap;
    int have_snap;
    struct raft_entry *e;
    uint8_t **bufs;
    unsigned n, cap;
    uint64_t first;
};

static int load_fn(MDB_txn *t, const MDB_dbi *dbi, void *ctx)
{
    struct loadctx *l = ctx;
    MDB_dbi R = dbi[ST_DB_RAFT];
    get_u64(t, R, "term", &l->term);
    get_u64(t, R, "vote", &l->vote);
    get_u64(t, R, "applied_index", &l->applied);
    MDB_val k = {9, "snap_meta"}, v;
    if (mdb_get(t, R, &k, &v) == 0 && v.mv_size >= 24) {
        l->snap.index = getu64(v.mv_data);
        l->snap.term = getu64((uint8_t *)v.mv_data + 8);
        l->snap.size = getu64((uint8_t *)v.mv_data + 16);
        if (raft_config_decode((uint8_t *)v.mv_data + 24, v.mv_size - 24, &l->snap.config) != 0)
            return MDB_CORRUPTED;
        l->have_snap = 1;
    }
    MDB_cursor *c;
    int rc = mdb_cursor_open(t, dbi[ST_DB_LOG], &c);
    if (rc)
        return rc;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 8 || v.mv_size < 9) {
            rc = MDB_CORRUPTED;
            break;
        }
        uint64_t idx = getu64(k.mv_data);
        if (l->n == 0)
            l->first = idx;
        else if (idx != l->first + l->n) {
            rc = MDB_CORRUPTED;   /* a hole in the log */
            break;
        }
        if (l->n == l->cap) {
            l->cap = l->cap ? l->cap * 2 : 256;
            l->e = realloc(l->e, l->cap * sizeof *l->e);
            l->bufs = realloc(l->bufs, l->cap * sizeof *l->bufs);
            if (!l->e || !l->bufs) {
                rc = ENOMEM;
                break;
            }
        }
        size_t len = v.mv_size - 9;
        l->bufs[l->n] = malloc(len ? len : 1);
        memcpy(l->bufs[l->n], (uint8_t *)v.mv_data + 9, len);
        l->e[l->n] = (struct raft_entry){.term = getu64(v.mv_data), .type = ((uint8_t *)v.mv_data)[8],
                                         .len = (uint32_t)len, .buf = l->bufs[l->n]};
        l->n++;
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static int cmp_member(const void *x, const void *y)
{
    raft_id a = ag_raft_id_of_host(((const ag_member *)x)->id), b = ag_raft_id_of_host(((const ag_member *)y)->id);
    return a < b ? -1 : a > b;
}

/* A bootstrap PUT entry (term 1, no origin, no grant: apply_gate lets these through). */
static struct raft_entry boot_put(const char *key, const void *val, size_t vlen, uint8_t **cbuf)
{
    Drover__Command c = DROVER__COMMAND__INIT;
    c.op = DROVER__COMMAND_OP__CMD_PUT;
    c.key = (char *)key;
    c.value.data = (uint8_t *)val;
    c.value.len = vlen;
    size_t cl = drover__command__get_packed_size(&c);
    *cbuf = malloc(cl);
    if (*cbuf)
        drover__command__pack(&c, *cbuf);
    return (struct raft_entry){.term = 1, .type = RAFT_ENTRY_COMMAND, .len = *cbuf ? (uint32_t)cl : 0, .buf = *cbuf};
}

/* Entries 2.. of a new cluster: this host's member record, then the operator's public
 * key that `drover init` left in the store (none: no admin change is possible, said
 * loudly). Returns the number of entries including entry 1 (the configuration). */
static unsigned boot_entries(ag_agent *a, struct raft_entry *e, uint8_t **cbufs)
{
    const ag_member *self = ag_members_find(&a->members, a->id.host_id);
    Drover__Member mp;
    ag_member_self_pb(&a->id, self->name, self->addr, a->cfg.failure_domain, &mp);
    size_t ml = drover__member__get_packed_size(&mp);
    uint8_t *mbuf = malloc(ml ? ml : 1);
    if (mbuf)
        drover__member__pack(&mp, mbuf);
    char key[sizeof AG_OP_STATE_PREFIX + AG_FPR_STRLEN + AG_HOST_ID_HEXLEN];
    memcpy(key, "member/", 7);
    ag_hex(a->id.host_id, AG_HOST_ID_LEN, key + 7);
    e[1] = boot_put(key, mbuf, mbuf ? ml : 0, &cbufs[1]);
    free(mbuf);
    uint8_t pk[32];
    size_t len = 0;
    if (st_get(a->store, ST_DB_META, "operator_pk", 11, pk, sizeof pk, &len) != 0 || len != 32) {
        ag_warn("cluster created without an operator key (this store was made by an older `drover init`): "
                "no admin change will be possible; create the cluster again with `drover init`");
        return 2;
    }
    memcpy(key, AG_OP_STATE_PREFIX, sizeof AG_OP_STATE_PREFIX - 1);
    ag_fingerprint(pk, key + sizeof AG_OP_STATE_PREFIX - 1);
    e[2] = boot_put(key, pk, sizeof pk, &cbufs[2]);
    return 3;
}

int ag_raft_start(ag_agent *a, enum ag_raft_boot boot, char *err, size_t errlen)
{
    struct ag_raft *R = calloc(1, sizeof *R);
    if (!R)
        return AG_EX_OSERR;
    struct raft_opts o;
    raft_id me = ag_raft_id_of_host(a->id.host_id);
    raft_opts_default(&o, me, a->epoch * 0x9E3779B97F4A7C15ull ^ me);
    o.election_timeout_ms = (uint32_t)a->cfg.election_timeout_ms;
    o.heartbeat_ms = (uint32_t)a->cfg.heartbeat_ms;
    o.snapshot_threshold = (uint32_t)a->cfg.snapshot_every;
    /* keep a quarter of a snapshot's worth of log for followers that are only a little
     * behind (they catch up from the log, cheaper than a snapshot), at most the default */
    if (o.snapshot_trailing > o.snapshot_threshold / 4)
        o.snapshot_trailing = o.snapshot_threshold / 4;
    R->r = raft_new(&o);
    if (!R->r) {
        snprintf(err, errlen, "invalid Raft timings: [ha] heartbeat must be well below election_timeout");
        free(R);
        return AG_EX_CONFIG;
    }
    struct loadctx l = {0};
    int rc = st_read(a->store, load_fn, &l);
    int ex = 0;
    if (rc) {
        snprintf(err, errlen, "cannot load the Raft log from %s: %s", st_path(a->store), mdb_strerror(rc));
        ex = AG_EX_DATAERR;
    } else if (!l.have_snap && l.n == 0 && l.term == 0 && boot != AG_RAFT_BOOT_JOIN) {
        /* brand-new: every host derives the same bootstrap entries */
        struct raft_configuration conf = {0};
        struct raft_entry e[BOOTSTRAP_ENTRIES];
        unsigned ne = 1;
        uint8_t buf[RAFT_CONFIG_ENCODED_MAX], *cbufs[BOOTSTRAP_ENTRIES] = {0};
        if (boot == AG_RAFT_BOOT_ROSTER) {
            ag_member *sorted = malloc(a->members.n * sizeof *sorted);
            memcpy(sorted, a->members.v, a->members.n * sizeof *sorted);
            qsort(sorted, a->members.n, sizeof *sorted, cmp_member);
            for (size_t i = 0; i < a->members.n && i < RAFT_SERVERS_MAX; i++)
                conf.servers[conf.n++] = (struct raft_server){
                    ag_raft_id_of_host(sorted[i].id), (uint8_t)(i < (size_t)a->cfg.voters ? RAFT_VOTER : RAFT_LEARNER)};
            free(sorted);
        } else {
            /* a new cluster: this host alone, its own member record as entry 2 so every
             * host that later replays the log learns it like any other admission, and
             * the operator key `drover init` made as entry 3 */
            conf.servers[conf.n++] = (struct raft_server){ag_raft_id_of_host(a->id.host_id), RAFT_VOTER};
            ne = boot_entries(a, e, cbufs);
        }
        raft_bootstrap_entry(&conf, buf, &e[0]);
        struct raft_update fake = {.n_append = ne, .append_first = 1, .append = e};
        struct persist_ctx pc = {&fake};
        rc = st_write(a->store, persist_fn, &pc);
        if (rc == 0)
            rc = raft_load(R->r, 0, 0, NULL, 1, e, ne);
        for (unsigned i = 0; i < BOOTSTRAP_ENTRIES; i++)
            free(cbufs[i]);
        if (rc) {
            snprintf(err, errlen, "cannot bootstrap the Raft log: %s", rc > 0 ? mdb_strerror(rc) : raft_strerror(rc));
            ex = AG_EX_OSERR;
        }
    } else {
        rc = raft_load(R->r, l.term, l.vote, l.have_snap ? &l.snap : NULL, l.first, l.e, l.n);
        if (rc) {
            snprintf(err, errlen, "the Raft state in %s does not load: %s", st_path(a->store), raft_strerror(rc));
            ex = AG_EX_DATAERR;
        }
    }
    for (unsigned i = 0; i < l.n; i++)
        free(l.bufs[i]);
    free(l.bufs);
    free(l.e);
    if (ex) {
        raft_free(R->r);
        free(R);
        return ex;
    }
    R->applied = l.applied;
    R->nonces = calloc(1, sizeof *R->nonces);
    if (!R->nonces) {
        raft_free(R->r);
        free(R);
        return AG_EX_OSERR;
    }
    a->raft = R;
    ag_admin_register(a);
    ag_ctl_register(a->ctl, "state.put", ctl_put, a);
    ag_ctl_register(a->ctl, "state.get", ctl_get, a);
    R->tick = ag_loop_timer(a->loop, RAFT_TICK_MS, RAFT_TICK_MS, on_tick, a);
    ag_loop_set_label(a->loop, R->tick, "raft.tick");
    return 0;
}

void ag_raft_stop(ag_agent *a)
{
    struct ag_raft *R = a->raft;
    if (!R)
        return;
    ag_loop_cancel(a->loop, R->tick);
    while (R->pend)
        resolve(a, &R->pend, AG_EX_UNAVAILABLE, "the agent is stopping");
    raft_free(R->r);
    free(R->nonces);
    free(R);
    a->raft = NULL;
}
