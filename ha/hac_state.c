/* hac_state.c — the replicated HA state and how a committed proposal changes it.
 *
 * Every host applies the same committed proposals in the same order, so hac_apply must be
 * a pure function of (state, proposal). Proposals are compare-and-set: OWNER names the
 * generation it creates (current + 1), MOVING the generation it saw. A coordinator that
 * lost its term may still have proposals in flight; when they commit after a newer
 * coordinator's, they no longer match and are refused identically everywhere. The
 * "maintenance only when empty" rule lives here rather than in the coordinator so that
 * no sequence of proposals, stale or not, can show maintenance before the guests left.
 */
#include <errno.h>
#include <string.h>

#include "hac.h"

void hac_config_default(hac_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->fence_timeout_ms = 2000;
    cfg->drift_pct = 125;
    cfg->cmd_timeout_ms = 30000;
    cfg->start_timeout_ms = 1000;
    cfg->propose_timeout_ms = 3000;
    cfg->degrade_after_ms = 2000;
    cfg->recover_after_ms = 10000;
    cfg->migrate_attempts_max = 3;
    cfg->rejoin_timeout_ms = 600000;
    plc_config_default(&cfg->plc);
}

void hac_rstate_init(hac_rstate *s)
{
    memset(s, 0, sizeof *s);
}

int hac_find_host(const hac_rstate *s, const char *name)
{
    for (uint32_t i = 0; i < s->n_hosts; i++)
        if (strcmp(s->hosts[i].name, name) == 0)
            return (int)i;
    return -1;
}

int hac_find_vm(const hac_rstate *s, const char *name)
{
    for (uint32_t i = 0; i < s->n_vms; i++)
        if (strcmp(s->vms[i].name, name) == 0)
            return (int)i;
    return -1;
}

const char *hac_admin_name(plc_admin a)
{
    switch (a) {
    case PLC_ADMIN_ACTIVE: return "active";
    case PLC_ADMIN_CORDONED: return "cordoned";
    case PLC_ADMIN_DRAINING: return "draining";
    case PLC_ADMIN_MAINTENANCE: return "maintenance";
    }
    return "?";
}

bool hac_out_push(hac_out *out, const hac_out_item *item)
{
    if (out->n >= HAC_OUT_MAX) {
        out->n_dropped++;
        return false;
    }
    out->items[out->n++] = *item;
    return true;
}

static bool host_busy(const hac_rstate *s, uint32_t h)
{
    for (uint32_t v = 0; v < s->n_vms; v++) {
        const hac_rvm *m = &s->vms[v];
        if (m->owner == (int32_t)h || m->moving_to == (int32_t)h)
            return true;
    }
    return false;
}

static bool host_ok(const hac_rstate *s, int32_t h)
{
    return h >= 0 && (uint32_t)h < s->n_hosts;
}

/* A freeze comes only from the host's own agent (a clean stop) and so does its end (the
 * agent back); each request carries a stamp that grows with every request of one agent
 * process and across restarts (epoch << 32 | count), so one that commits after a newer
 * one changes nothing: an older process's late freeze after the new one unfroze, or an
 * unfreeze resent after the freeze of a stop. The operator's way out (confirm_off)
 * applies only to a frozen host: on one that is not, it would count as a fence nobody
 * needed. It voids every request of the agent processes so far (the next epoch), so a
 * late freeze of theirs cannot freeze the host again. */
static int apply_freeze(hac_rstate *s, const hac_prop *p)
{
    if (p->index >= s->n_hosts)
        return -EINVAL;
    hac_rhost *h = &s->hosts[p->index];
    if (p->confirm_off) {
        if (!h->frozen || p->frozen)
            return -ESTALE;
        h->frozen = false;
        h->frozen_at_ms = 0;
        h->agent_stamp = ((h->agent_stamp >> 32) + 1) << 32;
        return 0;
    }
    if (p->stamp < h->agent_stamp || (p->stamp == h->agent_stamp && p->frozen != h->frozen))
        return -ESTALE;
    if (p->stamp == h->agent_stamp)
        return 0;   /* the same request again */
    h->agent_stamp = p->stamp;
    h->frozen = p->frozen;
    h->frozen_at_ms = p->frozen ? p->at_ms : 0;
    return 0;
}

