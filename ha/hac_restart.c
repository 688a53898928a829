/* hac_restart.c — restarting the protected VMs of hosts that are surely gone, and
 * pacing the restarts that hosts refuse.
 *
 * A VM is restarted elsewhere only when its owner's lease has surely expired (or a
 * fence was confirmed, or the owner failed to start it and then reported it does not run
 * it), the owner acknowledged its
 * protection, and nobody reports it running. All such VMs are planned together with
 * plc_plan_restart, so restart order and capacity hold across the failed hosts; each
 * decision is an OWNER proposal (generation + 1, restarts + 1, or + 0 when the last
 * START was refused: that restarted nothing) and its START goes out only when that
 * proposal commits (hac_coord.c, on_commit).
 *
 * Refused STARTs. A host answers a START with a failure for one of two reasons: it is
 * not able right now, for any VM (fenced, reconciling, busy: hac__refusal_class), or
 * this VM could not start there (libvirt said no). Neither is a rule about where the VM
 * may run, so neither becomes one: both only hold the host back from this VM for a
 * while (a small table per VM), and a host not able right now is also held back from
 * every VM for a while (hview.hold_until_ms), so the next VMs do not queue up on it.
 * The VM itself backs off: the first refusal sends it to the next able host at once,
 * each further one in a row waits restart_backoff_ms, doubling up to
 * restart_backoff_max_ms, and the hosts that refused wait twice that for this VM. So two
 * hosts that both refuse see the VM alternate no faster than the backoff, a third host
 * that is able gets it on the next try, and when every host has refused it the holds
 * run out and it is tried again: a protected VM is never given up while a host could
 * run it. A START that runs (or a report of the VM running) resets all of it. Every
 * decision is an event with its reason; so is every wait. And every refused START is
 * made stale at once by an OWNER proposal to the same owner at the next generation, so
 * no late copy of it can run while the VM waits or starts elsewhere.
 *
 * Hosts the coordinator has not acked for half a lease are passed over while others are
 * fresh (hac__able): they are about to self-fence, or have, and would refuse.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hac_int.h"

/* ---- backoff ---------------------------------------------------------------------- */

static uint64_t backoff_min(const hac_coord *c)
{
    return c->cfg.restart_backoff_ms ? c->cfg.restart_backoff_ms : HAC__BACKOFF_MS;
}

static uint64_t backoff_max(const hac_coord *c)
{
    uint64_t m = c->cfg.restart_backoff_max_ms ? c->cfg.restart_backoff_max_ms
                                               : HAC__BACKOFF_MAX_MS;
    return m < backoff_min(c) ? backoff_min(c) : m;
}

/* Host H said it is not able right now: no command goes there for 1, 2, 4, then 8 x
 * restart_backoff_ms (refusals in a row; capped by the maximum), long enough for the
 * next VMs to go elsewhere, short enough that a host back from a fence is used again
 * soon. Refusals of commands sent before the hold began (a batch of STARTs) are the
 * same refusal: only one that comes after the hold ended lengthens the next. Returns
 * how long the hold lasts from now. */
uint64_t hac__hold_host(hac_coord *c, uint32_t h, const char *text)
{
    hview *hv = &c->h[h];
    snprintf(hv->hold_why, sizeof hv->hold_why, "%s", text);
    if (hac__host_held(c, h))
        return hv->hold_until_ms - c->now_ms;
    if (hv->hold_n < 4)
        hv->hold_n++;
    uint64_t held = backoff_min(c) << (hv->hold_n - 1);
    if (held > backoff_max(c))
        held = backoff_max(c);
    hv->hold_until_ms = c->now_ms + held;
    return held;
}

/* The wait before the next try after N failed STARTs in a row: 0, min, 2 min, ... max. */
static uint64_t retry_wait(const hac_coord *c, uint32_t n)
{
    if (n <= 1)
        return 0;
    uint64_t w = backoff_min(c), max = backoff_max(c);
    for (uint32_t i = 2; i < n && w < max; i++)
        w *= 2;
    return w < max ? w : max;
}

