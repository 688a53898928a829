/* net.c — see net.h. */
#include "net.h"
#include "exitcodes.h"
#include "gossip_drv.h"
#include "ha_drv.h"
#include "events.h"
#include "log.h"
#include "raft_drv.h"
#include "restore.h"
#include "transport.h"
#include "drover.pb-c.h"
#include "state.pb-c.h"

#include <endian.h>
#include <sodium.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

/* ---- epoch notices (restore.h) ----------------------------------------------------- */

static const char *member_name(ag_agent *a, const uint8_t id[AG_HOST_ID_LEN])
{
    const ag_member *m = ag_members_find(&a->members, id);
    return m ? m->name : "an unknown member";
}

static int save_proofs_fn(MDB_txn *t, const MDB_dbi *dbi, void *ctx);

/* Persist proofs that show a member's new epoch (once per start of that member), so
 * that our own restart still refuses its older self. Batched into one write a second at
 * most: the receive path must not wait behind an fsync per member when a whole cluster
 * starts; a crash before the write only loses the newest epoch, the older one holds. */
static void save_proofs(ag_agent *a, const ag_peer *p)
{
    ag_peers *ps = &a->peers;
    if (p && p->proof_len && p->proof_epoch > p->saved_epoch)
        ps->proofs_dirty = true;
    uint64_t now = ag_now_ms();
    if (!ps->proofs_dirty || now < ps->proofs_saved_ms + AG_RESTORE_NOTICE_MS)
        return;
    ps->proofs_saved_ms = now;
    if (st_write(a->store, save_proofs_fn, ps) != 0)
        return;   /* tried again with the next message */
    ps->proofs_dirty = false;
    for (size_t i = 0; i < ps->n; i++)
        if (ps->v[i].proof_len)
            ps->v[i].saved_epoch = ps->v[i].proof_epoch;
}

/* ag_env_open refused an envelope that `sender` signed with rc: when that says its epoch
 * went back, show it the proof of what we have seen from it. */
static void epoch_notice_send(ag_agent *a, const uint8_t sender[AG_HOST_ID_LEN], int rc)
{
    ag_peer *p = ag_peers_find(&a->peers, sender);
    const ag_member *m = ag_members_find(&a->members, sender);
    switch (ag_restore_notice(rc, m ? p : NULL, ag_now_ms())) {
    case AG_NOTICE_NONE:
        return;
    case AG_NOTICE_HELD:
        a->peers.notices_held++;
        return;
    case AG_NOTICE_SEND:
        break;
    }
    a->peers.notices_sent++;
    ag_info("net: refused %s from %s; showing it the newest we accepted from it (epoch %llu "
            "seq %llu): it stops if its state went back", ag_env_errname(rc), m->name,
            (unsigned long long)p->proof_epoch, (unsigned long long)p->proof_seq);
    ag_net_send(a, m, DROVER__MSG_TYPE__MSG_EPOCH_NOTICE, p->proof, p->proof_len);
}

/* Proven stale: refuse everything from now on, remember it, and stop (daemon.c exits
 * with AG_EX_OLD_STATE). No freeze request or leave: nothing we send is believed, and
 * the VMs here are left as they are. */
static void stale_stop(ag_agent *a, uint64_t seen_epoch, uint64_t seen_seq,
                       const uint8_t by[AG_HOST_ID_LEN])
{
    char msg[2048];
    a->sealer.stale = true;
    ag_restore_message(msg, sizeof msg, a->cfg.name, a->cfg.state_dir, a->epoch, seen_epoch,
                       seen_seq, member_name(a, by));
    ag_err("%s", msg);
    if (st_put(a->store, ST_DB_META, AG_RESTORE_MARK, strlen(AG_RESTORE_MARK), msg, strlen(msg)) != 0)
        ag_warn("cannot record the verdict in %s: a later start finds it out again", st_path(a->store));
    ag_event(a, "security", json_pack("{s:I,s:I,s:s}", "epoch", (json_int_t)a->epoch, "seen_epoch",
             (json_int_t)seen_epoch, "seen_by", member_name(a, by)), "%s", msg);
    sd_notifyf(0, "STATUS=refused: state dir older than the cluster has seen (restored?)");
    ag_loop_stop(a->loop);
}

