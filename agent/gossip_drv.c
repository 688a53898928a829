/* gossip_drv.c — the agent side of gossip; see gossip_drv.h.
 *
 * The core tells us when it next has work (out.next_tick_ms); we keep exactly one loop
 * timer armed for that instant instead of ticking on a fixed period, so an idle agent
 * wakes only when SWIM needs it. Everything the core returns is acted on before the next
 * gsp_step call, because its output buffers are reused then.
 */
#include "gossip_drv.h"
#include "ctl.h"
#include "exitcodes.h"
#include "events.h"
#include "hoststatus.h"
#include "ctl_place.h"
#include "ha_drv.h"
#include "log.h"
#include "net.h"
#include "transport.h"
#include "codec.h"
#include "gossip.h"
#include "drover.pb-c.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ag_gossip {
    gsp     *g;
    ag_id    tick_timer, status_timer;
    uint64_t tick_at;
    uint64_t status_version;
    uint64_t bytes_sent, msgs_sent, send_failed, unknown_dest;
    uint64_t status_bad;   /* records that failed verification */
    uint8_t  material[16]; /* digest of the last published record's material fields */
    uint64_t published_ms;
    /* members admitted lately, met again (push-pull) a moment later: see ag_gossip_meet_new */
    uint8_t  meet[16][AG_HOST_ID_LEN];
    unsigned n_meet, meet_rounds;
    ag_id    meet_timer;
};

/* An unchanged record is still re-published this often, as a heartbeat of the record
 * itself. Late joiners do not need it (push-pull hands them every record). The gossip
 * simulator measured 1.8 KB/s per host at 256 hosts with 300 s and 4.6 KB/s with 60 s
 * (docs/gossip.md), against a target of 2 KB/s. */
#define STATUS_REFRESH_MS 300000

static void process(ag_agent *a, const struct gsp_out *out);
static void on_tick(ag_loop *l, ag_id id, void *ud);

/* ---- the core's signatures (gossip.h, struct gsp_auth; issue 12) ----------------------
 * A member's incarnation is its own word: "drover-incarnation-v1\0" || host id ||
 * incarnation (4 bytes, big endian) || state (1 byte: 0 ALIVE, 3 LEFT), signed with the
 * host's Ed25519 identity key and checked against the sign_pk the member table holds.
 * A host not in the table has no key, so nothing it is said to have signed verifies. */
#define INC_DOMAIN "drover-incarnation-v1"

static void inc_statement(gsp_id id, uint32_t inc, enum gsp_state state,
                          uint8_t out[sizeof INC_DOMAIN + GSP_ID_LEN + 5])
{
    memcpy(out, INC_DOMAIN, sizeof INC_DOMAIN);
    uint8_t *p = out + sizeof INC_DOMAIN;
    memcpy(p, id.b, GSP_ID_LEN);
    p += GSP_ID_LEN;
    p[0] = (uint8_t)(inc >> 24);
    p[1] = (uint8_t)(inc >> 16);
    p[2] = (uint8_t)(inc >> 8);
    p[3] = (uint8_t)inc;
    p[4] = (uint8_t)state;
}

static void auth_sign(void *ctx, gsp_id id, uint32_t inc, enum gsp_state state,
                      uint8_t sig[GSP_SIG_LEN])
{
    ag_agent *a = ctx;
    uint8_t msg[sizeof INC_DOMAIN + GSP_ID_LEN + 5];
    inc_statement(id, inc, state, msg);
    crypto_sign_detached(sig, NULL, msg, sizeof msg, a->id.sign_sk);
}

static int auth_verify(void *ctx, gsp_id id, uint32_t inc, enum gsp_state state,
                       const uint8_t sig[GSP_SIG_LEN])
{
    ag_agent *a = ctx;
    const ag_member *m = ag_members_find(&a->members, id.b);
    if (!m)
        return -ENOENT;
    uint8_t msg[sizeof INC_DOMAIN + GSP_ID_LEN + 5];
    inc_statement(id, inc, state, msg);
    return crypto_sign_verify_detached(sig, msg, sizeof msg, m->sign_pk) == 0 ? 0 : -EPERM;
}

