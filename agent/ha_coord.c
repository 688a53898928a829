/* ha_coord.c — the coordinator's side of HA in the agent (Raft leader only): hac_coord
 * fed with commits, gossip records (liveness, health, versions), agents' reports (the
 * lease requests: each answer says how much of the lease this leader can vouch for, see
 * ha_drv.c) and command results; its outputs become Raft
 * proposals (CMD_HA) and MSG_COMMAND commands. The coordinator's steps never nest:
 * commits arriving while its outputs are carried out wait in the pump's queue. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* ---- coordinator --------------------------------------------------------------------- */

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
    (void)ag_ha__submit(a, p, reason, propose_done, NULL);
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
    ag_ha__send_msg(a, ag_ha__member(a, s->hosts[dest].name), &m);
}

/* Proposals about a host (or the plan) rather than a VM: their index is no VM's. */
static bool host_prop(hac_prop_kind k)
{
    return k == HAC_P_ADMIN || k == HAC_P_HOST_ADD || k == HAC_P_UPGRADE || k == HAC_P_FREEZE;
}

/* An event text right after a proposal about the same VM or host is its reason; for the
 * upgrade plan, one about the plan or its current host (why it paused is then in every
 * host's journal, not only the coordinator's). */
static const char *reason_for(const hac_out *out, uint32_t i)
{
    const hac_out_item *p = &out->items[i];
    for (uint32_t j = i + 1; j < out->n && j < i + 4; j++) {
        const hac_out_item *e = &out->items[j];
        if (e->kind != HAC_O_EVENT)
            continue;
        bool vm_prop = !host_prop(p->prop.kind);
        if ((vm_prop && e->vm == (int32_t)p->prop.index) ||
            (p->prop.kind == HAC_P_ADMIN && e->host == (int32_t)p->prop.index) ||
            (p->prop.kind == HAC_P_UPGRADE && e->vm < 0))
            return e->text;
    }
    return "";
}

/* A report whose sender may not make it (issue 12): counted by kind, warned about once
 * per kind, never acted on. Not a journal event: a member sending these in a loop must
 * not turn the journal over. */
static void count_refusal(ag_agent *a, const hac_input *in)
{
    struct ag_ha *h = a->ha;
    const hac_rstate *s = hac_coord_state(h->coord);
    const char *who = ag_ha__host_name(s, (int32_t)in->host);
    if (in->kind == HAC_IN_RESULT && h->results_not_target++ == 0)
        ag_warn("ha: refused a command result from %s, which the command did not go to (counted in "
                "ha.status reports_refused_sender.result_not_target)", who);
    if (in->kind == HAC_IN_CONSTRAINTS && h->constraints_not_owner++ == 0)
        ag_warn("ha: refused placement constraints for VM %s from %s, which does not own it (counted "
                "in ha.status reports_refused_sender.constraints_not_owner)",
                in->vm < s->n_vms ? s->vms[in->vm].name : "?", who);
}

int ag_ha__coord_feed(ag_agent *a, hac_input *in)
{
    struct ag_ha *h = a->ha;
    if (!h->coord)
        return -ENOENT;
    hac_out *out = calloc(1, sizeof *out);
    if (!out)
        return -ENOMEM;
    a->ha->coord_depth++;
    /* the coordinator's decisions are its own, whoever's request is being handled */
    const ag_ctl_req *caller = ag_ctl_act_as(a->ctl, NULL);
    hac_event ev = {.now_ms = ag_now_ms(), .in = in};
    int rc = hac_coord_step(h->coord, &ev, out);
    if (rc == -EPERM)
        count_refusal(a, in);
    else if (rc)
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
            json_object_set_new(f, "about", json_string(ag_ha__host_name(s, it->host)));
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
        ag_ha__pump(a);
    ag_ctl_act_as(a->ctl, caller);
    return rc;
}

/* What an applied FREEZE means, for `drover events` on every host. */
static void freeze_text(char *text, size_t len, const char *host, const hac_prop *p, const char *reason)
{
    const char *what = p->confirm_off ? "unfrozen: an operator confirmed it is off; its protected VMs "
                                        "restart elsewhere"
                       : p->frozen ? "frozen: its agent is stopping; its VMs are left alone until it is back"
                                   : "unfrozen: its agent is back; its lease counts again";
    snprintf(text, len, "host %s %s%s%s", host, what, reason[0] ? " (" : "", reason);
    if (reason[0] && strlen(text) + 1 < len)
        strcat(text, ")");
}