/* A member shows us an envelope of ours: judge it (restore.h). */
static void epoch_notice_recv(ag_agent *a, const ag_opened *o)
{
    uint64_t e, q;
    ag_sealer *s = &a->sealer;
    if (ag_env_verify_own(&a->id, a->members.cluster_id, o->payload, o->payload_len, &e, &q) != 0) {
        s->notices_bad++;
        ag_warn("net: %s sent an epoch notice that is not our own signature: ignored",
                member_name(a, o->sender));
        return;
    }
    if (ag_restore_judge(s->epoch, s->seq, e, q) == AG_RESTORE_BENIGN) {
        s->notices_benign++;
        ag_debug("net: epoch notice from %s (epoch %llu seq %llu) is consistent with ours",
                 member_name(a, o->sender), (unsigned long long)e, (unsigned long long)q);
        return;
    }
    s->notices_stale++;
    stale_stop(a, e, q, o->sender);
}

static void dispatch(ag_agent *a, ag_opened *o)
{
    switch (o->type) {
    case DROVER__MSG_TYPE__MSG_GOSSIP:
        ag_gossip_recv(a, o);
        break;
    case DROVER__MSG_TYPE__MSG_RAFT:
        ag_raft_recv(a, o);
        break;
    case DROVER__MSG_TYPE__MSG_FORWARD:
        ag_raft_forward(a, o);
        break;
    case DROVER__MSG_TYPE__MSG_COMMAND:
        ag_ha_recv(a, o);
        break;
    case DROVER__MSG_TYPE__MSG_EPOCH_NOTICE:
        epoch_notice_recv(a, o);
        break;
    default:
        a->rejected_payload++;
        ag_debug("net: no handler for message type %u", o->type);
        break;
    }
}

static void on_recv(void *ud, const uint8_t sender[AG_HOST_ID_LEN], const uint8_t *bytes, size_t len)
{
    ag_agent *a = ud;
    if (a->sealer.stale)
        return;   /* refused (restore.h): no Raft, gossip or command is heard any more */
    ag_opened o;
    int rc = ag_env_open(&a->peers, a->members.cluster_id, sender, bytes, len, &o);
    if (rc != AG_ENV_OK) {
        a->rejected[-rc]++;
        ag_debug("net: dropped message: %s", ag_env_strerror(rc));
        epoch_notice_send(a, sender, rc);
        return;
    }
    save_proofs(a, ag_peers_find(&a->peers, o.sender));
    dispatch(a, &o);
    ag_env_release(&o);
}

int ag_net_send(ag_agent *a, const ag_member *m, uint32_t type, const void *payload, size_t len)
{
    if (a->sealer.stale)
        return -EPERM;   /* refused (restore.h): no vote, ack or command leaves */
    uint8_t *buf;
    size_t n;
    int rc = ag_env_seal(&a->sealer, type, payload, len, ag_wall_ms(), &buf, &n);
    if (rc != AG_ENV_OK)
        return rc;
    rc = tp_send(a->tp, m->addr, m->curve_pk, buf, n);
    free(buf);
    return rc;
}

/* ---- member table ------------------------------------------------------------------ */

/* Admit m's signing key; a member new to the table resumes from the proof kept before
 * our last stop (restore.h), so an older self of it stays refused across our restarts. */
static int peer_add(ag_agent *a, const ag_member *m)
{
    bool fresh = !ag_peers_find(&a->peers, m->id);
    int rc = ag_peers_put(&a->peers, m->id, m->sign_pk);
    if (rc != 0 || !fresh)
        return rc;
    uint8_t buf[AG_ENV_PROOF_MAX];
    size_t len = 0;
    if (st_get(a->store, ST_DB_PEERS, m->id, AG_HOST_ID_LEN, buf, sizeof buf, &len) == 0 &&
        len <= sizeof buf && ag_peer_load_proof(ag_peers_find(&a->peers, m->id),
                                                a->members.cluster_id, buf, len) != 0)
        ag_warn("net: the kept epoch proof of %s does not verify: ignored", m->name);
    return 0;
}

/* Write members' proofs: those of a new epoch while running (proofs_dirty), every
 * newest one at a clean stop, so that a restored host reusing the epoch it had then is
 * refused by the seq too (ag_peer_load_proof). */
static int save_proofs_fn(MDB_txn *t, const MDB_dbi *dbi, void *ctx)
{
    const ag_peers *ps = ctx;
    for (size_t i = 0; i < ps->n; i++) {
        const ag_peer *p = &ps->v[i];
        if (!p->proof_len || (ps->proofs_dirty && p->proof_epoch <= p->saved_epoch))
            continue;
        MDB_val k = {AG_HOST_ID_LEN, (void *)p->id}, v = {p->proof_len, (void *)p->proof};
        int rc = mdb_put(t, dbi[ST_DB_PEERS], &k, &v, 0);
        if (rc)
            return rc;
    }
    return 0;
}

