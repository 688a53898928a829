/* hac_admin.c — what an operator's request turns into. One function serves the
 * coordinator (HAC_IN_ADMIN) and any agent where a CLI request enters: the agent turns
 * the request into a proposal against its applied copy of the state and commits it
 * through the log, so the request is never held only in a coordinator's memory and the
 * client's "done" means "committed". A proposal made on a stale copy is harmless: the
 * upgrade plan is compare-and-set on seq; an ADMIN change is the operator's latest word.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hac.h"

static const char *upg_word(hac_admin_req r)
{
    return r == HAC_REQ_UPGRADE_START ? "start" : r == HAC_REQ_UPGRADE_PAUSE ? "pause"
         : r == HAC_REQ_UPGRADE_RESUME ? "resume" : "abort";
}

static int upgrade_prop(const hac_rstate *s, const hac_input *in, uint64_t now_ms, hac_prop *out,
                        char *why, size_t whylen)
{
    hac_upgrade u = s->upgrade;
    bool live = u.state == HAC_UPG_RUNNING || u.state == HAC_UPG_PAUSED;
    switch (in->req) {
    case HAC_REQ_UPGRADE_START:
        if (live) {
            snprintf(why, whylen, "upgrade start refused: a plan is %s (pause, resume or abort it first)",
                     u.state == HAC_UPG_RUNNING ? "running" : "paused");
            return 1;
        }
        if (in->n_order == 0 || in->n_order > HAC_HOSTS_MAX || !in->order)
            return -EINVAL;
        for (uint32_t i = 0; i < in->n_order; i++) {
            if (in->order[i] >= s->n_hosts)
                return -EINVAL;
            for (uint32_t j = 0; j < i; j++)
                if (in->order[j] == in->order[i])
                    return -EINVAL;   /* a host twice would be drained twice */
        }
        memset(&u.order, 0, sizeof u.order);
        memcpy(u.order, in->order, in->n_order * sizeof *in->order);
        u.n = in->n_order;
        u.cur = 0;
        u.phase = HAC_UPH_DRAIN;
        u.state = HAC_UPG_RUNNING;
        snprintf(u.command, sizeof u.command, "%s", in->text);
        break;
    case HAC_REQ_UPGRADE_PAUSE:
        if (u.state != HAC_UPG_RUNNING) {
            snprintf(why, whylen, "upgrade pause: no plan is running");
            return 1;
        }
        u.state = HAC_UPG_PAUSED;
        break;
    case HAC_REQ_UPGRADE_RESUME:
        if (u.state != HAC_UPG_PAUSED) {
            snprintf(why, whylen, "upgrade resume: no plan is paused");
            return 1;
        }
        u.state = HAC_UPG_RUNNING;
        break;
    default:
        if (!live) {
            snprintf(why, whylen, "upgrade abort: no plan is running or paused");
            return 1;
        }
        u.state = HAC_UPG_ABORTED;
        break;
    }
    u.phase_since_ms = now_ms;
    u.seq = s->upgrade.seq + 1;
    *out = (hac_prop){.kind = HAC_P_UPGRADE, .upgrade = u};
    snprintf(why, whylen, "upgrade: %s requested", upg_word(in->req));
    return 0;
}

/* Only a frozen host: one that is not is fenced by its lease or by fence_command, and an
 * operator's word that it is off must not stand in for those. */
static int confirm_off(const hac_rstate *s, uint32_t h, hac_prop *out, char *why, size_t whylen)
{
    const char *name = s->hosts[h].name;
    if (!s->hosts[h].frozen) {
        snprintf(why, whylen, "host %s is not frozen: --confirm-off only ends the freeze of a host "
                 "whose agent stopped (a host cut off or dead is handled by its lease)", name);
        return 1;
    }
    *out = (hac_prop){.kind = HAC_P_FREEZE, .index = h, .confirm_off = true};
    snprintf(why, whylen, "host %s confirmed off: unfrozen, its protected VMs restart elsewhere", name);
    return 0;
}

int hac_admin_prop(const hac_rstate *s, const hac_input *in, uint64_t now_ms, hac_prop *out,
                   char *why, size_t whylen)
{
    if (!s || !in || !out || !why || whylen == 0)
        return -EINVAL;
    why[0] = 0;
    if (in->req >= HAC_REQ_UPGRADE_START && in->req <= HAC_REQ_UPGRADE_ABORT)
        return upgrade_prop(s, in, now_ms, out, why, whylen);
    if (in->host >= s->n_hosts)
        return -EINVAL;
    const hac_rhost *r = &s->hosts[in->host];
    plc_admin a = r->admin;
    bool flag = r->degraded_flag, fb = r->failback;
    switch (in->req) {
    case HAC_REQ_CORDON:
        if (a == PLC_ADMIN_ACTIVE)
            a = PLC_ADMIN_CORDONED;
        break;
    case HAC_REQ_DRAIN:
        if (a != PLC_ADMIN_MAINTENANCE)
            a = PLC_ADMIN_DRAINING;
        fb = false;
        break;
    case HAC_REQ_UNDRAIN_FAILBACK:
        fb = true;
        a = PLC_ADMIN_ACTIVE;
        break;
    case HAC_REQ_UNDRAIN:
        a = PLC_ADMIN_ACTIVE;
        break;
    case HAC_REQ_DEGRADED_SET:
        flag = true;
        break;
    case HAC_REQ_DEGRADED_CLEAR:
        flag = false;
        break;
    case HAC_REQ_CONFIRM_OFF:
        return confirm_off(s, in->host, out, why, whylen);
    default:
        return -EINVAL;
    }
    *out = (hac_prop){.kind = HAC_P_ADMIN, .index = in->host, .admin = a, .degraded_flag = flag,
                      .failback = fb};
    snprintf(why, whylen, "host %s: %s -> %s%s%s", r->name, hac_admin_name(r->admin),
             hac_admin_name(a), flag ? " (degraded flag)" : "", fb ? " (failback)" : "");
    return 0;
}