/* How long a refusing host is held back from this VM: past the VM's next try, so that
 * try goes elsewhere when some other host is able. */
static uint64_t hold_for(const hac_coord *c, uint64_t wait)
{
    uint64_t h = 2 * wait, max = backoff_max(c);
    if (h < backoff_min(c))
        h = backoff_min(c);
    return h < max ? h : max;
}

static void hold_vm(vsoft *s, uint32_t h, uint64_t now, uint64_t until)
{
    /* the host's own slot, else a free one, else the one that ends first */
    uint32_t k = HAC__HOLDS;
    for (uint32_t i = 0; i < HAC__HOLDS && k == HAC__HOLDS; i++)
        if (s->holds[i].host == h && now < s->holds[i].until_ms)
            k = i;
    for (uint32_t i = 0; i < HAC__HOLDS && k == HAC__HOLDS; i++)
        if (now >= s->holds[i].until_ms)
            k = i;
    if (k == HAC__HOLDS) {
        k = 0;
        for (uint32_t i = 1; i < HAC__HOLDS; i++)
            if (s->holds[i].until_ms < s->holds[k].until_ms)
                k = i;
    }
    s->holds[k] = (vhold){.host = h, .until_ms = until};
}

void hac__start_ok(hac_coord *c, uint32_t vm)
{
    vsoft *s = &c->v[vm];
    s->start_fails = 0;
    s->retry_ms = 0;
    s->start_fail_ms = 0;
    s->wait_noted_ms = 0;
    s->restart_reported = false;
    memset(s->holds, 0, sizeof s->holds);
}

void hac__start_failed(hac_coord *c, uint32_t vm, uint32_t h, const char *text, hac_out *out)
{
    vsoft *s = &c->v[vm];
    uint64_t now = c->now_ms;
    hac__refusal cls = hac__refusal_class(text);
    s->start_fail_ms = now ? now : 1;
    if (s->start_fails < UINT32_MAX)
        s->start_fails++;
    uint64_t wait = retry_wait(c, s->start_fails);
    s->retry_ms = now + wait;
    uint64_t held = hold_for(c, wait);
    hold_vm(s, h, now, now + held);
    s->why_host = (int32_t)h;
    snprintf(s->why, sizeof s->why, "%s", text);
    s->wait_noted_ms = 0;
    /* The refused START must never run later: a copy of it still on its way (a resend
     * stuck in a queue) would be accepted once the host is able again, while this VM
     * may be started elsewhere by then. The fence core refuses commands below the
     * generation it has applied, and a returning agent applies the log before it accepts
     * any, so the generation moves on now, the owner staying the same (as a cleared move
     * does for a late MIGRATE, hac_state.c). The next try carries the new one. */
    const hac_rvm *m = &c->s.vms[vm];
    if (m->owner == (int32_t)h && m->moving_to < 0 && hac__vm_idle(c, vm)) {
        hac_prop p = {.kind = HAC_P_OWNER, .index = vm, .owner = m->owner,
                      .generation = m->generation + 1, .restarts = m->restarts,
                      .home = m->home};
        hac__propose(out, &p);
        s->prop_ms = now ? now : 1;
        s->bump_on_commit = true;
    }
    char next[40];
    if (wait)
        snprintf(next, sizeof next, "in %llu ms", (unsigned long long)wait);
    else
        snprintf(next, sizeof next, "at once");
    if (cls == HAC__REF_HOST) {
        uint64_t host_held = hac__hold_host(c, h, text);
        hac__event(out, (int32_t)vm, (int32_t)h,
                   "vm %s: %s refused the start, not able now (no VM goes there for %llu ms); "
                   "next try %s: %s",
                   c->s.vms[vm].name, hac__hname(c, (int32_t)h), (unsigned long long)host_held,
                   next, text);
    } else {
        hac__event(out, (int32_t)vm, (int32_t)h,
                   "vm %s: start on %s failed (not there again for %llu ms); next try %s: %s",
                   c->s.vms[vm].name, hac__hname(c, (int32_t)h), (unsigned long long)held, next,
                   text);
    }
}

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
    if (c->now_ms < c->v[vm].retry_ms)
        return false;   /* backing off after failed STARTs: the event said until when */
    /* Reported running by a host after its lease ended: that host is back and runs it
     * (gossip has not caught up yet). */
    int32_t at = c->v[vm].seen_on;
    if (at >= 0 && c->h[at].inv_ms > hac__lease_end_ms(c, (uint32_t)at))
        return false;
    if (m->owner < 0)
        return false;
    /* An owner that answered a START with a failure may run the VM all the same (libvirt
     * failed after QEMU started, or an earlier START got there first): only an inventory
     * it sent after the failure, without the VM, lets another host start it. Once it is
     * able again and no longer held back from this VM, it starts the VM in place
     * (hac_coord.c) rather than sending it elsewhere. */
    bool refused = hac__alive(c, m->owner) && c->v[vm].start_fail_ms &&
                   c->h[m->owner].inv_ms > c->v[vm].start_fail_ms &&
                   !hac__may_start(c, vm, m->owner);
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