/* Commits reach the coordinator in log order, outside any other core step. */
void ag_ha__pump(ag_agent *a)
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
            ag_ha__coord_feed(a, &in);
        }
        if (p.rc != 0)
            continue;
        /* every host logs every decision, so `drover events` anywhere tells the story */
        const hac_rstate *s = h->st;
        json_t *f = json_pack("{s:i,s:I}", "decision", (int)p.prop.kind, "index", (json_int_t)p.index);
        const char *vm = NULL;
        if (!host_prop(p.prop.kind)) {
            vm = p.prop.kind == HAC_P_VM_ADD ? p.prop.vm.name
                 : p.prop.index < s->n_vms ? s->vms[p.prop.index].name : "?";
            json_object_set_new(f, "vm", json_string(vm));
        }
        char text[2 * HAC_TEXT_MAX + 2 * HAC_NAME_MAX];
        switch (p.prop.kind) {
        case HAC_P_HOST_ADD: snprintf(text, sizeof text, "host %s registered for HA", p.prop.host.name); break;
        case HAC_P_VM_ADD:
            snprintf(text, sizeof text, "VM %s registered, owner %s", vm, ag_ha__host_name(s, p.prop.vm.owner));
            break;
        case HAC_P_OWNER:
            snprintf(text, sizeof text, "VM %s now owned by %s (generation %llu)%s%s", vm,
                     ag_ha__host_name(s, p.prop.owner), (unsigned long long)p.prop.generation,
                     p.reason[0] ? ": " : "", p.reason);
            break;
        case HAC_P_MOVING:
            snprintf(text, sizeof text, p.prop.owner >= 0 ? "VM %s moving to %s%s%s" : "VM %s: move %s cleared%s%s",
                     vm, p.prop.owner >= 0 ? ag_ha__host_name(s, p.prop.owner) : "", p.reason[0] ? ": " : "", p.reason);
            break;
        case HAC_P_PROTECT:
            snprintf(text, sizeof text, "VM %s %s (priority %d, order %d, max restarts %u)", vm,
                     p.prop.vm.protected_ ? "protected" : "unprotected", p.prop.vm.priority,
                     p.prop.vm.restart_order, p.prop.vm.max_restarts);
            break;
        case HAC_P_PROT_ACK: snprintf(text, sizeof text, "VM %s: its owner knows it is protected", vm); break;
        case HAC_P_WANT:
            snprintf(text, sizeof text, "VM %s %s%s%s", vm,
                     p.prop.want_running ? "is kept running again" : "is no longer kept running",
                     p.reason[0] ? ": " : "", p.reason);
            break;
        case HAC_P_FREEZE:
            freeze_text(text, sizeof text, ag_ha__host_name(s, (int32_t)p.prop.index), &p.prop, p.reason);
            break;
        case HAC_P_ADMIN:
            snprintf(text, sizeof text, "host %s is %s%s%s%s%s", ag_ha__host_name(s, (int32_t)p.prop.index),
                     hac_admin_name(p.prop.admin), p.prop.degraded_flag ? " (degraded flag)" : "",
                     p.prop.failback ? " (failback)" : "", p.reason[0] ? ": " : "", p.reason);
            break;
        default: {
            static const char *st[] = {"idle", "running", "paused", "done", "aborted"};
            static const char *ph[] = {"drain", "run command", "wait to rejoin", "undrain"};
            const hac_upgrade *u = &p.prop.upgrade;
            snprintf(text, sizeof text, "upgrade %s: host %u of %u (%s), %s%s%s", st[u->state],
                     u->cur < u->n ? u->cur + 1 : u->n, u->n,
                     u->cur < u->n ? ag_ha__host_name(s, (int32_t)u->order[u->cur]) : "-", ph[u->phase],
                     p.reason[0] ? ": " : "", p.reason);
            break;
        }
        }
        ag_event(a, "ha", f, "%s", text);
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
        memset(h->reported, 0, sizeof h->reported);
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
                snprintf(v->why, sizeof v->why, "%s", hs->degraded_reason && hs->degraded_reason[0]
                         ? hs->degraded_reason : "libvirtd not responding");
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