static int collect_members(MDB_txn *t, const MDB_dbi *dbi, void *ctx)
{
    ag_members *m = ctx;
    MDB_cursor *c;
    int rc = mdb_cursor_open(t, dbi[ST_DB_STATE], &c);
    if (rc)
        return rc;
    MDB_val k = {7, "member/"}, v;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (k.mv_size < 7 || memcmp(k.mv_data, "member/", 7) != 0)
            break;
        Drover__Member *pb = drover__member__unpack(NULL, v.mv_size, v.mv_data);
        ag_member mb;
        if (pb && ag_member_from_pb(pb, &mb) == 0)
            ag_members_put(m, &mb);
        if (pb)
            drover__member__free_unpacked(pb, NULL);
    }
    mdb_cursor_close(c);
    return 0;
}

/* Members learnt in the join reply stand in for the replicated records until this host
 * has applied the log up to its own admission. */
static void add_join_reply_members(ag_agent *a, ag_members *m)
{
    size_t len = 0;
    if (st_get(a->store, ST_DB_META, "join_reply", 10, NULL, 0, &len) != 0 || !len)
        return;
    uint8_t *buf = malloc(len);
    if (!buf || st_get(a->store, ST_DB_META, "join_reply", 10, buf, len, &len) != 0) {
        free(buf);
        return;
    }
    Drover__JoinReplyBody *r = drover__join_reply_body__unpack(NULL, len, buf);
    free(buf);
    if (!r)
        return;
    if (!a->raft || ag_raft_applied(a) < r->admitted_index) {
        for (size_t i = 0; i < r->n_members; i++) {
            ag_member mb;
            if (ag_member_from_pb(r->members[i], &mb) == 0 && !ag_members_find(m, mb.id))
                ag_members_put(m, &mb);
        }
    }
    drover__join_reply_body__free_unpacked(r, NULL);
}

void ag_net_members_changed(ag_agent *a)
{
    if (a->cfg.roster[0] || !a->tp)
        return;   /* a static roster never changes at run time */
    ag_members fresh = {0};
    memcpy(fresh.cluster_id, a->members.cluster_id, AG_CLUSTER_ID_LEN);
    st_read(a->store, collect_members, &fresh);
    add_join_reply_members(a, &fresh);
    for (size_t i = 0; i < a->members.n; i++) {
        const ag_member *old = &a->members.v[i];
        if (!ag_members_find(&fresh, old->id)) {
            ag_event(a, "membership", json_pack("{s:s}", "removed", old->name),
                     "member %s removed from the cluster: its keys are no longer admitted", old->name);
            tp_revoke(a->tp, old->id);
            ag_peers_del(&a->peers, old->id);
            st_del(a->store, ST_DB_PEERS, old->id, AG_HOST_ID_LEN);
        }
    }
    for (size_t i = 0; i < fresh.n; i++) {
        const ag_member *m = &fresh.v[i];
        if (!ag_members_find(&a->members, m->id))
            ag_event(a, "membership", json_pack("{s:s,s:s}", "admitted", m->name, "addr", m->addr),
                     "member %s (%s) admitted", m->name, m->addr);
        peer_add(a, m);
        tp_allow(a->tp, m->id, m->curve_pk);
    }
    ag_members_free(&a->members);
    a->members = fresh;
}

/* ---- start -------------------------------------------------------------------------- */

static int self_member(ag_agent *a, ag_member *out)
{
    memset(out, 0, sizeof *out);
    memcpy(out->id, a->id.host_id, AG_HOST_ID_LEN);
    memcpy(out->sign_pk, a->id.sign_pk, 32);
    memcpy(out->curve_pk, a->id.curve_pk, 32);
    memcpy(out->curve_sig, a->id.curve_sig, 64);
    snprintf(out->name, sizeof out->name, "%s", a->cfg.name);
    snprintf(out->domain, sizeof out->domain, "%s", a->cfg.failure_domain);
    int n = snprintf(out->addr, sizeof out->addr, "tcp://%s", a->cfg.advertise);
    return n > 0 && (size_t)n < sizeof out->addr ? 0 : -1;
}

