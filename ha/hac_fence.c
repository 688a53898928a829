/* hac_fence.c — what every agent does so that a VM never runs on two hosts.
 *
 * Design. The agent trusts itself to run protected VMs only while it is provably in
 * contact with the coordinator's quorum. "Contact" is measured from the send time of a
 * request that the quorum answered (not from when the answer arrived): the coordinator
 * stamped its last_ack at or after that send time, so the agent's lease always ends
 * first. When the lease ends (fence_timeout_ms after that send time) the agent destroys
 * its protected VMs at once, and keeps destroying any that reappear, until contact is
 * back. Then it does not resume: it waits until its copy of the replicated state has
 * caught up (SYNCED) and destroys every VM that state gives to another host — the
 * coordinator may have restarted them elsewhere meanwhile — before it accepts anything.
 * A freshly started agent is in the same position and starts the same way.
 *
 * Watchdog. The lease is kept by the agent itself: a hung agent destroys nothing. With a
 * hardware watchdog of W ms the agent pets it only while it may run protected VMs, i.e.
 * while it runs none or its lease has more than W left; a hung agent is therefore reset
 * by the time its lease ends. So that a mere isolation does not reset the host too, the
 * agent self-fences W + HAC_WD_SLACK_MS before the lease ends, while it still pets.
 *
 * Freeze. An agent that stops cleanly has its host frozen first (hac.h, HAC_P_FREEZE):
 * the coordinator then leaves its VMs alone however long it is away, and its QEMUs run
 * on. Back within the same boot, the agent finds its host frozen in its persisted copy
 * of the state and its lease long over: it keeps the VMs (destroying them would reboot
 * the guests for nothing), reconciles once in contact, and its agent unfreezes the host.
 * After a reboot nothing ran on, so a freeze is not honoured (hac_fence_same_boot).
 *
 * Fencing tokens. Each command carries the coordinator's term and the VM's ownership
 * generation. The agent refuses anything older than what it already accepted, so a
 * deposed coordinator's late command cannot undo a newer decision.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hac.h"

void hac_fence_init(hac_fence *f, uint32_t self, uint64_t fence_timeout_ms)
{
    memset(f, 0, sizeof *f);
    f->self = self;
    f->fence_timeout_ms = fence_timeout_ms;
    f->mode = HAC_FM_RECONCILE;
}

int hac_fence_set_watchdog(hac_fence *f, uint64_t watchdog_ms)
{
    if (watchdog_ms && watchdog_ms + HAC_WD_SLACK_MS >= f->fence_timeout_ms)
        return -EINVAL;
    f->watchdog_ms = watchdog_ms;
    return 0;
}

/* How long after the last contact the agent destroys its protected VMs. */
static uint64_t fence_after_ms(const hac_fence *f)
{
    return f->fence_timeout_ms - (f->watchdog_ms ? f->watchdog_ms + HAC_WD_SLACK_MS : 0);
}

/* As the hypervisor last listed them: a destroy asked for is not a VM gone. */
bool hac_fence_runs_protected(const hac_fence *f)
{
    for (uint32_t v = 0; v < HAC_VMS_MAX; v++)
        if (f->listed[v] && f->prot[v])
            return true;
    return false;
}

uint64_t hac_fence_deadline_ms(const hac_fence *f)
{
    return f->contact_ever ? f->last_contact_ms + fence_after_ms(f) : 0;
}

void hac_fence_same_boot(hac_fence *f)
{
    f->same_boot = true;
}

bool hac_fence_frozen(const hac_fence *f)
{
    return f->frozen && f->same_boot;
}

/* Frozen, nobody restarts this host's VMs elsewhere: no lease to enforce. */
bool hac_fence_may_pet(const hac_fence *f, uint64_t now_ms)
{
    if (!hac_fence_runs_protected(f) || hac_fence_frozen(f))
        return true;
    return f->contact_ever && now_ms + f->watchdog_ms < f->last_contact_ms + f->fence_timeout_ms;
}