/* Why the VM could not be placed, when refusals are (part of) the reason: the earliest
 * time a hold on it or on a host ends (0 when only silent hosts are in the way), and a
 * text. False when nothing of ours holds it back: placement's reason is the true one. */
static bool held_back(const hac_coord *c, uint32_t vm, uint64_t *next, char *why, size_t len)
{
    const vsoft *s = &c->v[vm];
    uint64_t now = c->now_ms, end = 0;
    uint32_t n_vm = 0, n_host = 0, n_silent = 0;
    int32_t host = -1, silent = -1;
    for (uint32_t i = 0; i < HAC__HOLDS; i++)
        if (now < s->holds[i].until_ms && s->holds[i].host < c->s.n_hosts) {
            n_vm++;
            if (!end || s->holds[i].until_ms < end)
                end = s->holds[i].until_ms;
        }
    for (uint32_t h = 0; h < c->s.n_hosts; h++) {
        if (!hac__alive(c, (int32_t)h) || hac__vm_held(c, vm, h) || (s->must_not >> h & 1u))
            continue;
        if (hac__host_held(c, h)) {
            n_host++;
            if (host < 0)
                host = (int32_t)h;
            if (!end || c->h[h].hold_until_ms < end)
                end = c->h[h].hold_until_ms;
        } else if (!hac__able(c, (int32_t)h)) {
            n_silent++;
            if (silent < 0)
                silent = (int32_t)h;
        }
    }
    if (n_vm + n_host + n_silent == 0)
        return false;
    *next = end;
    if (n_vm && s->why_host >= 0 && hac__vm_held(c, vm, (uint32_t)s->why_host))
        snprintf(why, len, "%s refused its start%s: %s", hac__hname(c, s->why_host),
                 n_vm + n_host > 1 ? " (and other hosts lately)" : "", s->why);
    else if (n_vm)
        snprintf(why, len, "%u host(s) refused its start lately", n_vm);
    else if (n_host)
        snprintf(why, len, "%s is not able now%s: %s", hac__hname(c, host),
                 n_host > 1 ? " (nor other hosts)" : "", c->h[host].hold_why);
    else
        snprintf(why, len, "%s not heard from for %llu ms%s", hac__hname(c, silent),
                 (unsigned long long)(now - c->h[silent].last_ack_ms),
                 n_silent > 1 ? " (nor other hosts)" : "");
    return true;
}

