/* ha_freeze.c — restarting the agent never reboots or destroys a VM (issue 11, 3b).
 *
 * Design. The QEMUs of a host run on when its agent stops: a systemd restart, a package
 * upgrade, `systemctl stop`. Without the agent nothing renews the host's lease, so after
 * fence_timeout x drift the coordinator would restart its protected VMs elsewhere while
 * they still run here, and the agent, back, would find its lease over and destroy them.
 * So a clean stop first asks the cluster to freeze the host (Proxmox's LRM 'freeze'): a
 * replicated flag (HAC_P_FREEZE) under which the coordinator never restarts, moves or
 * fences the host's VMs, however long it is away. The agent waits HA_FREEZE_WAIT_MS for
 * the commit, says what it got, and stops destroying nothing. Back (same boot), its
 * fence core honours the freeze (hac_fence_same_boot): no self-fence on the old lease;
 * once in contact and reconciled it asks to unfreeze, and leases run as before.
 *
 * Not while the host itself shuts down (systemd's state "stopping"): its QEMUs stop with
 * it, nothing runs on for a freeze to protect, and its protected VMs fail over as for a
 * host that is off (Proxmox's 'conditional' shutdown policy does the same on poweroff).
 *
 * Why the agent itself asks and nobody else: a freeze is a promise that the VMs are left
 * alone because their agent chose to go. A host that is cut off or dead is never frozen
 * (its agent did not ask), so the lease and fence rules stay what they were for it; an
 * agent that crashes asks nothing either: it has its lease for fence_timeout, and the
 * watchdog covers a hang. A frozen host that truly died is unfrozen by an operator
 * (`drover host unfreeze HOST --confirm-off`), which counts as a confirmed fence.
 *
 * Ordering. Every request carries a stamp, epoch << 32 | count, and hac_apply refuses one
 * below the host's last: an older process's late freeze cannot freeze the host again
 * after the new one unfroze it, and an unfreeze resent late cannot undo the freeze of a
 * stop. A stopping agent asks no unfreeze at all.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>

#include "events.h"
#include "exitcodes.h"
#include "ha_drv.h"
#include "ha_int.h"
#include "log.h"
#include "raft_drv.h"

/* This host owns a protected VM (or one is moving here): only those does a freeze keep. */
static int protected_here(const struct ag_ha *h)
{
    int n = 0;
    for (uint32_t v = 0; v < h->st->n_vms; v++) {
        const hac_rvm *m = &h->st->vms[v];
        n += m->protected_ && (m->owner == h->self || m->moving_to == h->self);
    }
    return n;
}

static int ask(ag_agent *a, bool frozen, const char *reason, ag_raft_done_fn done, void *ud)
{
    struct ag_ha *h = a->ha;
    hac_prop p = {.kind = HAC_P_FREEZE, .index = (uint32_t)h->self, .frozen = frozen,
                  .stamp = a->epoch << 32 | ++h->freeze_n, .at_ms = frozen ? ag_wall_ms() : 0};
    return ag_ha__submit(a, &p, reason, done, ud);
}

/* systemd says the whole host is shutting down. Asked once, at the stop, with a short
 * timeout: without an answer (no systemd, no bus) the agent alone is taken to stop. */
static bool host_shutting_down(void)
{
    sd_bus *bus = NULL;
    char *state = NULL;
    bool yes = false;
    if (sd_bus_open_system(&bus) >= 0 && sd_bus_set_method_call_timeout(bus, 500 * 1000) >= 0 &&
        sd_bus_get_property_string(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                   "org.freedesktop.systemd1.Manager", "SystemState", NULL, &state) >= 0)
        yes = strcmp(state, "stopping") == 0;
    free(state);
    sd_bus_unref(bus);
    return yes;
}

/* ---- the stop ----------------------------------------------------------------------- */

struct stop {
    ag_agent *a;
    ag_ha_then_fn then;
    ag_id timer;
    bool finished;
};

/* Say what the stop leaves behind, then go on stopping. */
static void finish(struct stop *q, bool ok, const char *why)
{
    ag_agent *a = q->a;
    struct ag_ha *h = a->ha;
    q->finished = true;
    if (q->timer)
        ag_loop_cancel(a->loop, q->timer);
    q->timer = 0;
    const char *me = a->cfg.name;
    h->freeze_confirmed = ok;
    if (ok)
        ag_event(a, "fence", json_pack("{s:s,s:b}", "about", me, "frozen", 1),
                 "host %s frozen: agent stopping; its VMs are left alone until it is back", me);
    else if (h->self >= 0 && h->st->hosts[h->self].frozen)
        ag_event(a, "fence", json_pack("{s:s,s:b}", "about", me, "frozen", 1),
                 "host %s stays frozen from its earlier stop (this freeze: %s); its VMs are left "
                 "alone until the agent is back", me, why);
    else
        ag_event(a, "fence", json_pack("{s:s,s:b}", "about", me, "frozen", 0),
                 "host %s NOT frozen (%s): the lease decides as without a freeze; if the agent is "
                 "not back within %lld ms, the coordinator restarts its protected VMs elsewhere while "
                 "they run on here unless [ha] watchdog resets the host or libvirt's lock manager "
                 "refuses the second start", me, why, (long long)a->cfg.fence_timeout_ms);
    q->then(a);
}