static void destroy(hac_out *out, uint32_t vm, const char *why)
{
    hac_out_item it = {.kind = HAC_O_DESTROY, .vm = (int32_t)vm, .host = -1};
    snprintf(it.text, sizeof it.text, "%s", why);
    hac_out_push(out, &it);
}

static void refuse(hac_out *out, const hac_cmd *cmd, const char *why)
{
    hac_out_item it = {.kind = HAC_O_REFUSE, .cmd = *cmd, .vm = (int32_t)cmd->vm, .host = -1};
    snprintf(it.text, sizeof it.text, "%s", why);
    hac_out_push(out, &it);
}

static void learn(hac_fence *f, const hac_rstate *s)
{
    if (s == NULL)
        return;
    f->frozen = f->self < s->n_hosts && s->hosts[f->self].frozen;
    for (uint32_t v = 0; v < s->n_vms && v < HAC_VMS_MAX; v++) {
        f->prot[v] = s->vms[v].protected_;
        if (s->vms[v].generation > f->applied[v])
            f->applied[v] = s->vms[v].generation;
    }
}

static void fence_now(hac_fence *f, hac_out *out)
{
    for (uint32_t v = 0; v < HAC_VMS_MAX; v++)
        if (f->local[v] && f->prot[v]) {
            char why[HAC_TEXT_MAX];
            snprintf(why, sizeof why, "self-fence: no quorum contact for %llu ms",
                     (unsigned long long)fence_after_ms(f));
            destroy(out, v, why);
            f->local[v] = false; /* until the hypervisor says otherwise */
        }
}

static bool duplicate(const hac_fence *f, const hac_cmd *cmd)
{
    for (uint32_t i = 0; i < HAC_FENCE_SEEN; i++)
        if (f->seen_id[i] == cmd->id && f->seen_term[i] == cmd->term && cmd->id)
            return true;
    return false;
}

/* RUN is a root shell command: only the replicated upgrade's own command, in its run
 * phase, on this host's turn (issue 12). The state is this agent's applied copy, which
 * the agent brought up to the command's commit first, so a genuine RUN always passes. */
static bool upgrade_turn(const hac_fence *f, const hac_rstate *s, const hac_cmd *cmd)
{
    const hac_upgrade *u = s ? &s->upgrade : NULL;
    return u && u->state == HAC_UPG_RUNNING && u->phase == HAC_UPH_RUN && u->cur < u->n &&
           u->order[u->cur] == f->self && cmd->to == f->self && strcmp(cmd->text, u->command) == 0;
}

static void on_command(hac_fence *f, const hac_fence_input *in, hac_out *out)
{
    const hac_cmd *cmd = &in->cmd;
    if (duplicate(f, cmd))
        return;
    if (f->mode != HAC_FM_ACTIVE) {
        refuse(out, cmd, f->mode == HAC_FM_FENCED ? "fenced: no quorum contact"
                                                  : "reconciling: not caught up yet");
        return;
    }
    if (cmd->term < f->max_term) {
        refuse(out, cmd, "stale term");
        return;
    }
    if (cmd->kind != HAC_CMD_RUN) {
        if (cmd->vm >= HAC_VMS_MAX) {
            refuse(out, cmd, "no such vm");
            return;
        }
        if (cmd->generation < f->applied[cmd->vm]) {
            refuse(out, cmd, "stale generation");
            return;
        }
        if (cmd->kind == HAC_CMD_START && cmd->to != f->self) {
            refuse(out, cmd, "start addressed to another host");
            return;
        }
        /* A MIGRATE of a VM not running here is a cold move of its definition: safe,
         * nothing starts anywhere because of it. */
        if (cmd->kind == HAC_CMD_MIGRATE && cmd->from != f->self) {
            refuse(out, cmd, "migration addressed to another source");
            return;
        }
        f->applied[cmd->vm] = cmd->generation;
    } else if (!upgrade_turn(f, in->state, cmd)) {
        refuse(out, cmd, "not this host's turn of the replicated upgrade");
        return;
    }
    f->max_term = cmd->term;
    f->seen_term[f->seen_next] = cmd->term;
    f->seen_id[f->seen_next] = cmd->id;
    f->seen_next = (f->seen_next + 1) % HAC_FENCE_SEEN;
    hac_out_item it = {.kind = HAC_O_EXEC, .cmd = *cmd, .vm = (int32_t)cmd->vm, .host = -1};
    hac_out_push(out, &it);
}

