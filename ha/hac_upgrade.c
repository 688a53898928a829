/* hac_upgrade.c — the rolling-upgrade state machine (its state lives in hac_rstate, so
 * a new coordinator continues it). Per host: drain -> run the command -> wait until it
 * rejoins healthy at a version >= before -> undrain -> next. One proposal at a time
 * (seq compare-and-set); the RUN command is re-sent after cmd_timeout_ms and by a new
 * coordinator, so it must be idempotent.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hac_int.h"

/* ---- rolling upgrade -------------------------------------------------------------- */

void hac__propose_upgrade(hac_coord *c, hac_out *out, const hac_upgrade *u)
{
    hac_prop p = {.kind = HAC_P_UPGRADE, .upgrade = *u};
    p.upgrade.seq = c->s.upgrade.seq + 1;
    hac__propose(out, &p);
    c->upg_prop_ms = c->now_ms ? c->now_ms : 1;
}

void hac__upgrade_step(hac_coord *c, hac_out *out)
{
    const hac_upgrade *u = &c->s.upgrade;
    if (u->state != HAC_UPG_RUNNING || c->upg_prop_ms)
        return;
    hac_upgrade n = *u;
    if (u->cur >= u->n) {
        n.state = HAC_UPG_DONE;
        hac__propose_upgrade(c, out, &n);
        hac__event(out, -1, -1, "upgrade: done, %u hosts", u->n);
        return;
    }
    uint32_t h = u->order[u->cur];
    const hac_rhost *r = &c->s.hosts[h];
    n.phase_since_ms = c->now_ms;
    switch (u->phase) {
    case HAC_UPH_DRAIN:
        if (c->h[h].admin_prop_ms)
            return;
        if (r->admin == PLC_ADMIN_ACTIVE || r->admin == PLC_ADMIN_CORDONED) {
            hac__propose_admin(c, out, h, PLC_ADMIN_DRAINING, r->degraded_flag);
            hac__event(out, -1, (int32_t)h, "upgrade: drain %s (%u/%u)", r->name, u->cur + 1, u->n);
        } else if (r->admin == PLC_ADMIN_MAINTENANCE && hac__alive(c, (int32_t)h)) {
            n.phase = HAC_UPH_RUN;
            n.version_before = c->h[h].version;
            hac__propose_upgrade(c, out, &n);
        }
        return;
    case HAC_UPH_RUN:
        /* No answer within cmd_timeout_ms: send it again (the command must be
         * idempotent, as it is also re-sent by a new coordinator). */
        if (c->upg_run_id && c->now_ms >= c->upg_run_ms + c->cfg.cmd_timeout_ms)
            c->upg_run_id = 0;
        if (c->upg_run_id == 0 && hac__alive(c, (int32_t)h) && !hac__host_held(c, h)) {
            c->upg_run_id = hac__send_cmd(c, out, HAC_CMD_RUN, 0, h, h, u->command);
            c->upg_run_ms = c->now_ms;
            hac__event(out, -1, (int32_t)h, "upgrade: run on %s: %s", r->name, u->command);
        }
        return;
    case HAC_UPH_REJOIN: {
        const hview *v = &c->h[h];
        if (hac__alive(c, (int32_t)h) && !hac__degraded(c, h) && v->version >= u->version_before &&
            v->last_ack_ms > u->phase_since_ms && v->inv_ms > u->phase_since_ms) {
            n.phase = HAC_UPH_UNDRAIN;
            hac__propose_upgrade(c, out, &n);
            hac__event(out, -1, (int32_t)h, "upgrade: %s rejoined healthy", r->name);
        } else if (c->now_ms > u->phase_since_ms + c->cfg.rejoin_timeout_ms) {
            n.state = HAC_UPG_PAUSED;
            hac__propose_upgrade(c, out, &n);
            hac__event(out, -1, (int32_t)h, "upgrade paused: %s did not rejoin healthy in %llu ms",
                  r->name, (unsigned long long)c->cfg.rejoin_timeout_ms);
        }
        return;
    }
    case HAC_UPH_UNDRAIN:
        if (c->h[h].admin_prop_ms)
            return;
        if (r->admin != PLC_ADMIN_ACTIVE) {
            hac__propose_admin(c, out, h, PLC_ADMIN_ACTIVE, r->degraded_flag);
        } else {
            n.cur++;
            n.phase = HAC_UPH_DRAIN;
            hac__propose_upgrade(c, out, &n);
            hac__event(out, -1, (int32_t)h, "upgrade: %s done", r->name);
        }
        return;
    }
}