/* [ha] fence_command: power a failed host off so its VMs restart without waiting out the
 * lease. Only a command that confirms the host is off (exit 0) counts. A host is failed
 * once gossip declares it dead, or once gossip suspects it AND its lease reports have
 * been missing for fence_after — two independent signs (probes and reports travel on
 * different sockets), as Pacemaker fences on token loss rather than on a timeout of
 * its own. The coordinator fences only while its own quorum contact vouches for it: a
 * leader that is itself cut off sees every other host silent, and must not fence the
 * majority. */
static bool host_failed(ag_agent *a, uint32_t i, uint64_t now)
{
    struct ag_ha *h = a->ha;
    const hac_rstate *s = hac_coord_state(h->coord);
    /* A host that never reported to this coordinator is not silent, only new (registered,
     * still joining: gossip may not know it yet) or never started: nothing of ours runs
     * there to free. Its VMs, if any, are freed by the lease as before. */
    if (!h->reported[i])
        return false;
    if (h->hv[i].live == HAC_DEAD)
        return true;
    if (now < h->last_ack[i] + (uint64_t)a->cfg.fence_after_ms)
        return false;
    return ag_ha__gossip_live(a, s->hosts[i].name) != HAC_ALIVE;
}

static void fence_failed_hosts(ag_agent *a, uint64_t now)
{
    struct ag_ha *h = a->ha;
    const hac_rstate *s = hac_coord_state(h->coord);
    uint64_t term, until;
    bool vouched = ag_raft_lead_vouch(a, &term, &until) && term == h->coord_term && now < until;
    for (uint32_t i = 0; i < s->n_hosts; i++) {
        if (h->hv[i].live == HAC_ALIVE && now < h->last_ack[i] + (uint64_t)a->cfg.fence_after_ms) {
            h->fence_confirmed[i] = false;
            continue;
        }
        /* a frozen host's agent stopped cleanly: its QEMUs run on and are left alone */
        if (!a->cfg.fence_command[0] || !vouched || h->fencing[i] || h->fence_confirmed[i] ||
            now < h->fence_next_ms[i] || (int32_t)i == h->self || s->hosts[i].frozen ||
            !host_failed(a, i, now))
            continue;
        const ag_member *m = ag_ha__member(a, s->hosts[i].name);
        h->fencing[i] = true;
        ag_event(a, "fence", json_pack("{s:s}", "about", s->hosts[i].name),
                 "host %s: %s, no lease report for %llu ms: running fence_command", s->hosts[i].name,
                 h->hv[i].live == HAC_DEAD ? "declared dead" : "suspected by gossip",
                 (unsigned long long)(now - h->last_ack[i]));
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
        ag_ha__coord_feed(a, &in);
    }
}

void ag_ha__coord_tick(ag_agent *a, uint64_t now)
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
        ag_ha__coord_feed(a, &in);
    }
    hac_input t = {.kind = HAC_IN_TICK};
    ag_ha__coord_feed(a, &t);
    fence_failed_hosts(a, now);
    /* progress older than two reports is from a move that ended */
    for (uint32_t i = 0; i < h->n_moves;)
        if (now > h->moves[i].seen_ms + 2 * HA_REPORT_MS + 500)
            h->moves[i] = h->moves[--h->n_moves];
        else
            i++;
    if (h->n_stuck && now > h->stuck_ms + 30000)
        h->n_stuck = 0;
}

/* A lease report without an inventory still says which STARTs run there (the inventory
 * job may be queued behind those very starts). */
static void feed_starting(ag_agent *a, uint32_t host, const Drover__HaReport *r)
{
    const hac_rstate *s = hac_coord_state(a->ha->coord);
    uint32_t idx[HA_JOBS_MAX], n = 0;
    for (size_t i = 0; i < r->n_starting && n < HA_JOBS_MAX; i++) {
        int vi = r->starting[i] ? hac_find_vm(s, r->starting[i]) : -1;
        if (vi >= 0)
            idx[n++] = (uint32_t)vi;
    }
    hac_input in = {.kind = HAC_IN_STARTING, .host = host, .starting = idx, .n_starting = n};
    ag_ha__coord_feed(a, &in);
}

