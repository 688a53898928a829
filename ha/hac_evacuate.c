/* hac_evacuate.c — emptying a host (drain, degradation, upgrade) and failback.
 *
 * Evacuation re-plans with plc_plan_evacuate on every pass and issues only the first
 * wave: moves in flight count against the concurrency limits, so the next pass issues
 * the next wave. A move is recorded (MOVING, generation + 1) before its MIGRATE is sent.
 * Failed destinations are excluded per VM through host labels; when every candidate
 * failed once they are retried until migrate_attempts_max, then the VM is reported.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hac_int.h"

/* ---- evacuation (drain, degradation, upgrade) and failback ----------------------- */

bool hac__evacuating(const hac_coord *c, uint32_t h)
{
    if (!hac__alive(c, (int32_t)h) || hac__frozen(c, (int32_t)h))
        return false;
    plc_admin a = c->s.hosts[h].admin;
    /* A host in maintenance that owns a VM again (someone started or moved one there
     * by hand, and the coordinator adopted it) is emptied like a draining one. */
    return a == PLC_ADMIN_DRAINING || (hac__degraded(c, h) && a != PLC_ADMIN_MAINTENANCE) ||
           (a == PLC_ADMIN_MAINTENANCE && !hac__host_empty(c, h));
}

static void start_move(hac_coord *c, hac_out *out, uint32_t v, uint32_t to)
{
    hac_rvm *m = &c->s.vms[v];
    hac_prop p = {.kind = HAC_P_MOVING, .index = v, .owner = (int32_t)to,
                  .generation = m->generation + 1};
    hac__propose(out, &p);
    c->v[v].prop_ms = c->now_ms ? c->now_ms : 1;
    c->v[v].migrate_on_commit = true;
}

int hac__evacuate(hac_coord *c, uint32_t h, hac_out *out)
{
    /* Until the source has reported to this coordinator, seen_on says nothing: a
     * running VM would be planned as a stopped one. */
    if (c->h[h].inv_ms == 0)
        return 0;
    /* It refused a migration as not able now (hac_coord.c): its moves wait for the hold. */
    if (hac__host_held(c, h))
        return 0;
    bool any = false;
    for (uint32_t v = 0; v < c->s.n_vms; v++) {
        const hac_rvm *m = &c->s.vms[v];
        if (m->owner == (int32_t)h && m->moving_to < 0 && hac__vm_idle(c, v) &&
            (c->v[v].seen_on == (int32_t)h || !hac__alive(c, c->v[v].seen_on)))
            any = true;
    }
    if (!any)
        return 0;
    hac__build_view(c, true);
    /* VMs busy with something else stay out of this plan (they count where they are). */
    plc_plan plan;
    int rc = plc_plan_evacuate(&c->view, h, &plan);
    if (rc < 0)
        return rc;
    for (uint32_t i = 0; i < plan.n_moves; i++) {
        uint32_t v = plan.moves[i].vm;
        const hac_rvm *m = &c->s.vms[v];
        if (plan.moves[i].wave != 0 || m->owner != (int32_t)h || m->moving_to >= 0 ||
            !hac__vm_idle(c, v) || (c->v[v].seen_on != (int32_t)h && hac__alive(c, c->v[v].seen_on)))
            continue;
        if (c->v[v].attempts >= c->cfg.migrate_attempts_max)
            continue;
        start_move(c, out, v, plan.moves[i].to);
        hac__event(out, (int32_t)v, (int32_t)h, "vm %s: %s %s -> %s (%s)", m->name,
              c->v[v].seen_on == (int32_t)h ? "migrate" : "move stopped",
              hac__hname(c, (int32_t)h), hac__hname(c, (int32_t)plan.moves[i].to),
              c->s.hosts[h].admin == PLC_ADMIN_DRAINING ? "drain" : "host degraded");
    }
    for (uint32_t v = 0; v < c->s.n_vms; v++) {
        vsoft *s = &c->v[v];
        if (c->s.vms[v].owner != (int32_t)h || s->stuck_reported || !hac__vm_idle(c, v))
            continue;
        const char *code = NULL, *ex = "";
        if (s->attempts >= c->cfg.migrate_attempts_max)
            code = "migration.failed";
        else
            for (uint32_t i = 0; i < plan.n_unplaced; i++)
                if (plan.unplaced[i].vm == v)
                    hac__first_why(&plan, v, &code, &ex);
        if (code && s->exclude && s->attempts < c->cfg.migrate_attempts_max) {
            /* Every candidate failed once: try them again until attempts run out. */
            s->exclude = 0;
            continue;
        }
        if (code) {
            hac__event(out, (int32_t)v, (int32_t)h, "vm %s cannot leave %s: %s%s%s (%u attempts)",
                  c->s.vms[v].name, hac__hname(c, (int32_t)h), code, ex[0] ? ": " : "", ex,
                  s->attempts);
            s->stuck_reported = true;
        }
    }
    plc_plan_free(&plan);
    return 0;
}

