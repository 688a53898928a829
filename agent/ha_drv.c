/* ha_drv.c — the HA cores (ha/hac.h) in the agent: replicated state, coordinator,
 * fence, and the messages between agents and the coordinator.
 *
 * Design. The cores decide, the driver only carries: committed HA entries go from
 * raft_drv's apply into LMDB ("ha/state", ha_state.c) and then into the coordinator as
 * COMMITs (ha_coord.c); gossip records and agents' reports become HOST and INVENTORY
 * inputs; the cores' outputs become Raft proposals, MSG_COMMAND messages and libvirt jobs
 * (ha_exec.c); this host's fence, lease and report are ha_fence.c; its freeze on a clean
 * stop is ha_freeze.c; the control socket is ha_ctl.c. This file holds the start, the
 * stop, the messages and the clock.
 *
 * The lease is the heart of "never twice" (docs/ha.md, "Lease arithmetic"): an agent
 * counts contact from the send time of a report the coordinator answered. A newer
 * coordinator can only exist once a majority of voters has not heard from the old one
 * for an election timeout, so the old one can vouch that none exists until half an
 * election timeout past the send time of the newest heartbeat a majority answered
 * (raft's quorum contact; never past a TIMEOUT_NOW it sent). A report that arrives later
 * than that is still answered, with held_ms = how much later: the agent counts its
 * lease from sent_ms - held_ms, which precedes the new coordinator's start, which it
 * counts as every host's last ack. A stall of the coordinator's quorum thus shortens
 * leases by the stall instead of stopping every renewal in the cluster.
 *
 * Nothing on the lease path waits for libvirt or the disk: the report goes out from the
 * tick (with the inventory when a fresh one is in, without it when the workers are busy
 * with slow starts or libvirtd hangs), and a lease found ended is judged once more after
 * the loop has read its sockets (ha_fence.c), so a stalled loop does not fence on
 * answers it has not read yet.
 *
 * A restarting agent keeps its lease: the send time of its last answered report and the
 * kernel's boot id are saved every second (a saved time older than the real one only
 * ends the lease sooner), so restarting the agent does not destroy the host's VMs,
 * while a reboot (new boot id) starts without one, as the fence core wants. An absence
 * longer than the lease is covered by the freeze a clean stop asks for (ha_freeze.c).
 *
 * Nothing here re-enters a core: messages to this host itself are queued and delivered
 * from the loop, and commits that arrive while the coordinator's outputs are being
 * carried out (a one-host cluster commits synchronously) wait in a queue.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drover.pb-c.h"
#include "events.h"
#include "exitcodes.h"
#include "gossip.h"
#include "gossip.pb-c.h"
#include "gossip_drv.h"
#include "ha.pb-c.h"
#include "ha_drv.h"
#include "ha_int.h"
#include "hac_codec.h"
#include "hoststatus.h"
#include "log.h"
#include "net.h"
#include "raft_drv.h"
#include "state.pb-c.h"
#include "view.h"
#include "watchdog.h"

#define HA_SELFQ_MAX 64   /* = the selfq array in ha_int.h */

/* ---- helpers ------------------------------------------------------------------------- */

const ag_member *ag_ha__member(ag_agent *a, const char *name)
{
    for (size_t i = 0; i < a->members.n; i++)
        if (strcmp(a->members.v[i].name, name) == 0)
            return &a->members.v[i];
    return NULL;
}

const char *ag_ha__host_name(const hac_rstate *s, int32_t i)
{
    return i >= 0 && (uint32_t)i < s->n_hosts ? s->hosts[i].name : "-";
}

static bool is_self(ag_agent *a, const ag_member *m)
{
    return m && memcmp(m->id, a->id.host_id, AG_HOST_ID_LEN) == 0;
}

/* Gossip's opinion of a host right now: the view's copy (refresh_view) can be HA_VIEW_MS
 * old, and a fence decision should not wait for it. */
hac_live ag_ha__gossip_live(ag_agent *a, const char *name)
{
    struct gsp *g = ag_gossip_core(a);
    const ag_member *m = ag_ha__member(a, name);
    struct gsp_member_info mi;
    gsp_id id;
    if (!g || !m)
        return HAC_SUSPECT;
    memcpy(id.b, m->id, sizeof id.b);
    if (gsp_member_find(g, id, &mi) != 0)
        return HAC_SUSPECT;
    return mi.state == GSP_ALIVE ? HAC_ALIVE : mi.state == GSP_SUSPECT ? HAC_SUSPECT : HAC_DEAD;
}