int ag_net_start(ag_agent *a, char *err, size_t errlen)
{
    enum ag_raft_boot boot;
    if (a->cfg.roster[0]) {
        if (ag_members_load(a->cfg.roster, &a->members, err, errlen) != 0)
            return AG_EX_CONFIG;
        if (!ag_members_find(&a->members, a->id.host_id)) {
            char hid[AG_HOST_ID_HEXLEN];
            ag_hex(a->id.host_id, AG_HOST_ID_LEN, hid);
            snprintf(err, errlen, "this host (id %s) is not in the roster %s: add the line printed by "
                     "`drover roster line` on this host", hid, a->cfg.roster);
            ag_members_free(&a->members);
            return AG_EX_CONFIG;
        }
        boot = AG_RAFT_BOOT_ROSTER;
    } else {
        size_t len;
        uint64_t bootstrap = 0;
        uint8_t be[8];
        if (st_get(a->store, ST_DB_META, "cluster_id", 10, a->members.cluster_id, AG_CLUSTER_ID_LEN, &len) == 0) {
            boot = AG_RAFT_BOOT_JOIN;   /* a log exists unless we joined and crashed at once */
            st_read(a->store, collect_members, &a->members);
            add_join_reply_members(a, &a->members);
        } else if (st_get(a->store, ST_DB_META, "bootstrap", 9, be, 8, &len) == 0 &&
                   (bootstrap = be64toh(*(uint64_t *)(void *)be)) == 1) {
            randombytes_buf(a->members.cluster_id, AG_CLUSTER_ID_LEN);
            boot = AG_RAFT_BOOT_CREATE;
        } else {
            ag_info("no cluster yet: waiting for `drover join` (or start with `drover init` to create one)");
            return 0;
        }
        ag_member self;
        if (self_member(a, &self) != 0) {
            snprintf(err, errlen, "[cluster] advertise address %s is too long", a->cfg.advertise);
            return AG_EX_CONFIG;
        }
        if (!ag_members_find(&a->members, a->id.host_id))
            ag_members_put(&a->members, &self);
    }
    a->sealer = (ag_sealer){.id = &a->id, .epoch = a->epoch};
    memcpy(a->sealer.cluster_id, a->members.cluster_id, AG_CLUSTER_ID_LEN);
    char bind[AG_CFG_STR + 8];
    snprintf(bind, sizeof bind, "tcp://%s", a->cfg.bind);
    int rc = tp_new(a->loop, &a->id, bind, AG_ENV_MAX_BYTES, on_recv, a, &a->tp, err, errlen);
    if (rc)
        goto err_after_members;
    for (size_t i = 0; i < a->members.n; i++) {
        const ag_member *m = &a->members.v[i];
        if (peer_add(a, m) != 0 || tp_allow(a->tp, m->id, m->curve_pk) != 0) {
            snprintf(err, errlen, "out of memory admitting members");
            goto err_after_tp;
        }
    }
    if ((rc = ag_raft_start(a, boot, err, errlen)) != 0)
        goto err_after_tp;
    if (boot == AG_RAFT_BOOT_CREATE) {
        /* only now, with the log bootstrapped, is the cluster real */
        st_put(a->store, ST_DB_META, "cluster_id", 10, a->members.cluster_id, AG_CLUSTER_ID_LEN);
        st_del(a->store, ST_DB_META, "bootstrap", 9);
        char fpr[AG_FPR_STRLEN];
        ag_fingerprint(a->id.sign_pk, fpr);
        ag_event(a, "membership", json_pack("{s:s}", "fingerprint", fpr),
                 "created a new cluster; this host's fingerprint is %s", fpr);
    }
    if ((rc = ag_gossip_start(a, err, errlen)) != 0) {
        ag_raft_stop(a);
        goto err_after_tp;
    }
    if ((rc = ag_ha_start(a, err, errlen)) != 0) {
        ag_gossip_stop(a);
        ag_raft_stop(a);
        goto err_after_tp;
    }
    return 0;

err_after_tp:
    tp_free(a->tp);
    a->tp = NULL;
    ag_peers_free(&a->peers);
err_after_members:
    ag_members_free(&a->members);
    return rc > 0 ? rc : AG_EX_OSERR;
}

void ag_net_stop(ag_agent *a)
{
    if (!a->tp)
        return;
    ag_ha_stop(a);
    ag_raft_stop(a);
    ag_gossip_stop(a);
    tp_free(a->tp);
    a->tp = NULL;
    a->peers.proofs_dirty = false;   /* every newest proof, not only new epochs */
    if (st_write(a->store, save_proofs_fn, &a->peers) != 0)
        ag_warn("net: cannot keep the members' epoch proofs in %s", st_path(a->store));
    ag_peers_free(&a->peers);
    ag_members_free(&a->members);
}
