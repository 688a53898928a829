/* hac_restart.c — restarting the protected VMs of hosts that are surely gone.
 *
 * A VM is restarted elsewhere only when its owner's lease has surely expired (or a
 * fence was confirmed, or the owner failed to start it and then reported it does not run
 * it), the owner acknowledged its
 * protection, and nobody reports it running. All such VMs are planned together with
 * plc_plan_restart, so restart order and capacity hold across the failed hosts; each
 * decision is an OWNER proposal (generation + 1, restarts + 1) and its START goes out
 * only when that proposal commits (hac_coord.c, on_commit).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hac_int.h"

/* ---- restarts ------------------------------------------------------------------- */

/* A protected VM that should run, runs nowhere we can see, and whose owner surely runs
 * nothing (or refused to start it). A move in flight to a live target blocks it until
 * that target reported, after the owner's lease ended, that it does not have the VM. */
static bool needs_restart(const hac_coord *c, uint32_t vm)
{
    const hac_rvm *m = &c->s.vms[vm];
    if (!m->protected_ || !m->want_running || !hac__vm_idle(c, vm) || hac__alive(c, c->v[vm].seen_on))
        return false;
    if (!m->prot_acked && !(m->owner >= 0 && c->h[m->owner].fenced))
        return false;
    if (c->now_ms < c->v[vm].start_hold_ms)
        return false;   /* every host refused it lately: wait before another round */
    /* Reported running by a host after its lease ended: that host is back and runs it
     * (gossip has not caught up yet). */
    int32_t at = c->v[vm].seen_on;
    if (at >= 0 && c->h[at].inv_ms > hac__lease_end_ms(c, (uint32_t)at))
        return false;
    if (m->owner < 0)
        return false;
    /* An owner that answered a START with a failure may run the VM all the same (libvirt
     * failed after QEMU started, or an earlier START got there first): only an inventory
     * it sent after the failure, without the VM, lets another host start it. */
    bool refused = hac__alive(c, m->owner) && (c->v[vm].exclude >> m->owner & 1u) &&
                   c->h[m->owner].inv_ms > c->v[vm].start_fail_ms;
    if (!hac__expired(c, m->owner) && !refused)
        return false;
    if (m->moving_to >= 0 && !hac__expired(c, m->moving_to)) {
        if (!hac__alive(c, m->moving_to))
            return false;
        uint64_t end = hac__expired(c, m->owner) && !c->h[m->owner].fenced
                         ? hac__lease_end_ms(c, (uint32_t)m->owner) : 0;
        if (c->h[m->moving_to].inv_ms <= end)
            return false;
    }
    return true;
}

int hac__plan_restarts(hac_coord *c, hac_out *out)
{
    uint32_t failed[HAC_HOSTS_MAX], n_failed = 0;
    bool want[HAC_VMS_MAX] = {false};
    uint32_t n_want = 0;
    for (uint32_t v = 0; v < c->s.n_vms; v++) {
        if (!needs_restart(c, v))
            continue;
        hac_rvm *m = &c->s.vms[v];
        if (m->max_restarts && m->restarts >= m->max_restarts) {
            if (!c->v[v].limit_reported)
                hac__event(out, (int32_t)v, m->owner, "vm %s not restarted: max_restarts %u reached",
                      m->name, m->max_restarts);
            c->v[v].limit_reported = true;
            continue;
        }
        want[v] = true;
        n_want++;
        bool dup = false;
        for (uint32_t i = 0; i < n_failed; i++)
            dup |= failed[i] == (uint32_t)m->owner;
        if (!dup)
            failed[n_failed++] = (uint32_t)m->owner;
    }
    if (n_want == 0)
        return 0;
    hac__build_view(c);
    /* Only the VMs chosen above are victims: hide the others of those hosts (already
     * running elsewhere, over their limit, or waiting for a move). */
    for (uint32_t v = 0; v < c->s.n_vms; v++) {
        if (want[v])
            c->pv[v].host = c->s.vms[v].owner;
        else
            for (uint32_t i = 0; i < n_failed; i++)
                if (c->pv[v].host == (int32_t)failed[i])
                    c->pv[v].host = -1;
    }
    plc_plan plan;
    int rc = plc_plan_restart(&c->view, failed, n_failed, &plan);
    if (rc < 0)
        return rc;
    for (uint32_t i = 0; i < plan.n_moves; i++) {
        uint32_t v = plan.moves[i].vm;
        if (!want[v])
            continue;
        hac_rvm *m = &c->s.vms[v];
        hac_prop p = {.kind = HAC_P_OWNER, .index = v, .owner = (int32_t)plan.moves[i].to,
                      .generation = m->generation + 1, .restarts = m->restarts + 1,
                      .home = -1};
        hac__propose(out, &p);
        c->v[v].prop_ms = c->now_ms ? c->now_ms : 1;
        c->v[v].start_on_commit = true;
        hac__event(out, (int32_t)v, (int32_t)plan.moves[i].to,
              "vm %s: restart on %s (host %s %s), generation %llu, order %d",
              m->name, hac__hname(c, (int32_t)plan.moves[i].to), hac__hname(c, m->owner),
              c->h[m->owner].fenced ? "fenced" : hac__alive(c, m->owner) ? "refused it"
                                                                   : "lease expired",
              (unsigned long long)p.generation, m->restart_order);
        want[v] = false;
    }
    for (uint32_t v = 0; v < c->s.n_vms; v++) {
        if (!want[v] || c->v[v].stuck_reported)
            continue;
        const char *code, *ex;
        hac__first_why(&plan, v, &code, &ex);
        hac__event(out, (int32_t)v, c->s.vms[v].owner, "vm %s cannot be restarted: %s%s%s",
              c->s.vms[v].name, code, ex[0] ? ": " : "", ex);
        c->v[v].stuck_reported = true;
    }
    plc_plan_free(&plan);
    return 0;
}