/* ---- messages ------------------------------------------------------------------------ */

static void deliver(ag_agent *a, const uint8_t sender[AG_HOST_ID_LEN], const uint8_t *buf, size_t len);

static void selfq_run(ag_loop *l, ag_id id, void *ud)
{
    (void)l;
    (void)id;
    ag_agent *a = ud;
    struct ag_ha *h;
    while ((h = a->ha) && h->selfq_n) {
        uint8_t *buf = h->selfq[0].buf;
        size_t len = h->selfq[0].len;
        memmove(h->selfq, h->selfq + 1, (--h->selfq_n) * sizeof *h->selfq);
        deliver(a, a->id.host_id, buf, len);
        free(buf);
    }
}

void ag_ha__send_msg(ag_agent *a, const ag_member *to, const Drover__HaMsg *m)
{
    if (!to)
        return;
    size_t n = drover__ha_msg__get_packed_size(m);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        return;
    drover__ha_msg__pack(m, buf);
    if (is_self(a, to)) {
        struct ag_ha *h = a->ha;
        if (h->selfq_n == HA_SELFQ_MAX) {
            free(buf);   /* reports repeat, commands are re-sent: a drop is a delay */
            return;
        }
        h->selfq[h->selfq_n].buf = buf;
        h->selfq[h->selfq_n++].len = n;
        if (h->selfq_n == 1)
            ag_loop_timer(a->loop, 0, 0, selfq_run, a);
        return;
    }
    ag_net_send(a, to, DROVER__MSG_TYPE__MSG_COMMAND, buf, n);
    free(buf);
}

static void deliver(ag_agent *a, const uint8_t sender[AG_HOST_ID_LEN], const uint8_t *buf, size_t len)
{
    Drover__HaMsg *m = drover__ha_msg__unpack(NULL, len, buf);
    if (!m) {
        a->rejected_payload++;
        return;
    }
    if (m->report)
        ag_ha__on_report(a, sender, m->report);
    if (m->ack)
        ag_ha__on_ack(a, sender, m->ack);
    if (m->command)
        ag_ha__on_command(a, sender, m->command);
    if (m->result)
        ag_ha__on_result(a, sender, m->result);
    drover__ha_msg__free_unpacked(m, NULL);
}

void ag_ha_recv(ag_agent *a, const ag_opened *o)
{
    if (!a->ha)
        return;
    deliver(a, o->sender, o->payload, o->payload_len);
}

void ag_ha__send_result(ag_agent *a, const hac_cmd *cmd, bool ok, const char *text)
{
    Drover__HaResult r = DROVER__HA_RESULT__INIT;
    r.id = cmd->id;
    r.term = cmd->term;
    r.ok = ok;
    r.text = (char *)(text ? text : "");
    Drover__HaMsg m = DROVER__HA_MSG__INIT;
    m.result = &r;
    ag_ha__send_msg(a, ag_raft_leader_member(a), &m);
}

int ag_ha__submit(ag_agent *a, const hac_prop *p, const char *reason, ag_raft_done_fn done, void *ud)
{
    uint8_t *buf;
    size_t n;
    if (hac_prop_encode(p, reason, &buf, &n) != 0)
        return -ENOMEM;
    Drover__Command c = DROVER__COMMAND__INIT;
    c.op = DROVER__COMMAND_OP__CMD_HA;
    c.key = (char *)"ha/state";
    c.ha.data = buf;
    c.ha.len = n;
    ag_raft_submit_cmd(a, &c, done, ud);
    free(buf);
    return 0;
}

/* What follows a commit is the cluster's doing, even when a one-host cluster commits
 * inside a control request's handler: its events are not stamped with that caller (the
 * entry's reason names who asked). */