static void stop_done(ag_agent *a, void *ud, int code, uint64_t index, const char *error)
{
    struct stop *q = ud;
    if (!q->finished && a->ha) {   /* not after a second signal stopped everything */
        int rc = code ? 0 : ag_ha__apply_rc(a, index);
        char why[160];
        snprintf(why, sizeof why, "%s", code ? (error ? error : "not committed")
                                  : rc == -ESTALE ? "the cluster had a newer request of this host"
                                                  : "the cluster refused it");
        finish(q, code == 0 && rc == 0, why);
    }
    free(q);   /* raft calls this once, also when it stops */
}

static void stop_timeout(ag_loop *l, ag_id id, void *ud)
{
    (void)l;
    (void)id;
    struct stop *q = ud;
    q->timer = 0;
    char why[96];
    snprintf(why, sizeof why, "no commit within %d ms: no coordinator, or no quorum", HA_FREEZE_WAIT_MS);
    finish(q, false, why);
}

void ag_ha_stop_request(ag_agent *a, ag_ha_then_fn then)
{
    struct ag_ha *h = a->ha;
    if (!h || h->stopping) {
        then(a);
        return;
    }
    h->stopping = true;
    int n = h->self >= 0 ? protected_here(h) : 0;
    bool down = n && h->fence.mode != HAC_FM_FENCED && host_shutting_down();
    if (n == 0 || h->fence.mode == HAC_FM_FENCED || down) {
        ag_event(a, "fence", json_pack("{s:s,s:b}", "about", a->cfg.name, "frozen", 0),
                 "agent stopping; host %s not frozen: %s", a->cfg.name,
                 n == 0 ? "it owns no protected VM"
                 : down ? "the host is shutting down: its VMs stop with it and fail over once its lease ends"
                        : "it is fenced (no quorum contact): its protected VMs are gone");
        then(a);
        return;
    }
    struct stop *q = calloc(1, sizeof *q);
    if (!q) {
        then(a);
        return;
    }
    q->a = a;
    q->then = then;
    char reason[HAC_TEXT_MAX];
    snprintf(reason, sizeof reason, "agent epoch %llu, %d protected VMs there", (unsigned long long)a->epoch, n);
    q->timer = ag_loop_timer(a->loop, HA_FREEZE_WAIT_MS, 0, stop_timeout, q);
    ag_loop_set_label(a->loop, q->timer, "ha.freeze_wait");
    ag_info("ha: asking the cluster to freeze %s before stopping (%d protected VMs here)", a->cfg.name, n);
    if (ask(a, true, reason, stop_done, q) != 0)
        stop_done(a, q, AG_EX_OSERR, 0, "out of memory");
}

/* ---- back ----------------------------------------------------------------------------- */

/* The agent starts: say what a freeze it finds means here. */
void ag_ha__freeze_start(ag_agent *a, bool same_boot)
{
    struct ag_ha *h = a->ha;
    if (h->self < 0 || !h->st->hosts[h->self].frozen)
        return;
    uint64_t at = h->st->hosts[h->self].frozen_at_ms, now = ag_wall_ms();
    ag_event(a, "fence", json_pack("{s:s,s:b}", "about", a->cfg.name, "frozen", 1),
             same_boot ? "host %s frozen since its agent stopped %llu s ago: its VMs are kept as they are; "
                         "the agent unfreezes it once caught up with the cluster"
                       : "host %s frozen since its agent stopped %llu s ago, but the host rebooted since: "
                         "nothing ran on, the lease rules as usual; unfrozen once caught up",
             a->cfg.name, (unsigned long long)(at && now > at ? (now - at) / 1000 : 0));
}

static void unfreeze_done(ag_agent *a, void *ud, int code, uint64_t index, const char *error)
{
    (void)ud;
    (void)index;
    if (a->ha)
        a->ha->unfreeze_out = false;
    if (code)
        ag_debug("ha: unfreeze not committed (%s); asked again", error ? error : "");
}

/* Back in contact and reconciled (fence active), not stopping: the host leaves the
 * freeze; the coordinator's lease on it starts from this agent's reports. */
void ag_ha__unfreeze_tick(ag_agent *a, uint64_t now)
{
    struct ag_ha *h = a->ha;
    if (h->self < 0 || !h->st->hosts[h->self].frozen || h->stopping || h->unfreeze_out ||
        h->fence.mode != HAC_FM_ACTIVE || now < h->unfreeze_ms + HA_UNFREEZE_RETRY_MS)
        return;
    h->unfreeze_ms = now;
    char reason[HAC_TEXT_MAX];
    snprintf(reason, sizeof reason, "agent epoch %llu, caught up with the cluster", (unsigned long long)a->epoch);
    h->unfreeze_out = ask(a, false, reason, unfreeze_done, NULL) == 0;
}