/* The version that orders a status record is the one its host signed (hoststatus.c). */
static int auth_status(void *ctx, gsp_id id, const uint8_t *rec, uint32_t len, uint64_t *version)
{
    ag_agent *a = ctx;
    Drover__HostStatus *st;
    int rc = ag_status_open(&a->members, id.b, rec, len, &st);
    if (rc)
        return rc;
    *version = st->version;
    drover__host_status__free_unpacked(st, NULL);
    return 0;
}

static void step(ag_agent *a, struct gsp_event *ev)
{
    struct gsp_out out;
    ev->now_ms = ag_now_ms();
    int rc = gsp_step(a->gossip->g, ev, &out);
    if (rc) {
        if (rc == -EINVAL && ev->type == GSP_EV_RECV)
            a->rejected_payload++;
        else
            ag_debug("gossip: step(%d) failed: %s", (int)ev->type, strerror(-rc));
        return;
    }
    process(a, &out);
}

/* Name of a member, or "(removed) <id prefix>" for a host gossip still remembers but the
 * cluster no longer lists. Returns a static buffer for the latter: use before the next call. */
static const char *member_name(ag_agent *a, const uint8_t id[AG_HOST_ID_LEN])
{
    static char buf[40];
    const ag_member *m = ag_members_find(&a->members, id);
    if (m)
        return m->name;
    char hex[AG_HOST_ID_HEXLEN];
    ag_hex(id, AG_HOST_ID_LEN, hex);
    snprintf(buf, sizeof buf, "(removed) %.8s", hex);
    return buf;
}

static void process(ag_agent *a, const struct gsp_out *out)
{
    struct ag_gossip *G = a->gossip;
    uint8_t stackbuf[4096];
    for (size_t i = 0; i < out->n_send; i++) {
        const struct gsp_send *s = &out->send[i];
        const ag_member *m = gsp_id_is_zero(s->to) ? ag_members_by_addr(&a->members, s->addr)
                                                   : ag_members_find(&a->members, s->to.b);
        if (!m) {
            G->unknown_dest++;
            continue;
        }
        size_t need = gsp_codec_size(&s->msg), len;
        uint8_t *buf = need <= sizeof stackbuf ? stackbuf : malloc(need);
        if (!buf || gsp_codec_encode(&s->msg, buf, need, &len) != 0) {
            G->send_failed++;
            if (buf != stackbuf)
                free(buf);
            continue;
        }
        if (ag_net_send(a, m, DROVER__MSG_TYPE__MSG_GOSSIP, buf, len) == 0) {
            G->msgs_sent++;
            G->bytes_sent += len;
        } else {
            G->send_failed++;
        }
        if (buf != stackbuf)
            free(buf);
    }
    for (size_t i = 0; i < out->n_events; i++) {
        const struct gsp_member_event *e = &out->events[i];
        if (e->type == GSP_ME_STATE)
            ag_event(a, "member", json_pack("{s:s,s:s,s:i}", "member", member_name(a, e->id.b),
                                            "state", gsp_state_name(e->state), "incarnation", (int)e->incarnation),
                     "member %s is %s (incarnation %u)", member_name(a, e->id.b),
                     gsp_state_name(e->state), e->incarnation);
    }
    uint64_t now = ag_now_ms();
    if (out->next_tick_ms && out->next_tick_ms != G->tick_at) {
        if (G->tick_timer)
            ag_loop_cancel(a->loop, G->tick_timer);
        G->tick_at = out->next_tick_ms;
        G->tick_timer = ag_loop_timer(a->loop, out->next_tick_ms > now ? out->next_tick_ms - now : 0,
                                      0, on_tick, a);
        ag_loop_set_label(a->loop, G->tick_timer, "gossip.tick");
    }
}