static void applied(ag_agent *a)
{
    struct ag_ha *h = a->ha;
    if (ag_ha__load(a, h->st) != 0)
        return;
    ag_ha__self_index(h);
    ag_ha__pump(a);
    /* the fence learns a freeze or unfreeze of this host at once */
    hac_fence_input st = {.kind = HAC_FIN_TICK, .state = h->st};
    ag_ha__fence_feed(a, &st);
    ag_ha__maybe_synced(a);
    /* commands that waited for this much of the log */
    uint32_t n = h->n_parked;
    for (uint32_t i = 0; i < n && i < h->n_parked;) {
        if (ag_raft_applied(a) >= h->parked_commit[i]) {
            hac_fence_input in = {.kind = HAC_FIN_COMMAND, .state = h->st, .cmd = h->parked[i]};
            memmove(&h->parked[i], &h->parked[i + 1], (h->n_parked - i - 1) * sizeof *h->parked);
            memmove(&h->parked_commit[i], &h->parked_commit[i + 1], (h->n_parked - i - 1) * sizeof *h->parked_commit);
            memmove(&h->parked_ms[i], &h->parked_ms[i + 1], (h->n_parked - i - 1) * sizeof *h->parked_ms);
            h->n_parked--;
            ag_ha__fence_feed(a, &in);
        } else
            i++;
    }
}

void ag_ha_applied(ag_agent *a, uint64_t index)
{
    (void)index;
    if (!a->ha)
        return;
    const ag_ctl_req *prev = ag_ctl_act_as(a->ctl, NULL);
    applied(a);
    ag_ctl_act_as(a->ctl, prev);
}

/* ---- timers -------------------------------------------------------------------------- */

/* The watchdog is fed from the agent's own tick, so a hung loop stops the feeding; and
 * only while hac_fence_may_pet, so protected VMs this host cannot get rid of before its
 * lease ends get the host reset instead. */
static void pet(ag_agent *a, uint64_t now)
{
    struct ag_ha *h = a->ha;
    if (h->wd.fd < 0)
        return;
    bool may = hac_fence_may_pet(&h->fence, now);
    if (may)
        ag_wd_pet(&h->wd);
    if (may == !h->wd_held)   /* no change: say nothing */
        return;
    h->wd_held = !may;
    if (may)
        ag_info("watchdog: fed again (no protected VM left here, or the lease is renewed)");
    else
        ag_event(a, "fence", json_pack("{s:b}", "watchdog_held", 1),
                 "watchdog: no longer fed: protected VMs still run here with less than %lld ms of "
                 "lease left; the host resets unless they are gone first",
                 (long long)h->wd.timeout_ms);
}

static void on_tick(ag_loop *l, ag_id id, void *ud)
{
    (void)l;
    (void)id;
    ag_agent *a = ud;
    struct ag_ha *h = a->ha;
    uint64_t now = ag_now_ms();
    hac_fence_input t = {.kind = HAC_FIN_TICK};
    ag_ha__fence_feed(a, &t);
    pet(a, now);
    ag_ha__save_lease(a, false);
    for (uint32_t i = 0; i < h->n_parked;)
        if (now > h->parked_ms[i] + HA_PARK_MAX_MS) {
            ag_ha__send_result(a, &h->parked[i], false, "this host's log did not reach the command's commit in time");
            h->parked[i] = h->parked[--h->n_parked];
            h->parked_commit[i] = h->parked_commit[h->n_parked];
            h->parked_ms[i] = h->parked_ms[h->n_parked];
        } else
            i++;
    if (now >= h->report_ms + HA_REPORT_MS && !h->inv_busy) {
        h->report_ms = now;
        ag_ha__exec_inventory(a);
    }
    /* the inventory's report renews the lease when libvirt answers promptly; when it
     * does not (workers busy with starts, libvirtd hung), the lease goes without it */
    if (now >= h->report_sent_ms + HA_REPORT_MS + HA_TICK_MS)
        ag_ha__send_lease(a);
    ag_ha__coord_tick(a, now);
    ag_ha__unfreeze_tick(a, now);
}

/* ---- start / stop / status ----------------------------------------------------------- */