void hac__failback(hac_coord *c, uint32_t h, hac_out *out)
{
    uint32_t in_flight = 0;
    for (uint32_t v = 0; v < c->s.n_vms; v++)
        in_flight += c->s.vms[v].moving_to == (int32_t)h || (c->v[v].migrate_on_commit &&
                                                             c->v[v].prop_ms);
    bool left = false;
    /* A failed move home is retried (the destination is fixed, so its exclusion is
     * lifted) until migrate_attempts_max; a VM that cannot go home is reported once and
     * stays where it is, so the failback finishes. */
    for (uint32_t v = 0; v < c->s.n_vms; v++)
        if (c->s.vms[v].home == (int32_t)h && c->v[v].attempts < c->cfg.migrate_attempts_max)
            c->v[v].exclude &= ~(1ull << h);
    hac__build_view(c, true);
    for (uint32_t v = 0; v < c->s.n_vms; v++) {
        const hac_rvm *m = &c->s.vms[v];
        vsoft *s = &c->v[v];
        if (m->home != (int32_t)h || s->stuck_reported)
            continue;
        left = true;
        if (in_flight >= c->cfg.plc.max_in_per_host || m->moving_to >= 0 || !hac__vm_idle(c, v) ||
            !hac__alive(c, m->owner) || s->seen_on != m->owner)
            continue;
        plc_report r;
        if (plc_check_kind(&c->view, PLC_KIND_MIGRATE, v, h, &r) < 0)
            continue;
        if (r.n_blocking == 0 && s->attempts < c->cfg.migrate_attempts_max) {
            start_move(c, out, v, h);
            hac__event(out, (int32_t)v, (int32_t)h, "vm %s: failback %s -> %s", m->name,
                  hac__hname(c, m->owner), hac__hname(c, (int32_t)h));
            in_flight++;
        } else {
            const char *why = s->attempts >= c->cfg.migrate_attempts_max
                                  ? "migration.failed"
                                  : r.items[0].code;
            hac__event(out, (int32_t)v, (int32_t)h, "vm %s cannot go home to %s: %s%s%s", m->name,
                  hac__hname(c, (int32_t)h), why, r.n_blocking ? ": " : "",
                  r.n_blocking ? r.items[0].reason : "");
            s->stuck_reported = true;
        }
    }
    if (!left && !c->h[h].admin_prop_ms) {
        hac_prop p = {.kind = HAC_P_ADMIN, .index = h, .admin = c->s.hosts[h].admin,
                      .degraded_flag = c->s.hosts[h].degraded_flag, .failback = false};
        hac__propose(out, &p);
        c->h[h].admin_prop_ms = c->now_ms ? c->now_ms : 1;
        hac__event(out, -1, (int32_t)h, "host %s: failback done", c->s.hosts[h].name);
    }
}