static void on_tick(ag_loop *l, ag_id id, void *ud)
{
    (void)l; (void)id;
    ag_agent *a = ud;
    a->gossip->tick_timer = 0;
    a->gossip->tick_at = 0;
    struct gsp_event ev = {.type = GSP_EV_TICK};
    step(a, &ev);
}

static void publish_status(ag_agent *a, bool force)
{
    struct ag_gossip *G = a->gossip;
    uint8_t *rec, material[16];
    size_t len;
    ag_host_facts facts = {.admin_state = DROVER__ADMIN_STATE__ADMIN_ACTIVE};
    ag_place_facts(a->place, &facts);   /* gathered on a worker (ctl_place.c) */
    ag_ha_host_facts(a, &facts);        /* admin state, HA migrations (ha_drv.c) */
    /* NIC health: the link of the migration address, else of the cluster address */
    snprintf(facts.nic_addr, sizeof facts.nic_addr, "%.*s", (int)sizeof facts.nic_addr - 1,
             facts.migration_addr[0] ? facts.migration_addr : a->cfg.advertise);
    /* versions must grow across restarts: the epoch is the high half */
    uint64_t version = (a->epoch << 32) | (G->status_version + 1), now = ag_now_ms();
    if (ag_status_make(&a->id, version, ag_wall_ms(), &facts, &rec, &len, material) != 0)
        return;
    if (!force && memcmp(material, G->material, sizeof material) == 0 &&
        now - G->published_ms < STATUS_REFRESH_MS) {
        free(rec);   /* nothing another host would decide differently on */
        return;
    }
    G->status_version++;
    memcpy(G->material, material, sizeof material);
    G->published_ms = now;
    if (len <= GSP_STATUS_MAX) {
        struct gsp_event ev = {.type = GSP_EV_STATUS, .status_version = version,
                               .status = rec, .status_len = (uint32_t)len};
        step(a, &ev);
    }
    free(rec);
}

static void on_status_timer(ag_loop *l, ag_id id, void *ud)
{
    (void)l; (void)id;
    publish_status(ud, false);
}

void ag_gossip_recv(ag_agent *a, const ag_opened *o)
{
    if (!a->gossip)
        return;
    struct gsp_codec_msg *m;
    const char *why = NULL;
    if (gsp_codec_decode(o->payload, o->payload_len, &m, &why) != 0) {
        a->rejected_payload++;
        ag_debug("gossip: undecodable message from %s: %s", member_name(a, o->sender), why ? why : "?");
        return;
    }
    if (memcmp(m->msg.from.b, o->sender, AG_HOST_ID_LEN) != 0) {
        a->rejected[-AG_ENV_E_MISMATCH]++;   /* a member may not speak for another */
    } else {
        struct gsp_event ev = {.type = GSP_EV_RECV, .msg = &m->msg};
        step(a, &ev);
    }
    gsp_codec_free(m);
}

void ag_gossip_health(ag_agent *a, const uint8_t id[16], int *alive, uint64_t *dead_since_ms)
{
    *alive = 1;
    *dead_since_ms = 0;
    if (!a->gossip)
        return;
    gsp_id g;
    memcpy(g.b, id, GSP_ID_LEN);
    struct gsp_member_info mi;
    if (gsp_member_find(a->gossip->g, g, &mi) != 0)
        return;
    if (mi.state == GSP_DEAD || mi.state == GSP_LEFT) {
        *alive = 0;
        *dead_since_ms = mi.state_since_ms;
    }
}

struct gsp *ag_gossip_core(ag_agent *a)
{
    return a->gossip ? a->gossip->g : NULL;
}

void ag_gossip_leave(ag_agent *a)
{
    if (!a->gossip)
        return;
    struct gsp_event ev = {.type = GSP_EV_LEAVE};
    step(a, &ev);
}

