/* ha_drv.c — the HA cores (ha/hac.h) in the agent: replicated state, coordinator,
 * fence, and the messages between agents and the coordinator.
 *
 * Design. The cores decide, this file only carries: committed HA entries go from
 * raft_drv's apply into LMDB ("ha/state") and then into the coordinator as COMMITs;
 * gossip records and agents' reports become HOST and INVENTORY inputs; the cores'
 * outputs become Raft proposals, MSG_COMMAND messages and libvirt jobs (ha_exec.c).
 *
 * The lease is the heart of "never twice" (docs/ha.md, "Lease arithmetic"): an agent
 * counts contact from the send time of a report the coordinator answered, and the
 * coordinator answers only while its own quorum contact is younger than half an
 * election timeout. A newer coordinator can only exist once the old one's quorum has
 * gone silent for an election timeout, so every answer an old coordinator gives still
 * precedes the new one's start, which it counts as every host's last ack.
 *
 * A restarting agent keeps its lease: the send time of its last answered report and the
 * kernel's boot id are saved every second (a saved time older than the real one only
 * ends the lease sooner), so restarting the agent does not destroy the host's VMs,
 * while a reboot (new boot id) starts without one, as the fence core wants.
 *
 * Nothing here re-enters a core: messages to this host itself are queued and delivered
 * from the loop, and commits that arrive while the coordinator's outputs are being
 * carried out (a one-host cluster commits synchronously) wait in a queue.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drover.pb-c.h"
#include "events.h"
#include "exitcodes.h"
#include "gossip.h"
#include "gossip_drv.h"
#include "ha.pb-c.h"
#include "ha_drv.h"
#include "ha_int.h"
#include "hac_codec.h"
#include "gossip.pb-c.h"
#include "hoststatus.h"
#include "log.h"
#include "net.h"
#include "raft_drv.h"
#include "state.pb-c.h"
#include "view.h"

#define HA_STATE_KEY "ha/state"
#define HA_SELFQ_MAX 64   /* = the selfq array in ha_int.h */

/* ---- state in LMDB ------------------------------------------------------------------- */

static int state_read_txn(MDB_txn *t, MDB_dbi db, hac_rstate *s)
{
    MDB_val k = {sizeof HA_STATE_KEY - 1, HA_STATE_KEY}, v;
    int rc = mdb_get(t, db, &k, &v);
    if (rc == MDB_NOTFOUND) {
        hac_rstate_init(s);
        return 0;
    }
    if (rc)
        return rc;
    char why[160];
    if (hac_state_decode(v.mv_data, v.mv_size, s, why, sizeof why) != 0) {
        ag_err("ha: the replicated HA state in the store does not decode (%s)", why);
        return MDB_CORRUPTED;
    }
    return 0;
}

int ag_ha_apply(ag_agent *a, MDB_txn *txn, MDB_dbi db, uint64_t index, const uint8_t *buf,
                size_t len, int *prop_rc)
{
    hac_prop p;
    char reason[HAC_TEXT_MAX] = "", why[160];
    *prop_rc = -EINVAL;
    if (hac_prop_decode(buf, len, &p, reason, sizeof reason, why, sizeof why) != 0) {
        /* every host skips it the same way, so the copies stay identical */
        ag_warn("ha: log entry %llu is not a valid HA decision (%s); skipped",
                (unsigned long long)index, why);
        return 0;
    }
    hac_rstate *s = malloc(sizeof *s);
    if (!s)
        return ENOMEM;
    int rc = state_read_txn(txn, db, s);
    if (rc == 0) {
        *prop_rc = hac_apply(s, &p);
        if (*prop_rc == 0) {
            uint8_t *out;
            size_t n;
            if (hac_state_encode(s, &out, &n) != 0)
                rc = ENOMEM;
            else {
                MDB_val k = {sizeof HA_STATE_KEY - 1, HA_STATE_KEY}, v = {n, out};
                rc = mdb_put(txn, db, &k, &v, 0);
                free(out);
            }
        }
    }
    free(s);
    struct ag_ha *h = a->ha;
    if (rc == 0 && h) {
        /* st_write may run this twice: the same index overwrites its slot */
        uint32_t i = 0;
        while (i < h->n_pend && h->pend[i].index != index)
            i++;
        if (i == h->n_pend) {
            if (h->n_pend == HA_PENDING_PROPS) {
                /* the coordinator re-proposes what it does not see committed */
                ag_warn("ha: %d decisions applied at once; the coordinator will re-check", HA_PENDING_PROPS);
                return 0;
            }
            h->n_pend++;
        }
        h->pend[i] = (struct ha_applied){.index = index, .prop = p, .rc = *prop_rc};
        snprintf(h->pend[i].reason, sizeof h->pend[i].reason, "%s", reason);
    }
    return rc;
}

static int load_fn(MDB_txn *t, const MDB_dbi *dbi, void *ctx)
{
    return state_read_txn(t, dbi[ST_DB_STATE], ctx);
}

static void self_index(struct ag_ha *h)
{
    h->self = hac_find_host(h->st, h->a->cfg.name);
    h->fence.self = h->self >= 0 ? (uint32_t)h->self : HAC_HOSTS_MAX;
}

/* ---- helpers ------------------------------------------------------------------------- */

const ag_member *ag_ha__member(ag_agent *a, const char *name)
{
    for (size_t i = 0; i < a->members.n; i++)
        if (strcmp(a->members.v[i].name, name) == 0)
            return &a->members.v[i];
    return NULL;
}

static const char *host_name(const hac_rstate *s, int32_t i)
{
    return i >= 0 && (uint32_t)i < s->n_hosts ? s->hosts[i].name : "-";
}