void ag_ha__on_report(ag_agent *a, const uint8_t sender[AG_HOST_ID_LEN], const Drover__HaReport *r)
{
    struct ag_ha *h = a->ha;
    uint64_t term = 0, until = 0;
    /* every answer vouches only up to `until` (ha_drv.c's design note): a report that
     * arrives later is credited as if sent that much earlier */
    if (!h->coord || !ag_raft_lead_vouch(a, &term, &until) || term != h->coord_term)
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
        h->reported[hi] = true;
        if (r->inventory_ok) {
            uint32_t *vms = calloc(r->n_vms + 1, sizeof *vms), *busy = calloc(r->n_busy + 1, sizeof *busy);
            uint32_t *starting = calloc(r->n_starting + 1, sizeof *starting), ns = 0;
            uint32_t *down = calloc(r->n_vms + 1, sizeof *down), nd = 0;
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
                /* an owner's empty list clears its VM's constraints; another host's says
                 * nothing (a migration's target lists the VM too), and a non-empty one is
                 * a claim the core refuses and counts */
                if (vi >= 0 && (v->n_cannot_run_on || s->vms[vi].owner == hi))
                    ag_ha__feed_constraints(a, (uint32_t)hi, (uint32_t)vi, v);
                if (vi >= 0 && v->running) {
                    vms[nv] = (uint32_t)vi;
                    gens[nv++] = v->generation;
                }
                /* only a report at the VM's current generation speaks for its owner */
                if (vi >= 0 && down && !v->running && v->shut_down && v->generation == s->vms[vi].generation)
                    down[nd++] = (uint32_t)vi;
            }
            for (size_t i = 0; busy && i < r->n_busy; i++) {
                int vi = r->busy[i] ? hac_find_vm(s, r->busy[i]) : -1;
                if (vi >= 0)
                    busy[nb++] = (uint32_t)vi;
            }
            for (size_t i = 0; starting && i < r->n_starting; i++) {
                int vi = r->starting[i] ? hac_find_vm(s, r->starting[i]) : -1;
                if (vi >= 0)
                    starting[ns++] = (uint32_t)vi;
            }
            if (vms && gens && busy && down && starting) {
                hac_input in = {.kind = HAC_IN_INVENTORY, .host = (uint32_t)hi, .vms = vms, .gens = gens,
                                .n_vms = nv, .busy = busy, .n_busy = nb, .down = down, .n_down = nd,
                                .starting = starting, .n_starting = ns};
                ag_ha__coord_feed(a, &in);
            }
            free(starting);
            free(down);
            free(vms);
            free(gens);
            free(busy);
        } else
            feed_starting(a, (uint32_t)hi, r);
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
    ack.held_ms = now > until ? now - until : 0;
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
    ag_ha__send_msg(a, m, &out);
}

void ag_ha__on_result(ag_agent *a, const uint8_t sender[AG_HOST_ID_LEN], const Drover__HaResult *r)
{
    struct ag_ha *h = a->ha;
    if (!h->coord || r->term != h->coord_term)
        return;   /* a result for another coordinator: this one re-plans from reports */
    /* the host is the authenticated signer's, never a field of the result: the core
     * believes it only from the host the command went to */
    const ag_member *m = ag_members_find(&a->members, sender);
    int hi = m ? hac_find_host(hac_coord_state(h->coord), m->name) : -1;
    if (hi < 0) {
        if (h->results_not_target++ == 0)
            ag_warn("ha: refused a command result from a member HA does not know as a host "
                    "(counted in ha.status reports_refused_sender.result_not_target)");
        return;
    }
    hac_input in = {.kind = HAC_IN_RESULT, .host = (uint32_t)hi, .cmd_id = r->id, .ok = r->ok};
    snprintf(in.text, sizeof in.text, "%s", r->text ? r->text : "");
    ag_ha__coord_feed(a, &in);
}

/* Coordinator: feed a VM's constraints when they change (a step re-plans everything).
 * Only its owner's count (the core refuses the rest); reporters send only their own. */
void ag_ha__feed_constraints(ag_agent *a, uint32_t from, uint32_t vi, const Drover__HaInvVm *v)
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
    hac_input in = {.kind = HAC_IN_CONSTRAINTS, .host = from, .vm = vi, .must_not = mask};
    if (ag_ha__coord_feed(a, &in) != 0)
        return;
    if (mask)
        ag_event(a, "ha", json_pack("{s:s}", "vm", v->name), "VM %s can never run on %zu host(s): %s",
                 v->name, v->n_cannot_run_on, v->cannot_why ? v->cannot_why : "");
    h->fed[vi] = true;
    h->fed_must_not[vi] = mask;
}