/* ---- drover members --------------------------------------------------------------- */

static const char *admin_name(int s)
{
    static const char *n[] = {"active", "cordoned", "draining", "maintenance"};
    return s >= 0 && s < 4 ? n[s] : "?";
}

static void ctl_members(ag_ctl_req *req, json_t *args, void *ud)
{
    ag_agent *a = ud;
    if (!a->gossip) {
        ag_ctl_finish(req, AG_EX_UNAVAILABLE, NULL, "this agent runs without a cluster "
                      "(no [cluster] roster configured), so it has no members to list");
        return;
    }
    const char *want = json_string_value(json_object_get(args, "status"));
    if (want && strcmp(want, "alive") && strcmp(want, "suspect") && strcmp(want, "dead") &&
        strcmp(want, "left")) {
        ag_ctl_finish(req, AG_EX_INVALID, NULL, "--status takes alive, suspect, dead or left, not '%s'", want);
        return;
    }
    json_t *list = json_array();
    uint64_t now = ag_now_ms();
    size_t n = gsp_member_count(a->gossip->g);
    for (size_t i = 0; i < n; i++) {
        struct gsp_member_info mi;
        if (gsp_member_get(a->gossip->g, i, &mi) != 0)
            continue;
        const char *state = gsp_state_name(mi.state);
        if (want && strcmp(want, state) != 0)
            continue;
        char hid[AG_HOST_ID_HEXLEN];
        ag_hex(mi.id.b, AG_HOST_ID_LEN, hid);
        json_t *m = json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:b}", "name", member_name(a, mi.id.b),
                              "id", hid, "addr", mi.addr, "state", state,
                              "incarnation", (json_int_t)mi.incarnation,
                              "state_for_ms", (json_int_t)(now - mi.state_since_ms),
                              "self", memcmp(mi.id.b, a->id.host_id, AG_HOST_ID_LEN) == 0);
        Drover__HostStatus *st;
        if (mi.status_len && ag_status_open(&a->members, mi.id.b, mi.status, mi.status_len, &st) == 0) {
            json_object_set_new(m, "status", json_pack(
                "{s:I,s:I,s:I,s:i,s:f,s:i,s:s,s:s,s:s,s:s,s:s,s:s,s:b}",
                "version", (json_int_t)st->version,
                "memory_total_mib", (json_int_t)(st->memory_total_kib / 1024),
                "memory_free_mib", (json_int_t)(st->memory_free_kib / 1024),
                "vcpus", (int)st->vcpus, "load", st->load_milli / 1000.0,
                "vm_count", (int)st->vm_count, "admin_state", admin_name(st->admin_state),
                "cpu_vendor", st->cpu_vendor, "cpu_model", st->cpu_model,
                "agent_version", st->agent_version, "libvirt_version", st->libvirt_version,
                "qemu_version", st->qemu_version,
                "libvirtd_responsive", st->health ? st->health->libvirtd_responsive : 0));
            json_t *js = json_object_get(m, "status");
            json_object_set_new(js, "nic_link_up", json_boolean(st->health && st->health->nic_link_up));
            json_object_set_new(js, "migration_mtu", json_integer(st->health ? st->health->migration_mtu : 0));
            json_object_set_new(js, "storage_latency_ms", json_integer(st->health ? st->health->storage_latency_ms : 0));
            json_object_set_new(js, "storage_errors", json_integer(st->health ? st->health->storage_errors : 0));
            /* issue 11 (3c): facts that could not be read, and how long libvirtd is silent */
            json_object_set_new(js, "facts_unknown", json_boolean(ag_status_facts_unknown(st)));
            json_object_set_new(js, "facts_read_at_ms", json_integer((json_int_t)st->facts_read_at_ms));
            json_object_set_new(js, "libvirtd_silent_ms",
                                json_integer(st->health ? st->health->libvirtd_silent_ms : 0));
            json_object_set_new(js, "degraded_reason",
                                json_string(st->health && st->health->degraded_reason ? st->health->degraded_reason : ""));
            drover__host_status__free_unpacked(st, NULL);
        } else if (mi.status_len) {
            a->gossip->status_bad++;
            json_object_set_new(m, "status_error", json_string("status record failed verification"));
        }
        json_array_append_new(list, m);
    }
    ag_ctl_finish(req, AG_EX_OK, json_pack("{s:o}", "members", list), NULL);
}