static bool is_self(ag_agent *a, const ag_member *m)
{
    return m && memcmp(m->id, a->id.host_id, AG_HOST_ID_LEN) == 0;
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

static void send_msg(ag_agent *a, const ag_member *to, const Drover__HaMsg *m)
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

/* ---- fence --------------------------------------------------------------------------- */

/* The kernel's id of this boot: a lease saved under another boot id is void. */
static const char *boot_id(void)
{
    static char id[48];
    if (!id[0]) {
        FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
        if (!f || !fgets(id, sizeof id, f))
            snprintf(id, sizeof id, "unknown");
        if (f)
            fclose(f);
        id[strcspn(id, "\n")] = 0;
    }
    return id;
}

static void fence_feed(ag_agent *a, hac_fence_input *in);

static void save_lease(ag_agent *a, bool force)
{
    struct ag_ha *h = a->ha;
    uint64_t now = ag_now_ms();
    if (!h->fence.contact_ever || (!force && now < h->lease_saved_ms + HA_LEASE_SAVE_MS))
        return;
    h->lease_saved_ms = now;
    char v[64];
    int n = snprintf(v, sizeof v, "%s %llu", boot_id(), (unsigned long long)h->fence.last_contact_ms);
    st_put(a->store, ST_DB_META, "ha_lease", 8, v, (size_t)n);
}

static void restore_lease(ag_agent *a)
{
    char v[64], boot[48];
    size_t len;
    unsigned long long sent;
    if (st_get(a->store, ST_DB_META, "ha_lease", 8, v, sizeof v - 1, &len) != 0)
        return;
    v[len < sizeof v ? len : sizeof v - 1] = 0;
    if (sscanf(v, "%47s %llu", boot, &sent) != 2 || strcmp(boot, boot_id()) != 0)
        return;   /* another boot: the VMs of before are gone or must be fenced */
    hac_fence_input in = {.kind = HAC_FIN_CONTACT, .sent_ms = sent};
    fence_feed(a, &in);
    ag_info("ha: lease carried over from before this agent restarted (%llu ms old)",
            (unsigned long long)(ag_now_ms() - sent));
}

static void maybe_synced(ag_agent *a)
{
    struct ag_ha *h = a->ha;
    if (h->fence.mode != HAC_FM_RECONCILE || !h->leader_commit ||
        ag_raft_applied(a) < h->leader_commit)
        return;
    hac_fence_input in = {.kind = HAC_FIN_SYNCED, .state = h->st};
    fence_feed(a, &in);
}

static void fence_feed(ag_agent *a, hac_fence_input *in)
{
    struct ag_ha *h = a->ha;
    hac_out *out = calloc(1, sizeof *out);
    if (!out)
        return;
    hac_fence_step(&h->fence, ag_now_ms(), in, out);
    for (uint32_t i = 0; i < out->n; i++) {
        const hac_out_item *it = &out->items[i];
        const char *vm = it->vm >= 0 && (uint32_t)it->vm < h->st->n_vms ? h->st->vms[it->vm].name : NULL;
        switch (it->kind) {
        case HAC_O_DESTROY:
            if (vm) {
                /* owned elsewhere: its definition lives on with its owner */
                int32_t owner = h->st->vms[it->vm].owner;
                ag_ha__exec_destroy(a, vm, h->st->vms[it->vm].uuid, owner >= 0 && owner != h->self, it->text);
            }
            break;
        case HAC_O_EXEC:
            ag_ha__exec_cmd(a, &it->cmd);
            break;
        case HAC_O_REFUSE:
            h->cmds_refused++;
            ag_ha__send_result(a, &it->cmd, false, it->text);
            break;
        default:
            break;
        }
    }
    free(out);
    if (h->fence.mode != h->last_mode) {
        static const char *names[] = {"reconcile", "active", "fenced"};
        ag_event(a, "fence", json_pack("{s:s}", "mode", names[h->fence.mode]),
                 "fence: %s -> %s%s", names[h->last_mode], names[h->fence.mode],
                 h->fence.mode == HAC_FM_FENCED ? " (no contact with the coordinator's quorum: "
                                                  "protected VMs here are destroyed)"
                 : h->fence.mode == HAC_FM_ACTIVE ? " (caught up with the cluster; commands accepted)" : "");
        h->last_mode = h->fence.mode;
    }
    if (in->kind == HAC_FIN_CONTACT)
        save_lease(a, false);
}

/* ---- coordinator --------------------------------------------------------------------- */

static void pump(ag_agent *a);

static void propose_done(ag_agent *a, void *ud, int code, uint64_t index, const char *error)
{
    (void)a;
    (void)ud;
    (void)index;
    if (code)
        ag_debug("ha: proposal not committed (%d: %s); the coordinator re-plans", code, error ? error : "");
}

static void propose(ag_agent *a, const hac_prop *p, const char *reason)
{
    uint8_t *buf;
    size_t n;
    if (hac_prop_encode(p, reason, &buf, &n) != 0)
        return;
    Drover__Command c = DROVER__COMMAND__INIT;
    c.op = DROVER__COMMAND_OP__CMD_HA;
    c.key = (char *)HA_STATE_KEY;
    c.ha.data = buf;
    c.ha.len = n;
    ag_raft_submit_cmd(a, &c, propose_done, NULL);
    free(buf);
}

static void send_cmd(ag_agent *a, const hac_cmd *cmd)
{
    struct ag_ha *h = a->ha;
    const hac_rstate *s = hac_coord_state(h->coord);
    uint32_t dest = cmd->kind == HAC_CMD_MIGRATE ? cmd->from : cmd->to;
    if (dest >= s->n_hosts)
        return;
    Drover__HaCommand c = DROVER__HA_COMMAND__INIT;
    c.kind = (uint32_t)cmd->kind;
    c.id = cmd->id;
    c.term = cmd->term;
    c.generation = cmd->generation;
    c.vm = cmd->vm;
    c.from = cmd->from;
    c.to = cmd->to;
    c.text = (char *)cmd->text;
    c.commit = ag_raft_commit(a);
    Drover__HaMsg m = DROVER__HA_MSG__INIT;
    m.command = &c;
    send_msg(a, ag_ha__member(a, s->hosts[dest].name), &m);
}

/* An event text right after a proposal about the same VM or host is its reason. */
static const char *reason_for(const hac_out *out, uint32_t i)
{
    const hac_out_item *p = &out->items[i];
    for (uint32_t j = i + 1; j < out->n && j < i + 4; j++) {
        const hac_out_item *e = &out->items[j];
        if (e->kind != HAC_O_EVENT)
            continue;
        bool vm_prop = p->prop.kind != HAC_P_ADMIN && p->prop.kind != HAC_P_HOST_ADD &&
                       p->prop.kind != HAC_P_UPGRADE;
        if ((vm_prop && e->vm == (int32_t)p->prop.index) ||
            (p->prop.kind == HAC_P_ADMIN && e->host == (int32_t)p->prop.index) ||
            (p->prop.kind == HAC_P_UPGRADE && e->vm < 0 && e->host < 0))
            return e->text;
    }
    return "";
}

static void coord_feed(ag_agent *a, hac_input *in)
{
    struct ag_ha *h = a->ha;
    if (!h->coord)
        return;
    hac_out *out = calloc(1, sizeof *out);
    if (!out)
        return;
    a->ha->coord_depth++;
    hac_event ev = {.now_ms = ag_now_ms(), .in = in};
    int rc = hac_coord_step(h->coord, &ev, out);
    if (rc)
        ag_debug("ha: coordinator refused input %d: %d", in->kind, rc);
    bool *used = calloc(out->n + 1, sizeof *used);
    for (uint32_t i = 0; i < out->n && used; i++) {
        const hac_out_item *it = &out->items[i];
        if (it->kind == HAC_O_PROPOSE) {
            const char *r = reason_for(out, i);
            for (uint32_t j = i + 1; r[0] && j < out->n; j++)
                if (out->items[j].text == r)
                    used[j] = true;
            propose(a, &it->prop, r);
        } else if (it->kind == HAC_O_CMD) {
            send_cmd(a, &it->cmd);
        }
    }
    const hac_rstate *s = hac_coord_state(h->coord);
    for (uint32_t i = 0; i < out->n && used; i++) {
        const hac_out_item *it = &out->items[i];
        if (it->kind != HAC_O_EVENT || used[i])
            continue;
        json_t *f = json_object();
        if (it->vm >= 0 && (uint32_t)it->vm < s->n_vms)
            json_object_set_new(f, "vm", json_string(s->vms[it->vm].name));
        if (it->host >= 0)
            json_object_set_new(f, "about", json_string(host_name(s, it->host)));
        ag_event(a, "ha", f, "%s", it->text);
        /* what cannot move or be placed is shown by `drover host drain --wait` */
        if ((strstr(it->text, "cannot") || strstr(it->text, "unplaced")) && h->n_stuck < HA_STUCK_MAX &&
            it->vm >= 0 && (uint32_t)it->vm < s->n_vms) {
            snprintf(h->stuck[h->n_stuck++], HAC_TEXT_MAX, "%.*s\t%.*s", HAC_NAME_MAX - 1, s->vms[it->vm].name,
                     HAC_TEXT_MAX - HAC_NAME_MAX - 1, it->text);
            h->stuck_ms = ag_now_ms();
        }
    }
    free(used);
    if (out->n_dropped)
        ag_debug("ha: %u coordinator outputs dropped (recomputed next tick)", out->n_dropped);
    free(out);
    a->ha->coord_depth--;
    if (a->ha->coord_depth == 0)
        pump(a);
}

/* Commits reach the coordinator in log order, outside any other core step. */
static void pump(ag_agent *a)
{
    struct ag_ha *h = a->ha;
    if (a->ha->coord_depth)
        return;
    while (h->n_pend) {
        struct ha_applied p = h->pend[0];
        memmove(h->pend, h->pend + 1, (--h->n_pend) * sizeof *h->pend);
        uint32_t r = (uint32_t)(p.index % HA_APPLY_RING);
        h->ring_index[r] = p.index;
        h->ring_rc[r] = p.rc;
        if (h->coord) {
            hac_input in = {.kind = HAC_IN_COMMIT, .prop = &p.prop, .commit_rc = p.rc};
            coord_feed(a, &in);
        }
        if (p.rc != 0)
            continue;
        /* every host logs every decision, so `drover events` anywhere tells the story */
        const hac_rstate *s = h->st;
        json_t *f = json_pack("{s:i,s:I}", "decision", (int)p.prop.kind, "index", (json_int_t)p.index);
        const char *vm = NULL;
        if (p.prop.kind != HAC_P_ADMIN && p.prop.kind != HAC_P_HOST_ADD && p.prop.kind != HAC_P_UPGRADE) {
            vm = p.prop.kind == HAC_P_VM_ADD ? p.prop.vm.name
                 : p.prop.index < s->n_vms ? s->vms[p.prop.index].name : "?";
            json_object_set_new(f, "vm", json_string(vm));
        }
        char text[2 * HAC_TEXT_MAX + 2 * HAC_NAME_MAX];
        switch (p.prop.kind) {
        case HAC_P_HOST_ADD: snprintf(text, sizeof text, "host %s registered for HA", p.prop.host.name); break;
        case HAC_P_VM_ADD:
            snprintf(text, sizeof text, "VM %s registered, owner %s", vm, host_name(s, p.prop.vm.owner));
            break;
        case HAC_P_OWNER:
            snprintf(text, sizeof text, "VM %s now owned by %s (generation %llu)%s%s", vm,
                     host_name(s, p.prop.owner), (unsigned long long)p.prop.generation,
                     p.reason[0] ? ": " : "", p.reason);
            break;
        case HAC_P_MOVING:
            snprintf(text, sizeof text, p.prop.owner >= 0 ? "VM %s moving to %s%s%s" : "VM %s: move %s cleared%s%s",
                     vm, p.prop.owner >= 0 ? host_name(s, p.prop.owner) : "", p.reason[0] ? ": " : "", p.reason);
            break;
        case HAC_P_PROTECT:
            snprintf(text, sizeof text, "VM %s %s (priority %d, order %d, max restarts %u)", vm,
                     p.prop.vm.protected_ ? "protected" : "unprotected", p.prop.vm.priority,
                     p.prop.vm.restart_order, p.prop.vm.max_restarts);
            break;
        case HAC_P_PROT_ACK: snprintf(text, sizeof text, "VM %s: its owner knows it is protected", vm); break;
        case HAC_P_ADMIN:
            snprintf(text, sizeof text, "host %s is %s%s%s%s%s", host_name(s, (int32_t)p.prop.index),
                     hac_admin_name(p.prop.admin), p.prop.degraded_flag ? " (degraded flag)" : "",
                     p.prop.failback ? " (failback)" : "", p.reason[0] ? ": " : "", p.reason);
            break;
        default: {
            static const char *st[] = {"idle", "running", "paused", "done", "aborted"};
            static const char *ph[] = {"drain", "run command", "wait to rejoin", "undrain"};
            const hac_upgrade *u = &p.prop.upgrade;
            snprintf(text, sizeof text, "upgrade %s: host %u of %u (%s), %s%s%s", st[u->state],
                     u->cur < u->n ? u->cur + 1 : u->n, u->n,
                     u->cur < u->n ? host_name(s, (int32_t)u->order[u->cur]) : "-", ph[u->phase],
                     p.reason[0] ? ": " : "", p.reason);
            break;
        }
        }
        ag_event(a, "ha", f, "%s", text);
    }
}

void ag_ha_applied(ag_agent *a, uint64_t index)
{
    struct ag_ha *h = a->ha;
    (void)index;
    if (!h)
        return;
    if (st_read(a->store, load_fn, h->st) != 0)
        return;
    self_index(h);
    pump(a);
    maybe_synced(a);
    /* commands that waited for this much of the log */
    uint32_t n = h->n_parked;
    for (uint32_t i = 0; i < n && i < h->n_parked;) {
        if (ag_raft_applied(a) >= h->parked_commit[i]) {
            hac_fence_input in = {.kind = HAC_FIN_COMMAND, .state = h->st, .cmd = h->parked[i]};
            memmove(&h->parked[i], &h->parked[i + 1], (h->n_parked - i - 1) * sizeof *h->parked);
            memmove(&h->parked_commit[i], &h->parked_commit[i + 1], (h->n_parked - i - 1) * sizeof *h->parked_commit);
            memmove(&h->parked_ms[i], &h->parked_ms[i + 1], (h->n_parked - i - 1) * sizeof *h->parked_ms);
            h->n_parked--;
            fence_feed(a, &in);
        } else
            i++;
    }
}

static hac_rstate *rebased_copy(const struct ag_ha *h)
{
    hac_rstate *s = malloc(sizeof *s);
    if (s) {
        *s = *h->st;
        /* a phase start stamped by another host's clock means nothing here */
        s->upgrade.phase_since_ms = ag_now_ms();
    }
    return s;
}

void ag_ha_leader(ag_agent *a, bool leader, uint64_t term)
{
    struct ag_ha *h = a->ha;
    if (!h)
        return;
    if (h->coord && (!leader || term != h->coord_term)) {
        hac_coord_free(h->coord);
        h->coord = NULL;
        ag_info("ha: no longer coordinating (term %llu)", (unsigned long long)h->coord_term);
    }
    if (leader && !h->coord) {
        hac_rstate *s = rebased_copy(h);
        h->coord = s ? hac_coord_new(&h->cfg, s, term) : NULL;
        free(s);
        if (!h->coord) {
            ag_err("ha: out of memory starting the coordinator");
            return;
        }
        h->coord_term = term;
        uint64_t now = ag_now_ms();
        /* the old coordinator's acks are unknown: count every host as acked now, which
         * only pushes leases later (docs/ha.md) */
        for (uint32_t i = 0; i < HAC_HOSTS_MAX; i++)
            h->last_ack[i] = now;
        memset(h->hv, 0, sizeof h->hv);
        memset(h->fed, 0, sizeof h->fed);
        h->view_ms = 0;
        h->n_moves = 0;
        ag_event(a, "ha", json_pack("{s:I}", "term", (json_int_t)term),
                 "coordinator started for term %llu with %u hosts, %u VMs", (unsigned long long)term,
                 h->st->n_hosts, h->st->n_vms);
    }
}

/* ---- gossip view of hosts (coordinator) ---------------------------------------------- */

static void refresh_view(ag_agent *a)
{
    struct ag_ha *h = a->ha;
    struct gsp *g = ag_gossip_core(a);
    const hac_rstate *s = hac_coord_state(h->coord);
    for (uint32_t i = 0; i < s->n_hosts; i++)
        h->hv[i].known = false, h->hv[i].live = HAC_SUSPECT, h->hv[i].mtu = 0;
    if (!g)
        return;
    size_t n = gsp_member_count(g);
    for (size_t k = 0; k < n; k++) {
        struct gsp_member_info mi;
        if (gsp_member_get(g, k, &mi) != 0)
            continue;
        const ag_member *mb = ag_members_find(&a->members, mi.id.b);
        int i = mb ? hac_find_host(s, mb->name) : -1;
        if (i < 0)
            continue;
        struct ha_hostview *v = &h->hv[i];
        v->live = mi.state == GSP_ALIVE ? HAC_ALIVE : mi.state == GSP_SUSPECT ? HAC_SUSPECT : HAC_DEAD;
        Drover__HostStatus *st;
        if (!mi.status_len || ag_status_open(&a->members, mi.id.b, mi.status, mi.status_len, &st) != 0)
            continue;
        v->known = true;
        v->mem_mib = st->memory_total_kib / 1024;
        v->cpus = st->vcpus;
        plc_version ver = 0;
        (void)plc_version_parse(st->agent_version, &ver);
        v->version = ver;
        snprintf(v->migration_addr, sizeof v->migration_addr, "%s", st->migration_addr ? st->migration_addr : "");
        const Drover__HealthSignals *hs = st->health;
        v->why[0] = 0;
        if (hs) {
            if (!hs->libvirtd_responsive)
                snprintf(v->why, sizeof v->why, "libvirtd not responding");
            else if (hs->storage_errors)
                snprintf(v->why, sizeof v->why, "%u shared-storage errors", hs->storage_errors);
            else if (hs->storage_latency_ms > (uint32_t)a->cfg.storage_latency_max_ms)
                snprintf(v->why, sizeof v->why, "shared-storage latency %u ms", hs->storage_latency_ms);
            else if (!hs->nic_link_up)
                snprintf(v->why, sizeof v->why, "migration-network link down");
            v->mtu = hs->migration_mtu;
        }
        drover__host_status__free_unpacked(st, NULL);
    }
    /* MTU: a host whose migration network differs from the majority's is the odd one
     * out (a switch port or bond reconfigured); with no majority nobody is blamed */
    uint32_t maj = 0, n_mtu = 0;
    for (uint32_t i = 0; i < s->n_hosts; i++)
        n_mtu += h->hv[i].known && h->hv[i].mtu;
    for (uint32_t i = 0; i < s->n_hosts && !maj; i++) {
        uint32_t same = 0;
        for (uint32_t j = 0; j < s->n_hosts; j++)
            same += h->hv[j].known && h->hv[i].mtu && h->hv[j].mtu == h->hv[i].mtu;
        if (h->hv[i].known && 2 * same > n_mtu)
            maj = h->hv[i].mtu;
    }
    for (uint32_t i = 0; i < s->n_hosts; i++) {
        struct ha_hostview *v = &h->hv[i];
        if (!v->known)
            continue;
        if (!v->why[0] && maj && v->mtu && v->mtu != maj)
            snprintf(v->why, sizeof v->why, "migration-network MTU %u differs from the other hosts' %u",
                     v->mtu, maj);
        bool was = v->degraded_now;
        v->degraded_now = v->why[0] != 0;
        if (v->degraded_now != was)
            ag_event(a, "health", json_pack("{s:s,s:b}", "about", s->hosts[i].name, "degraded", v->degraded_now),
                     "host %s: %s", s->hosts[i].name, v->degraded_now ? v->why : "health signals good again");
    }
}

static void register_hosts(ag_agent *a, uint64_t now)
{
    struct ag_ha *h = a->ha;
    const hac_rstate *s = hac_coord_state(h->coord);
    for (size_t i = 0; i < a->members.n && i < HAC_HOSTS_MAX; i++) {
        const ag_member *m = &a->members.v[i];
        if (hac_find_host(s, m->name) >= 0 || now < h->add_host_ms[i] + HA_ADD_RETRY_MS)
            continue;
        if (s->n_hosts >= HAC_HOSTS_MAX) {
            ag_warn("ha: host %s is beyond the %d hosts one HA domain manages", m->name, HAC_HOSTS_MAX);
            continue;
        }
        h->add_host_ms[i] = now;
        hac_prop p = {.kind = HAC_P_HOST_ADD};
        snprintf(p.host.name, sizeof p.host.name, "%.*s", HAC_NAME_MAX - 1, m->name);
        propose(a, &p, "");
    }
}

/* [ha] fence_command: power a dead host off so its VMs restart without waiting out the
 * lease. Only a command that confirms the host is off (exit 0) counts. */
static void fence_dead_hosts(ag_agent *a, uint64_t now)
{
    struct ag_ha *h = a->ha;
    const hac_rstate *s = hac_coord_state(h->coord);
    for (uint32_t i = 0; i < s->n_hosts; i++) {
        if (h->hv[i].live != HAC_DEAD) {
            h->fence_confirmed[i] = false;
            continue;
        }
        if (!a->cfg.fence_command[0] || h->fencing[i] || h->fence_confirmed[i] || now < h->fence_next_ms[i] ||
            (int32_t)i == h->self)
            continue;
        const ag_member *m = ag_ha__member(a, s->hosts[i].name);
        h->fencing[i] = true;
        ag_ha__exec_fence(a, i, s->hosts[i].name, m ? m->addr : "");
    }
}

void ag_ha__fenced(ag_agent *a, uint32_t host, bool ok, const char *text)
{
    struct ag_ha *h = a->ha;
    if (!h || host >= HAC_HOSTS_MAX)
        return;
    h->fencing[host] = false;
    const char *name = host < h->st->n_hosts ? h->st->hosts[host].name : "?";
    ag_event(a, "fence", json_pack("{s:s,s:b}", "about", name, "ok", ok), "fence_command for %s: %s%s", name,
             text, ok ? " — host is off, its VMs may restart now" : "; tried again in 30 s");
    if (!ok) {
        h->fence_next_ms[host] = ag_now_ms() + 30000;
        return;
    }
    h->fence_confirmed[host] = true;
    if (h->coord && host < hac_coord_state(h->coord)->n_hosts) {
        hac_input in = {.kind = HAC_IN_FENCED, .host = host};
        coord_feed(a, &in);
    }
}

static void coord_tick(ag_agent *a, uint64_t now)
{
    struct ag_ha *h = a->ha;
    if (!h->coord)
        return;
    register_hosts(a, now);
    if (now >= h->view_ms + HA_VIEW_MS) {
        h->view_ms = now;
        refresh_view(a);
    }
    const hac_rstate *s = hac_coord_state(h->coord);
    for (uint32_t i = 0; i < s->n_hosts; i++) {
        const struct ha_hostview *v = &h->hv[i];
        hac_input in = {.kind = HAC_IN_HOST, .host = i, .live = v->live, .degraded = v->degraded_now,
                        .last_ack_ms = h->last_ack[i], .version = v->version, .mem_mib = v->mem_mib,
                        .cpus = v->cpus};
        coord_feed(a, &in);
    }
    hac_input t = {.kind = HAC_IN_TICK};
    coord_feed(a, &t);
    fence_dead_hosts(a, now);
    /* progress older than two reports is from a move that ended */
    for (uint32_t i = 0; i < h->n_moves;)
        if (now > h->moves[i].seen_ms + 2 * HA_REPORT_MS + 500)
            h->moves[i] = h->moves[--h->n_moves];
        else
            i++;
    if (h->n_stuck && now > h->stuck_ms + 30000)
        h->n_stuck = 0;
}

static void feed_constraints(ag_agent *a, uint32_t vi, const Drover__HaInvVm *v);

static void on_report(ag_agent *a, const uint8_t sender[AG_HOST_ID_LEN], const Drover__HaReport *r)
{
    struct ag_ha *h = a->ha;
    uint64_t term = 0;
    /* only a leader whose quorum answered within half an election timeout may extend a
     * lease: see the design note at the top */
    if (!h->coord || !ag_raft_lead_fresh(a, &term) || term != h->coord_term)
        return;
    const ag_member *m = ag_members_find(&a->members, sender);
    if (!m)
        return;
    h->reports_in++;
    const hac_rstate *s = hac_coord_state(h->coord);
    int hi = hac_find_host(s, m->name);
    uint64_t now = ag_now_ms();
    if (hi >= 0) {
        h->last_ack[hi] = now;
        if (r->inventory_ok) {
            uint32_t *vms = calloc(r->n_vms + 1, sizeof *vms), *busy = calloc(r->n_busy + 1, sizeof *busy);
            hac_gen *gens = calloc(r->n_vms + 1, sizeof *gens);
            uint32_t nv = 0, nb = 0;
            for (size_t i = 0; vms && gens && i < r->n_vms; i++) {
                const Drover__HaInvVm *v = r->vms[i];
                int vi = v->name ? hac_find_vm(s, v->name) : -1;
                if (vi < 0 && v->name && strlen(v->name) < HAC_NAME_MAX) {
                    /* a VM the cluster has not seen: register it where it is */
                    uint32_t slot = 0;
                    while (slot < HAC_VMS_MAX && h->add_vm[slot][0] && strcmp(h->add_vm[slot], v->name) != 0)
                        slot++;
                    if (slot < HAC_VMS_MAX && (!h->add_vm[slot][0] || now >= h->add_vm_ms[slot] + HA_ADD_RETRY_MS)) {
                        snprintf(h->add_vm[slot], HAC_NAME_MAX, "%s", v->name);
                        h->add_vm_ms[slot] = now;
                        hac_prop p = {.kind = HAC_P_VM_ADD};
                        snprintf(p.vm.name, sizeof p.vm.name, "%s", v->name);
                        p.vm.mem_mib = v->mem_mib;
                        p.vm.vcpus = v->vcpus;
                        p.vm.want_running = v->running;
                        snprintf(p.vm.uuid, sizeof p.vm.uuid, "%s", v->uuid ? v->uuid : "");
                        p.vm.owner = hi;
                        p.vm.moving_to = p.vm.home = -1;
                        propose(a, &p, "");
                    }
                    continue;
                }
                if (vi >= 0 && s->vms[vi].uuid[0] && v->uuid && strcmp(v->uuid, s->vms[vi].uuid) != 0)
                    continue;   /* another VM with the same name: not ours */
                if (vi >= 0)
                    feed_constraints(a, (uint32_t)vi, v);
                if (vi >= 0 && v->running) {
                    vms[nv] = (uint32_t)vi;
                    gens[nv++] = v->generation;
                }
            }
            for (size_t i = 0; busy && i < r->n_busy; i++) {
                int vi = r->busy[i] ? hac_find_vm(s, r->busy[i]) : -1;
                if (vi >= 0)
                    busy[nb++] = (uint32_t)vi;
            }
            if (vms && gens && busy) {
                hac_input in = {.kind = HAC_IN_INVENTORY, .host = (uint32_t)hi, .vms = vms, .gens = gens,
                                .n_vms = nv, .busy = busy, .n_busy = nb};
                coord_feed(a, &in);
            }
            free(vms);
            free(gens);
            free(busy);
        }
        for (size_t i = 0; i < r->n_moves; i++) {
            const Drover__HaMove *mv = r->moves[i];
            uint32_t k = 0;
            while (k < h->n_moves && strcmp(h->moves[k].vm, mv->vm ? mv->vm : "") != 0)
                k++;
            if (k == h->n_moves) {
                if (h->n_moves == HA_MOVES_MAX)
                    continue;
                h->n_moves++;
            }
            struct ha_move *x = &h->moves[k];
            snprintf(x->vm, sizeof x->vm, "%s", mv->vm ? mv->vm : "");
            snprintf(x->from, sizeof x->from, "%.*s", HAC_NAME_MAX - 1, m->name);
            snprintf(x->to, sizeof x->to, "%s", mv->to ? mv->to : "");
            x->percent = mv->percent;
            x->bytes_per_s = mv->bytes_per_s;
            x->seen_ms = now;
        }
    }
    Drover__HaAck ack = DROVER__HA_ACK__INIT;
    ack.sent_ms = r->sent_ms;
    ack.term = term;
    ack.commit = ag_raft_commit(a);
    Drover__HaMove mv[HA_MOVES_MAX], *mvp[HA_MOVES_MAX];
    for (uint32_t i = 0; i < h->n_moves; i++) {
        drover__ha_move__init(&mv[i]);
        mv[i].vm = h->moves[i].vm;
        mv[i].from = h->moves[i].from;
        mv[i].to = h->moves[i].to;
        mv[i].percent = h->moves[i].percent;
        mv[i].bytes_per_s = h->moves[i].bytes_per_s;
        mvp[i] = &mv[i];
    }
    ack.moves = mvp;
    ack.n_moves = h->n_moves;
    char *stp[HA_STUCK_MAX];
    for (uint32_t i = 0; i < h->n_stuck; i++)
        stp[i] = h->stuck[i];
    ack.stuck = stp;
    ack.n_stuck = h->n_stuck;
    Drover__HaMsg out = DROVER__HA_MSG__INIT;
    out.ack = &ack;
    send_msg(a, m, &out);
}

static void on_ack(ag_agent *a, const uint8_t sender[AG_HOST_ID_LEN], const Drover__HaAck *k)
{
    struct ag_ha *h = a->ha;
    const ag_member *leader = ag_raft_leader_member(a);
    /* an answer from anyone but the host we believe leads, or from an older term than
     * any command we accepted, extends nothing */
    if (!leader || memcmp(leader->id, sender, AG_HOST_ID_LEN) != 0 || k->term < h->fence.max_term)
        return;
    h->acks++;
    h->leader_commit = k->commit;
    hac_fence_input in = {.kind = HAC_FIN_CONTACT, .sent_ms = k->sent_ms};
    fence_feed(a, &in);
    maybe_synced(a);
    if (!h->coord) {
        h->n_moves = 0;
        for (size_t i = 0; i < k->n_moves && i < HA_MOVES_MAX; i++) {
            struct ha_move *x = &h->moves[h->n_moves++];
            const Drover__HaMove *mv = k->moves[i];
            snprintf(x->vm, sizeof x->vm, "%s", mv->vm ? mv->vm : "");
            snprintf(x->from, sizeof x->from, "%s", mv->from ? mv->from : "");
            snprintf(x->to, sizeof x->to, "%s", mv->to ? mv->to : "");
            x->percent = mv->percent;
            x->bytes_per_s = mv->bytes_per_s;
        }
        h->n_stuck = 0;
        for (size_t i = 0; i < k->n_stuck && i < HA_STUCK_MAX; i++)
            snprintf(h->stuck[h->n_stuck++], HAC_TEXT_MAX, "%s", k->stuck[i] ? k->stuck[i] : "");
    }
}

static void on_command(ag_agent *a, const uint8_t sender[AG_HOST_ID_LEN], const Drover__HaCommand *c)
{
    struct ag_ha *h = a->ha;
    if (c->kind < HAC_CMD_MIGRATE || c->kind > HAC_CMD_RUN || c->vm >= HAC_VMS_MAX ||
        c->from >= HAC_HOSTS_MAX || c->to >= HAC_HOSTS_MAX || (c->text && strlen(c->text) >= HAC_TEXT_MAX)) {
        a->rejected_payload++;
        return;
    }
    h->cmds_in++;
    hac_cmd cmd = {.kind = (hac_cmd_kind)c->kind, .id = c->id, .term = c->term, .generation = c->generation,
                   .vm = c->vm, .from = c->from, .to = c->to};
    snprintf(cmd.text, sizeof cmd.text, "%s", c->text ? c->text : "");
    if (ag_raft_applied(a) < c->commit) {
        /* judge it against the state it was decided on: wait for the log */
        if (h->n_parked == HA_PARKED_CMDS) {
            ag_ha__send_result(a, &cmd, false, "too many commands waiting for the log here");
            return;
        }
        uint32_t i = h->n_parked++;
        h->parked[i] = cmd;
        h->parked_commit[i] = c->commit;
        h->parked_ms[i] = ag_now_ms();
        memcpy(h->parked_from[i], sender, 16);
        return;
    }
    hac_fence_input in = {.kind = HAC_FIN_COMMAND, .state = h->st, .cmd = cmd};
    fence_feed(a, &in);
}

static void on_result(ag_agent *a, const Drover__HaResult *r)
{
    struct ag_ha *h = a->ha;
    if (!h->coord || r->term != h->coord_term)
        return;   /* a result for another coordinator: this one re-plans from reports */
    hac_input in = {.kind = HAC_IN_RESULT, .cmd_id = r->id, .ok = r->ok};
    snprintf(in.text, sizeof in.text, "%s", r->text ? r->text : "");
    coord_feed(a, &in);
}

static void deliver(ag_agent *a, const uint8_t sender[AG_HOST_ID_LEN], const uint8_t *buf, size_t len)
{
    Drover__HaMsg *m = drover__ha_msg__unpack(NULL, len, buf);
    if (!m) {
        a->rejected_payload++;
        return;
    }
    if (m->report)
        on_report(a, sender, m->report);
    if (m->ack)
        on_ack(a, sender, m->ack);
    if (m->command)
        on_command(a, sender, m->command);
    if (m->result)
        on_result(a, m->result);
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
    send_msg(a, ag_raft_leader_member(a), &m);
}

/* ---- constraints from the full placement view ----------------------------------------- */

/* Findings that no amount of waiting fixes: the VM can never go to that host. Capacity,
 * admin state and health change, and the core judges those itself. */
static bool static_block(const char *code, bool copy_allowed)
{
    /* with storage migration allowed, local disks travel with a drained VM; that they
     * cannot be restarted elsewhere is then the START's failure to report, not a bar
     * on every host (one mask serves drains and restarts) */
    if (copy_allowed && (strcmp(code, "storage.copy_needed") == 0 || strcmp(code, "storage.not_shared") == 0))
        return false;
    static const char *const codes[] = {"cpu.", "device.", "network.missing", "storage.not_shared",
                                        "storage.copy_needed", "host.migration_disabled",
                                        "vm.migration_disabled", "version.libvirt", "version.qemu"};
    for (size_t i = 0; i < sizeof codes / sizeof *codes; i++)
        if (strncmp(code, codes[i], strlen(codes[i])) == 0)
            return true;
    return false;
}

static void compute_constraints(ag_agent *a)
{
    struct ag_ha *h = a->ha;
    uint64_t now = ag_now_ms();
    if (now < h->cons_ms + HA_CONS_MS || !h->inv_ok)
        return;
    h->cons_ms = now;
    if (!h->cons && !(h->cons = calloc(HA_CONS_MAX, sizeof *h->cons)))
        return;
    ag_view *v = malloc(sizeof *v);
    plc_report *rep = malloc(sizeof *rep);
    h->n_cons = 0;
    if (!v || !rep || ag_view_from_gossip(v, a) != 0 || v->self < 0)
        goto out;
    for (size_t i = 0; i < h->n_inv && h->n_cons < HA_CONS_MAX; i++) {
        const hv_vm *vm = &h->inv[i];
        char err[160];
        if (ag_ha__vm_index(h, vm) < 0 || ag_view_add_vm(v, vm, v->self, err, sizeof err) != 0)
            continue;
        struct ha_cons *c = &h->cons[h->n_cons];
        memset(c, 0, sizeof *c);
        snprintf(c->vm, sizeof c->vm, "%.*s", HAC_NAME_MAX - 1, vm->name);
        for (uint32_t k = 0; k < v->pv.n_hosts && c->n < HAC_HOSTS_MAX; k++) {
            if ((int32_t)k == v->self)
                continue;
            bool blocked = false;
            for (int kind = 0; kind < 2 && !blocked; kind++) {
                if (plc_check_kind(&v->pv, kind ? PLC_KIND_RESTART : PLC_KIND_MIGRATE, 0, k, rep) != 0)
                    continue;
                for (uint32_t f = 0; f < rep->n && !blocked; f++)
                    if (rep->items[f].blocking &&
                        static_block(rep->items[f].code, strcmp(a->cfg.storage_migration, "drain") == 0)) {
                        blocked = true;
                        if (!c->why[0])
                            snprintf(c->why, sizeof c->why, "%.40s: %.110s", rep->items[f].code,
                                     rep->items[f].reason);
                    }
            }
            if (blocked)
                snprintf(c->hosts[c->n++], HAC_NAME_MAX, "%.*s", HAC_NAME_MAX - 1, v->hosts[k].name);
        }
        h->n_cons++;
    }
out:
    free(v);
    free(rep);
}

/* Coordinator: feed a VM's constraints when they change (a step re-plans everything). */
static void feed_constraints(ag_agent *a, uint32_t vi, const Drover__HaInvVm *v)
{
    struct ag_ha *h = a->ha;
    const hac_rstate *s = hac_coord_state(h->coord);
    uint64_t mask = 0;
    for (size_t k = 0; k < v->n_cannot_run_on; k++) {
        int hi = v->cannot_run_on[k] ? hac_find_host(s, v->cannot_run_on[k]) : -1;
        if (hi >= 0)
            mask |= 1ull << hi;
    }
    if (h->fed[vi] && h->fed_must_not[vi] == mask)
        return;
    if (mask)
        ag_event(a, "ha", json_pack("{s:s}", "vm", v->name), "VM %s can never run on %zu host(s): %s",
                 v->name, v->n_cannot_run_on, v->cannot_why ? v->cannot_why : "");
    h->fed[vi] = true;
    h->fed_must_not[vi] = mask;
    hac_input in = {.kind = HAC_IN_CONSTRAINTS, .vm = vi, .must_not = mask};
    coord_feed(a, &in);
}

/* ---- the agent's own report ---------------------------------------------------------- */

/* The state's index for a local VM: -1 unknown, -2 same name but another UUID. */
int ag_ha__vm_index(const struct ag_ha *h, const hv_vm *v)
{
    int vi = hac_find_vm(h->st, v->name);
    if (vi >= 0 && h->st->vms[vi].uuid[0] && v->uuid[0] && strcmp(h->st->vms[vi].uuid, v->uuid) != 0)
        return -2;
    return vi;
}

/* A stopped VM whose owner is another host is a leftover (this host was fenced, or died
 * and came back after a restart elsewhere): its definition goes, the disks stay. Seen
 * twice, a report period apart, so a definition in transit is left alone. */
static void cleanup_definition(ag_agent *a, int vi, const hv_vm *v)
{
    struct ag_ha *h = a->ha;
    const hac_rvm *m = &h->st->vms[vi];
    if (m->owner < 0 || m->owner == h->self || m->moving_to >= 0 || ag_ha__job_busy(a, v->name)) {
        h->leftover[vi] = 0;
        return;
    }
    if (h->leftover[vi] != m->generation) {
        h->leftover[vi] = m->generation;
        return;
    }
    h->leftover[vi] = 0;
    char why[HAC_TEXT_MAX];
    snprintf(why, sizeof why, "owned by %s at generation %llu", h->st->hosts[m->owner].name,
             (unsigned long long)m->generation);
    ag_ha__exec_destroy(a, v->name, m->uuid, true, why);
}

void ag_ha__inventory_done(ag_agent *a)
{
    struct ag_ha *h = a->ha;
    uint32_t *local = calloc(h->n_inv + 1, sizeof *local);
    uint32_t nl = 0;
    Drover__HaInvVm *iv = calloc(h->n_inv + 1, sizeof *iv);
    Drover__HaInvVm **ivp = calloc(h->n_inv + 1, sizeof *ivp);
    char **busy = calloc(HA_JOBS_MAX + 1, sizeof *busy);
    if (!local || !iv || !ivp || !busy)
        goto out;
    size_t nr = 0, nconsp = 0;
    char *consp[HAC_HOSTS_MAX * 4];   /* every local VM's barred hosts, at most this many in all */
    compute_constraints(a);
    for (size_t i = 0; i < h->n_inv; i++) {
        const hv_vm *v = &h->inv[i];
        int vi = ag_ha__vm_index(h, v);
        bool running = v->state == HV_VM_RUNNING || v->state == HV_VM_PAUSED;
        if (vi == -2) {
            if (!h->warned_same_name) {
                h->warned_same_name = true;
                ag_event(a, "ha", json_pack("{s:s,s:s}", "vm", v->name, "uuid", v->uuid),
                         "VM %s here is not the cluster's VM of that name (other UUID): drover leaves it "
                         "alone; give it a unique name to manage it", v->name);
            }
            continue;
        }
        if (vi >= 0 && running)
            local[nl++] = (uint32_t)vi;
        /* the paused receiving end of a move to here is not a second copy */
        if (vi >= 0 && v->state == HV_VM_PAUSED && h->st->vms[vi].moving_to == h->self && h->self >= 0)
            running = false;
        if (vi >= 0 && !running && h->fence.mode == HAC_FM_ACTIVE && h->self >= 0)
            cleanup_definition(a, vi, v);
        drover__ha_inv_vm__init(&iv[nr]);
        for (uint32_t c = 0; c < h->n_cons; c++)
            if (strcmp(h->cons[c].vm, v->name) == 0) {
                iv[nr].cannot_run_on = consp + nconsp;
                for (uint32_t k = 0; k < h->cons[c].n && nconsp < HAC_HOSTS_MAX * 4; k++)
                    consp[nconsp++] = h->cons[c].hosts[k];
                iv[nr].n_cannot_run_on = (size_t)(consp + nconsp - iv[nr].cannot_run_on);
                iv[nr].cannot_why = h->cons[c].why;
            }
        iv[nr].name = (char *)v->name;
        iv[nr].uuid = (char *)v->uuid;
        iv[nr].generation = vi >= 0 ? h->st->vms[vi].generation : 0;
        /* A protected VM's owner acknowledges the protection (reports the current
         * generation) only once the definition another host needs to restart it is in
         * the replicated state: until then a restart elsewhere could only fail. */
        if (vi >= 0 && h->st->vms[vi].protected_ && h->st->vms[vi].owner == h->self &&
            !h->st->vms[vi].prot_acked && iv[nr].generation && !ag_ha__xml_stored(a, v->name))
            iv[nr].generation--;
        iv[nr].mem_mib = v->mem_kib / 1024;
        iv[nr].vcpus = v->vcpus;
        iv[nr].running = running;
        ivp[nr] = &iv[nr];
        nr++;
    }
    if (h->inv_ok) {
        hac_fence_input in = {.kind = HAC_FIN_LOCAL, .state = h->st, .vms = local, .n_vms = nl};
        fence_feed(a, &in);
    }
    struct ha_move mv[HA_JOBS_MAX];
    uint32_t nm = 0;
    ag_ha__local_moves(a, mv, &nm, HA_JOBS_MAX);
    Drover__HaMove pm[HA_JOBS_MAX], *pmp[HA_JOBS_MAX];
    for (uint32_t i = 0; i < nm; i++) {
        drover__ha_move__init(&pm[i]);
        pm[i].vm = mv[i].vm;
        pm[i].to = mv[i].to;
        pm[i].percent = mv[i].percent;
        pm[i].bytes_per_s = mv[i].bytes_per_s;
        pmp[i] = &pm[i];
        busy[i] = mv[i].vm;
    }
    Drover__HaReport r = DROVER__HA_REPORT__INIT;
    r.vms = ivp;
    r.n_vms = h->inv_ok ? nr : 0;
    r.busy = busy;
    r.n_busy = nm;
    r.moves = pmp;
    r.n_moves = nm;
    r.applied = ag_raft_applied(a);
    r.inventory_ok = h->inv_ok;
    r.sent_ms = ag_now_ms();   /* the lease counts from here */
    Drover__HaMsg m = DROVER__HA_MSG__INIT;
    m.report = &r;
    send_msg(a, ag_raft_leader_member(a), &m);
out:
    free(local);
    free(iv);
    free(ivp);
    free(busy);
}

/* ---- timers -------------------------------------------------------------------------- */

static void on_tick(ag_loop *l, ag_id id, void *ud)
{
    (void)l;
    (void)id;
    ag_agent *a = ud;
    struct ag_ha *h = a->ha;
    uint64_t now = ag_now_ms();
    hac_fence_input t = {.kind = HAC_FIN_TICK};
    fence_feed(a, &t);
    save_lease(a, false);
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
    coord_tick(a, now);
}

/* ---- start / stop / status ----------------------------------------------------------- */

int ag_ha_start(ag_agent *a, char *err, size_t errlen)
{
    struct ag_ha *h = calloc(1, sizeof *h);
    if (!h || !(h->st = malloc(sizeof *h->st))) {
        free(h);
        snprintf(err, errlen, "out of memory starting HA");
        return AG_EX_OSERR;
    }
    /* A leader change takes up to two election timeouts (the second try after a split
     * vote) plus a report period to reach the new coordinator; a fence_timeout shorter
     * than that would make every host destroy its protected VMs at each leader change. */
    int64_t need = 2 * a->cfg.election_timeout_ms + 2 * HA_REPORT_MS;
    if (a->cfg.fence_timeout_ms < need) {
        snprintf(err, errlen, "[ha] fence_timeout = %lld ms is too short for [ha] election_timeout = "
                 "%lld ms: hosts would fence their VMs at every coordinator change; use at least %lld ms "
                 "(2 x election_timeout + %d ms)", (long long)a->cfg.fence_timeout_ms,
                 (long long)a->cfg.election_timeout_ms, (long long)need, 2 * HA_REPORT_MS);
        free(h->st);
        free(h);
        return AG_EX_CONFIG;
    }
    h->a = a;
    hac_config_default(&h->cfg);
    h->cfg.fence_timeout_ms = (uint64_t)a->cfg.fence_timeout_ms;
    pthread_mutex_init(&h->conn_mu, NULL);
    int rc = st_read(a->store, load_fn, h->st);
    if (rc) {
        snprintf(err, errlen, "cannot read the HA state from %s: %s", st_path(a->store), mdb_strerror(rc));
        free(h->st);
        free(h);
        return AG_EX_DATAERR;
    }
    a->ha = h;
    hac_fence_init(&h->fence, HAC_HOSTS_MAX, h->cfg.fence_timeout_ms);
    self_index(h);
    h->last_mode = h->fence.mode;
    restore_lease(a);
    ag_ha__ctl_register(a);
    h->tick = ag_loop_timer(a->loop, HA_TICK_MS, HA_TICK_MS, on_tick, a);
    return 0;
}

void ag_ha_stop(ag_agent *a)
{
    struct ag_ha *h = a->ha;
    if (!h)
        return;
    save_lease(a, true);
    ag_loop_cancel(a->loop, h->tick);
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
    return json_pack("{s:s,s:b,s:I,s:i,s:i,s:I,s:I,s:I}", "fence", modes[h->fence.mode], "coordinator",
                     h->coord != NULL, "contact_age_ms",
                     (json_int_t)(h->fence.contact_ever ? now - h->fence.last_contact_ms : 0), "hosts",
                     (int)h->st->n_hosts, "vms", (int)h->st->n_vms, "reports_in", (json_int_t)h->reports_in,
                     "acks", (json_int_t)h->acks, "commands_refused", (json_int_t)h->cmds_refused);
}