/* The reason a restart happens, for its event. */
static void restart_reason(const hac_coord *c, uint32_t vm, char *buf, size_t len)
{
    const hac_rvm *m = &c->s.vms[vm];
    const vsoft *s = &c->v[vm];
    if (c->h[m->owner].fenced)
        snprintf(buf, len, "host %s fenced", hac__hname(c, m->owner));
    else if (!hac__alive(c, m->owner))
        snprintf(buf, len, "host %s lease expired", hac__hname(c, m->owner));
    else if (s->why_host == m->owner)
        snprintf(buf, len, "%s refused it: %s", hac__hname(c, m->owner), s->why);
    else
        snprintf(buf, len, "%s refused it", hac__hname(c, m->owner));
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
    hac__build_view(c, false);
    /* Hosts not able to take a START now are out of this plan (placement sees them
     * down); hosts that refused a VM lately are out for that VM. */
    for (uint32_t h = 0; h < c->s.n_hosts; h++)
        if (!hac__able(c, (int32_t)h))
            c->ph[h].health = PLC_HEALTH_DOWN;
    /* Only the VMs chosen above are victims: hide the others of those hosts (already
     * running elsewhere, over their limit, or waiting for a move). */
    for (uint32_t v = 0; v < c->s.n_vms; v++) {
        if (want[v]) {
            c->pv[v].host = c->s.vms[v].owner;
            for (uint32_t i = 0; i < HAC__HOLDS; i++)
                if (c->now_ms < c->v[v].holds[i].until_ms && c->v[v].holds[i].host < c->s.n_hosts)
                    plc_set_add(&c->pv[v].host_must_not, c->v[v].holds[i].host);
        } else {
            for (uint32_t i = 0; i < n_failed; i++)
                if (c->pv[v].host == (int32_t)failed[i])
                    c->pv[v].host = -1;
        }
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
        vsoft *s = &c->v[v];
        /* A START that was refused did not restart the VM: max_restarts counts restarts
         * that ran, so a host that refuses cannot use up a VM's allowance. */
        hac_prop p = {.kind = HAC_P_OWNER, .index = v, .owner = (int32_t)plan.moves[i].to,
                      .generation = m->generation + 1,
                      .restarts = m->restarts + (s->start_fails ? 0 : 1), .home = -1};
        hac__propose(out, &p);
        s->prop_ms = c->now_ms ? c->now_ms : 1;
        s->start_on_commit = true;
        s->wait_noted_ms = 0;
        char why[HAC_TEXT_MAX / 2];
        restart_reason(c, v, why, sizeof why);
        hac__event(out, (int32_t)v, (int32_t)plan.moves[i].to,
              "vm %s: restart on %s, generation %llu, order %d (%s)",
              m->name, hac__hname(c, (int32_t)plan.moves[i].to),
              (unsigned long long)p.generation, m->restart_order, why);
        want[v] = false;
    }
    for (uint32_t v = 0; v < c->s.n_vms; v++) {
        if (!want[v])
            continue;
        vsoft *s = &c->v[v];
        uint64_t next = 0;
        char why[HAC_TEXT_MAX];
        if (held_back(c, v, &next, why, sizeof why)) {
            /* once per hold that ends: the plan runs again then */
            if (s->wait_noted_ms != next + 1) {
                s->wait_noted_ms = next + 1;
                if (next)
                    hac__event(out, (int32_t)v, c->s.vms[v].owner,
                               "vm %s waits, next try in %llu ms: %s", c->s.vms[v].name,
                               (unsigned long long)(next - c->now_ms), why);
                else
                    hac__event(out, (int32_t)v, c->s.vms[v].owner,
                               "vm %s waits for a host to report: %s", c->s.vms[v].name, why);
            }
            continue;
        }
        if (s->restart_reported)
            continue;
        const char *code, *ex;
        hac__first_why(&plan, v, &code, &ex);
        /* No host rule exists in the HA state: an excluded host here is one the agent's
         * placement view says the VM can never run on (storage, CPU, network, versions). */
        if (strcmp(code, "anti_affinity.host") == 0) {
            code = "constraints";
            ex = "every live host lacks what it needs (see the \"can never run on\" event)";
        }
        hac__event(out, (int32_t)v, c->s.vms[v].owner, "vm %s cannot be restarted: %s%s%s",
              c->s.vms[v].name, code, ex[0] ? ": " : "", ex);
        s->restart_reported = true;
    }
    plc_plan_free(&plan);
    return 0;
}