json_t *ag_gossip_status_json(ag_agent *a)
{
    if (!a->gossip)
        return NULL;
    struct gsp_stats gs;
    struct tp_stats ts;
    gsp_stats_get(a->gossip->g, &gs);
    tp_stats_get(a->tp, &ts);
    json_t *j = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
        "members", (json_int_t)gsp_member_count(a->gossip->g),
        "alive", (json_int_t)gsp_alive_count(a->gossip->g),
        "incarnation", (json_int_t)gsp_incarnation(a->gossip->g),
        "local_health", (json_int_t)gsp_lhm(a->gossip->g),
        "msgs_sent", (json_int_t)a->gossip->msgs_sent,
        "bytes_sent", (json_int_t)a->gossip->bytes_sent,
        "send_failed", (json_int_t)a->gossip->send_failed,
        "zap_allowed", (json_int_t)ts.zap_allowed, "zap_denied", (json_int_t)ts.zap_denied,
        "received", (json_int_t)ts.received, "status_bad", (json_int_t)a->gossip->status_bad);
    /* updates the core refused, by reason (gossip.h, "Who may raise what") */
    json_object_set_new(j, "refused", json_pack("{s:I,s:I,s:I,s:I,s:I}",
        "incarnation_unsigned", (json_int_t)gs.refused_inc_unsigned,
        "incarnation_bad_signature", (json_int_t)gs.refused_inc_bad_sig,
        "status_bad_signature", (json_int_t)gs.refused_status_bad_sig,
        "status_version_mismatch", (json_int_t)gs.refused_status_version,
        "unknown_subject", (json_int_t)gs.refused_unknown_subject));
    json_object_set_new(j, "incarnation_saturated", json_integer((json_int_t)gs.inc_saturated));
    return j;
}

/* ---- life cycle ----------------------------------------------------------------------- */

int ag_gossip_start(ag_agent *a, char *err, size_t errlen)
{
    struct ag_gossip *G = calloc(1, sizeof *G);
    if (!G)
        return -ENOMEM;
    struct gsp_config cfg;
    gsp_config_default(&cfg);
    if (a->cfg.probe_interval_ms)
        cfg.probe_interval_ms = (uint32_t)a->cfg.probe_interval_ms;
    if (a->cfg.probe_timeout_ms)
        cfg.probe_timeout_ms = (uint32_t)a->cfg.probe_timeout_ms;
    if (a->cfg.gossip_interval_ms)
        cfg.gossip_interval_ms = (uint32_t)a->cfg.gossip_interval_ms;
    if (a->cfg.suspicion_mult)
        cfg.suspicion_alpha = (uint32_t)a->cfg.suspicion_mult;
    cfg.auth = (struct gsp_auth){.ctx = a, .sign_inc = auth_sign, .verify_inc = auth_verify,
                                 .status_version = auth_status};
    cfg.seed = a->epoch ^ ((uint64_t)a->id.host_id[0] << 40 | (uint64_t)a->id.host_id[1] << 32);
    /* a restarted host comes back with a higher incarnation, so its ALIVE wins at once */
    uint64_t inc = 0;
    st_bump_u64(a->store, "gossip_incarnation", &inc);
    const ag_member *self = ag_members_find(&a->members, a->id.host_id);
    gsp_id me;
    memcpy(me.b, a->id.host_id, AG_HOST_ID_LEN);
    /* incarnations saturate (gossip.h): 2^32 restarts do not wrap to 0 */
    int rc = gsp_new(&cfg, me, self->addr, inc > GSP_INC_MAX ? GSP_INC_MAX : (uint32_t)inc, &G->g);
    if (rc) {
        snprintf(err, errlen, "cannot start gossip: %s", strerror(-rc));
        free(G);
        return rc;
    }
    a->gossip = G;
    ag_ctl_register(a->ctl, "members", ctl_members, a);
    publish_status(a, true);
    /* seeds: every other roster member (the roster is the membership until join lands) */
    const char **seeds = calloc(a->members.n, sizeof *seeds);
    size_t ns = 0;
    for (size_t i = 0; seeds && i < a->members.n; i++)
        if (&a->members.v[i] != self)
            seeds[ns++] = a->members.v[i].addr;
    if (ns) {
        struct gsp_event ev = {.type = GSP_EV_JOIN, .n_seeds = ns, .seeds = seeds};
        step(a, &ev);
    }
    free(seeds);
    G->status_timer = ag_loop_timer(a->loop, (uint64_t)a->cfg.status_interval_ms,
                                    (uint64_t)a->cfg.status_interval_ms, on_status_timer, a);
    ag_loop_set_label(a->loop, G->status_timer, "gossip.status");
    struct gsp_event tick = {.type = GSP_EV_TICK};
    step(a, &tick);
    return 0;
}