/* The timeouts the lease needs, or AG_EX_CONFIG with ERR saying what to change. */
static int check_timeouts(const ag_config *c, char *err, size_t errlen)
{
    /* A leader change takes up to two election timeouts (the second try after a split
     * vote) plus a report period to reach the new coordinator; a fence_timeout shorter
     * than that would make every host destroy its protected VMs at each leader change. */
    int64_t need = 2 * c->election_timeout_ms + 2 * HA_REPORT_MS;
    if (c->fence_timeout_ms < need) {
        snprintf(err, errlen, "[ha] fence_timeout = %lld ms is too short for [ha] election_timeout = "
                 "%lld ms: hosts would fence their VMs at every coordinator change; use at least %lld ms "
                 "(2 x election_timeout + %d ms)", (long long)c->fence_timeout_ms,
                 (long long)c->election_timeout_ms, (long long)need, 2 * HA_REPORT_MS);
        return AG_EX_CONFIG;
    }
    if (!c->watchdog[0])
        return 0;
    if (c->watchdog_timeout_ms % 1000) {
        snprintf(err, errlen, "[ha] watchdog_timeout = %lld ms: a watchdog counts whole seconds; "
                 "use 1s or more, in whole seconds", (long long)c->watchdog_timeout_ms);
        return AG_EX_CONFIG;
    }
    /* With a watchdog the self-fence comes watchdog_timeout + slack earlier (hac.h): what
     * is left must still outlast a leader change. */
    int64_t wneed = need + c->watchdog_timeout_ms + HAC_WD_SLACK_MS;
    if (c->fence_timeout_ms < wneed) {
        snprintf(err, errlen, "[ha] fence_timeout = %lld ms is too short with [ha] watchdog_timeout = "
                 "%lld ms: the agent self-fences watchdog_timeout + %d ms before its lease ends, which "
                 "must still outlast a coordinator change; use fence_timeout >= %lld ms or a shorter "
                 "watchdog_timeout", (long long)c->fence_timeout_ms,
                 (long long)c->watchdog_timeout_ms, HAC_WD_SLACK_MS, (long long)wneed);
        return AG_EX_CONFIG;
    }
    return 0;
}

int ag_ha_start(ag_agent *a, char *err, size_t errlen)
{
    struct ag_ha *h = calloc(1, sizeof *h);
    if (!h || !(h->st = malloc(sizeof *h->st))) {
        free(h);
        snprintf(err, errlen, "out of memory starting HA");
        return AG_EX_OSERR;
    }
    ag_wd_init(&h->wd);
    h->lease_fd = -1;
    int rc = check_timeouts(&a->cfg, err, errlen);
    if (rc)
        goto fail;
    h->a = a;
    hac_config_default(&h->cfg);
    h->cfg.fence_timeout_ms = (uint64_t)a->cfg.fence_timeout_ms;
    pthread_mutex_init(&h->conn_mu, NULL);
    if ((rc = ag_ha__load(a, h->st)) != 0) {
        snprintf(err, errlen, "cannot read the HA state from %s: %s", st_path(a->store), mdb_strerror(rc));
        rc = AG_EX_DATAERR;
        goto fail;
    }
    hac_fence_init(&h->fence, HAC_HOSTS_MAX, h->cfg.fence_timeout_ms);
    if (a->cfg.watchdog[0]) {
        if (ag_wd_open(&h->wd, a->cfg.watchdog, a->cfg.watchdog_timeout_ms, err, errlen) != 0) {
            rc = AG_EX_CONFIG;
            goto fail;
        }
        (void)hac_fence_set_watchdog(&h->fence, (uint64_t)h->wd.timeout_ms); /* check_timeouts */
    }
    a->ha = h;
    ag_ha__self_index(h);
    h->last_mode = h->fence.mode;
    ag_ha__freeze_start(a, ag_ha__restore_lease(a));
    ag_ha__ctl_register(a);
    h->tick = ag_loop_timer(a->loop, HA_TICK_MS, HA_TICK_MS, on_tick, a);
    ag_loop_set_label(a->loop, h->tick, "ha.tick");
    return 0;
fail:
    free(h->st);
    free(h);
    return rc;
}