int hac_apply(hac_rstate *s, const hac_prop *p)
{
    if (s == NULL || p == NULL)
        return -EINVAL;
    switch (p->kind) {
    case HAC_P_HOST_ADD:
        if (p->host.name[0] == '\0' || hac_find_host(s, p->host.name) >= 0)
            return -ESTALE;
        if (s->n_hosts >= HAC_HOSTS_MAX)
            return -ENOSPC;
        s->hosts[s->n_hosts++] = p->host;
        return 0;
    case HAC_P_VM_ADD: {
        if (p->vm.name[0] == '\0' || hac_find_vm(s, p->vm.name) >= 0)
            return -ESTALE;
        if (s->n_vms >= HAC_VMS_MAX)
            return -ENOSPC;
        if (p->vm.owner != -1 && !host_ok(s, p->vm.owner))
            return -EINVAL;
        hac_rvm *m = &s->vms[s->n_vms++];
        *m = p->vm;
        m->generation = 1;
        m->prot_acked = true; /* defined with its policy: the owner learns both at once */
        m->moving_to = -1;
        m->home = -1;
        return 0;
    }
    case HAC_P_PROTECT: {
        if (p->index >= s->n_vms)
            return -EINVAL;
        hac_rvm *m = &s->vms[p->index];
        m->protected_ = p->vm.protected_;
        m->priority = p->vm.priority;
        m->restart_order = p->vm.restart_order;
        m->max_restarts = p->vm.max_restarts;
        memcpy(m->anti_group, p->vm.anti_group, sizeof m->anti_group);
        memcpy(m->affinity_group, p->vm.affinity_group, sizeof m->affinity_group);
        m->anti_group[sizeof m->anti_group - 1] = m->affinity_group[sizeof m->affinity_group - 1] = 0;
        /* protecting says "keep it running" (Proxmox's ha-manager add starts a stopped
         * guest too); the proposer sets it, unprotecting leaves it as it was */
        if (p->vm.protected_)
            m->want_running = p->vm.want_running;
        /* New generation: the owner's reports from now on prove it knows the policy. */
        m->prot_acked = false;
        m->generation++;
        return 0;
    }
    case HAC_P_WANT: {
        if (p->index >= s->n_vms)
            return -EINVAL;
        hac_rvm *m = &s->vms[p->index];
        if (p->generation != m->generation)
            return -ESTALE;
        m->want_running = p->want_running;
        return 0;
    }
    case HAC_P_PROT_ACK: {
        if (p->index >= s->n_vms)
            return -EINVAL;
        hac_rvm *m = &s->vms[p->index];
        if (p->generation != m->generation)
            return -ESTALE;
        m->prot_acked = true;
        return 0;
    }
    case HAC_P_ADMIN: {
        if (p->index >= s->n_hosts)
            return -EINVAL;
        if (p->admin == PLC_ADMIN_MAINTENANCE && host_busy(s, p->index))
            return -ESTALE;
        s->hosts[p->index].admin = p->admin;
        s->hosts[p->index].degraded_flag = p->degraded_flag;
        s->hosts[p->index].failback = p->failback;
        return 0;
    }
    case HAC_P_MOVING: {
        if (p->index >= s->n_vms || (p->owner != -1 && !host_ok(s, p->owner)))
            return -EINVAL;
        hac_rvm *m = &s->vms[p->index];
        if (p->generation != m->generation + 1)
            return -ESTALE;
        /* One move at a time: a second coordinator cannot start a competing one. */
        if (p->owner >= 0 && m->moving_to >= 0)
            return -ESTALE;
        /* Both recording and clearing a move bump the generation: a MIGRATE carries
         * the generation of its move, so a late copy of it is stale once the move is
         * over, even though the owner did not change. */
        m->moving_to = p->owner;
        m->generation = p->generation;
        return 0;
    }
    case HAC_P_OWNER: {
        if (p->index >= s->n_vms || (p->owner != -1 && !host_ok(s, p->owner)) ||
            (p->home != -1 && !host_ok(s, p->home)))
            return -EINVAL;
        hac_rvm *m = &s->vms[p->index];
        if (p->generation != m->generation + 1)
            return -ESTALE;
        m->owner = p->owner;
        m->generation = p->generation;
        m->restarts = p->restarts;
        m->home = p->home;
        m->moving_to = -1;
        return 0;
    }
    case HAC_P_FREEZE:
        return apply_freeze(s, p);
    case HAC_P_UPGRADE:
        if (p->upgrade.seq != s->upgrade.seq + 1)
            return -ESTALE;
        if (p->upgrade.n > HAC_HOSTS_MAX || p->upgrade.cur > p->upgrade.n)
            return -EINVAL;
        for (uint32_t i = 0; i < p->upgrade.n; i++)
            if (p->upgrade.order[i] >= s->n_hosts)
                return -EINVAL;
        s->upgrade = p->upgrade;
        return 0;
    }
    return -EINVAL;
}