/* Push-pull with the members admitted lately, if gossip does not know them yet. */
static void on_meet_timer(ag_loop *l, ag_id id, void *ud)
{
    (void)l; (void)id;
    ag_agent *a = ud;
    struct ag_gossip *G = a->gossip;
    const char *seeds[16];
    size_t ns = 0;
    for (unsigned i = 0; i < G->n_meet; i++) {
        const ag_member *m = ag_members_find(&a->members, G->meet[i]);
        struct gsp_member_info mi;
        gsp_id gid;
        memcpy(gid.b, G->meet[i], GSP_ID_LEN);
        if (m && (gsp_member_find(G->g, gid, &mi) != 0 || mi.state != GSP_ALIVE))
            seeds[ns++] = m->addr;
    }
    if (ns) {
        struct gsp_event ev = {.type = GSP_EV_JOIN, .n_seeds = ns, .seeds = seeds};
        step(a, &ev);
    }
    if (++G->meet_rounds >= 3 || !ns) {   /* 1, 2 and 3 s after the admission at most */
        G->n_meet = 0;
        G->meet_timer = 0;
        ag_loop_cancel(a->loop, id);
    }
}

void ag_gossip_meet_new(ag_agent *a, const ag_members *old)
{
    struct ag_gossip *G = a->gossip;
    if (!G)
        return;
    for (size_t i = 0; i < a->members.n && G->n_meet < 16; i++) {
        const ag_member *m = &a->members.v[i];
        if (memcmp(m->id, a->id.host_id, AG_HOST_ID_LEN) != 0 && !ag_members_find(old, m->id))
            memcpy(G->meet[G->n_meet++], m->id, AG_HOST_ID_LEN);
    }
    if (G->n_meet && !G->meet_timer) {
        G->meet_rounds = 0;
        G->meet_timer = ag_loop_timer(a->loop, 1000, 1000, on_meet_timer, a);
        ag_loop_set_label(a->loop, G->meet_timer, "gossip.meet");
    }
}

void ag_gossip_stop(ag_agent *a)
{
    struct ag_gossip *G = a->gossip;
    if (!G)
        return;
    if (G->tick_timer)
        ag_loop_cancel(a->loop, G->tick_timer);
    if (G->meet_timer)
        ag_loop_cancel(a->loop, G->meet_timer);
    ag_loop_cancel(a->loop, G->status_timer);
    gsp_free(G->g);
    free(G);
    a->gossip = NULL;
}