static void reconcile(hac_fence *f, const hac_rstate *s, hac_out *out)
{
    for (uint32_t v = 0; v < HAC_VMS_MAX; v++) {
        if (!f->local[v])
            continue;
        bool mine = v < s->n_vms && (s->vms[v].owner == (int32_t)f->self ||
                                     s->vms[v].moving_to == (int32_t)f->self);
        if (!mine) {
            char why[HAC_TEXT_MAX];
            snprintf(why, sizeof why, "reconcile: owned by host %d at generation %llu",
                     v < s->n_vms ? (int)s->vms[v].owner : -1,
                     v < s->n_vms ? (unsigned long long)s->vms[v].generation : 0ull);
            destroy(out, v, why);
            f->local[v] = false;
        }
    }
    f->mode = HAC_FM_ACTIVE;
}

int hac_fence_step(hac_fence *f, uint64_t now_ms, const hac_fence_input *in, hac_out *out)
{
    if (f == NULL || in == NULL || out == NULL)
        return -EINVAL;
    if ((in->kind == HAC_FIN_SYNCED && in->state == NULL) ||
        (in->kind == HAC_FIN_LOCAL && in->n_vms && in->vms == NULL))
        return -EINVAL;
    learn(f, in->state);
    bool fresh = f->contact_ever && now_ms < f->last_contact_ms + fence_after_ms(f);
    switch (in->kind) {
    case HAC_FIN_TICK:
        break;
    case HAC_FIN_CONTACT:
        if (!f->contact_ever || in->sent_ms > f->last_contact_ms)
            f->last_contact_ms = in->sent_ms;
        f->contact_ever = true;
        fresh = now_ms < f->last_contact_ms + fence_after_ms(f);
        if (f->mode == HAC_FM_FENCED && fresh)
            f->mode = HAC_FM_RECONCILE;
        break;
    case HAC_FIN_SYNCED:
        if (f->mode == HAC_FM_RECONCILE && fresh)
            reconcile(f, in->state, out);
        break;
    case HAC_FIN_COMMAND:
        on_command(f, in, out);
        break;
    case HAC_FIN_LOCAL:
        memset(f->local, 0, sizeof f->local);
        for (uint32_t i = 0; i < in->n_vms; i++)
            if (in->vms[i] < HAC_VMS_MAX)
                f->local[in->vms[i]] = true;
        memcpy(f->listed, f->local, sizeof f->listed);
        break;
    default:
        return -EINVAL;
    }
    /* The lease runs in every mode: a reconciling agent with no contact is as blind as an
     * active one. A fresh agent that never had contact fences from its first event.
     * Except while frozen: the cluster leaves this host's VMs alone, so an agent back from
     * a clean stop keeps them, however old its lease, and reconciles once in contact. */
    if (hac_fence_frozen(f)) {
        if (f->mode == HAC_FM_FENCED)
            f->mode = HAC_FM_RECONCILE;
    } else if (!fresh && f->mode != HAC_FM_FENCED && (f->contact_ever || f->mode == HAC_FM_ACTIVE)) {
        f->mode = HAC_FM_FENCED;
        fence_now(f, out);
    } else if (f->mode == HAC_FM_FENCED || (!f->contact_ever && f->mode == HAC_FM_RECONCILE)) {
        fence_now(f, out);
    }
    return 0;
}