void ag_ha_stop(ag_agent *a)
{
    struct ag_ha *h = a->ha;
    if (!h)
        return;
    ag_ha__save_lease(a, true);
    /* Protected VMs outlive the agent, and nothing enforces their lease while it is gone:
     * the watchdog stays armed, so the host resets unless an agent is back within its
     * timeout (an agent restart). With none of them here, or with the host frozen (the
     * cluster leaves them alone: no lease to enforce), it is disarmed. */
    bool guard = hac_fence_runs_protected(&h->fence) && !h->freeze_confirmed;
    if (h->wd.fd >= 0 && guard)
        ag_warn("watchdog: left armed: protected VMs run here and the agent stops; the host "
                "resets in %lld s unless the agent is started again", (long long)(h->wd.timeout_ms / 1000));
    ag_wd_close(&h->wd, !guard);
    if (h->lease_fd >= 0)
        close(h->lease_fd);
    ag_loop_cancel(a->loop, h->tick);
    if (h->recheck)
        ag_loop_cancel(a->loop, h->recheck);
    ag_ha__exec_free(a);
    if (h->coord)
        hac_coord_free(h->coord);
    while (h->selfq_n)
        free(h->selfq[--h->selfq_n].buf);
    pthread_mutex_destroy(&h->conn_mu);
    free(h->st);
    free(h->cons);
    free(h);
    a->ha = NULL;
}

void ag_ha_host_facts(ag_agent *a, struct ag_host_facts *f)
{
    struct ag_ha *h = a->ha;
    if (!h || h->self < 0)
        return;
    switch (h->st->hosts[h->self].admin) {
    case PLC_ADMIN_CORDONED: f->admin_state = DROVER__ADMIN_STATE__ADMIN_CORDONED; break;
    case PLC_ADMIN_DRAINING: f->admin_state = DROVER__ADMIN_STATE__ADMIN_DRAINING; break;
    case PLC_ADMIN_MAINTENANCE: f->admin_state = DROVER__ADMIN_STATE__ADMIN_MAINTENANCE; break;
    default: f->admin_state = DROVER__ADMIN_STATE__ADMIN_ACTIVE; break;
    }
    struct ha_move mv[HA_JOBS_MAX];
    uint32_t n = 0;
    ag_ha__local_moves(a, mv, &n, HA_JOBS_MAX);
    size_t off = strlen(f->migration_dests);
    for (uint32_t i = 0; i < n; i++) {
        f->migrations_out++;
        /* the view matches destinations by host name as well as by address */
        int w = snprintf(f->migration_dests + off, sizeof f->migration_dests - off, "%s%s",
                         off ? "," : "", mv[i].to);
        if (w > 0 && (size_t)w < sizeof f->migration_dests - off)
            off += (size_t)w;
        else
            f->migration_dests[off] = 0;
    }
}

json_t *ag_ha_status_json(ag_agent *a)
{
    struct ag_ha *h = a->ha;
    if (!h)
        return NULL;
    static const char *modes[] = {"reconcile", "active", "fenced"};
    uint64_t now = ag_now_ms();
    uint64_t end = hac_fence_deadline_ms(&h->fence);
    bool frozen = h->self >= 0 && h->st->hosts[h->self].frozen;
    json_t *r = json_pack("{s:s,s:b,s:I,s:I,s:i,s:i,s:I,s:I,s:I,s:I,s:I}", "fence", modes[h->fence.mode],
                     "coordinator", h->coord != NULL, "contact_age_ms",
                     (json_int_t)(h->fence.contact_ever ? now - h->fence.last_contact_ms : 0), "lease_left_ms",
                     (json_int_t)(end > now ? end - now : 0), "hosts", (int)h->st->n_hosts, "vms",
                     (int)h->st->n_vms, "reports_in", (json_int_t)h->reports_in, "acks", (json_int_t)h->acks,
                     "acks_held", (json_int_t)h->acks_held, "lease_rechecks", (json_int_t)h->rechecks,
                     "commands_refused", (json_int_t)h->cmds_refused);
    json_object_set_new(r, "frozen", json_boolean(frozen));
    json_object_set_new(r, "commands_refused_sender", json_pack("{s:I,s:I}", "not_leader",
                        (json_int_t)h->cmds_not_leader, "not_current_term", (json_int_t)h->cmds_not_term));
    /* as coordinator: reports refused because their sender may not make them (issue 12) */
    json_object_set_new(r, "reports_refused_sender", json_pack("{s:I,s:I}", "result_not_target",
                        (json_int_t)h->results_not_target, "constraints_not_owner",
                        (json_int_t)h->constraints_not_owner));
    if (frozen)
        json_object_set_new(r, "frozen_at_ms", json_integer((json_int_t)h->st->hosts[h->self].frozen_at_ms));
    return r;
}
