/* hac_coord.c — the HA coordinator core: drains, degradation, restarts, rolling upgrade.
 *
 * Design. The coordinator is level-triggered: after every event it compares the
 * replicated state (who owns what, admin states, the upgrade plan) with what it sees
 * (gossip liveness, agents' inventories, commands in flight) and emits whatever moves
 * the first towards the goal. Nothing it remembers on its own is needed for safety or
 * progress: a new coordinator built from the replicated state converges the same way
 * (it re-learns inventories within one report period). That is what lets a drain or an
 * upgrade survive the loss of the coordinator's host.
 *
 * Every change of ownership is a proposal; commands that depend on it (START after a
 * restart decision, MIGRATE after the move is recorded) are emitted only when the
 * proposal comes back committed. Proposals are compare-and-set on the VM's generation,
 * so a decision taken on a stale view simply fails to apply.
 *
 * Restarts wait for the lease: a dead host's VMs are restarted only when gossip says
 * dead AND now >= last_ack + fence_timeout * drift_pct / 100 (or a fence was confirmed).
 * The agent on that host self-fenced at last_contact + fence_timeout, and its
 * last_contact is never later than our last_ack (hac.h, docs/ha.md).
 *
 * Bounded work: every step is O(hosts * VMs) plus at most one placement plan per
 * evacuating host and one restart plan; outputs are capped by hac_out.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hac_int.h"

/* ---- the level-triggered pass ----------------------------------------------------- */

/* VM's owner says it does not run it: its latest report (this coordinator has one) does
 * not list it, or it is not alive to say anything. */
static bool owner_disowns(const hac_coord *c, uint32_t vm)
{
    int32_t o = c->s.vms[vm].owner;
    if (!hac__alive(c, o))
        return true;
    return c->h[o].inv_ms != 0 && !c->v[vm].on_owner;
}

static int reconcile(hac_coord *c, hac_out *out)
{
    uint64_t now = c->now_ms;
    hac__note_fresh(c);
    for (uint32_t v = 0; v < c->s.n_vms; v++) {
        vsoft *s = &c->v[v];
        /* A START is re-sent quickly when its message may be lost (start_timeout_ms), but
         * not while its target reports the job under way: each re-send was a "lost"
         * event and a joined duplicate for every second a slow start took. */
        bool under_way = s->starting && s->cmd_to == (uint32_t)c->s.vms[v].owner;
        uint64_t limit = s->cmd_kind == HAC_CMD_START && !under_way ? c->cfg.start_timeout_ms
                                                                    : c->cfg.cmd_timeout_ms;
        if (s->cmd_id && now >= s->cmd_ms + limit) {
            hac__event(out, (int32_t)v, (int32_t)s->cmd_to, "vm %s: command %llu lost (no result)",
                  c->s.vms[v].name, (unsigned long long)s->cmd_id);
            /* A lost MIGRATE may still be running: the recorded move stays until the
             * source reports no migration job for it (orphan rule below). */
            s->cmd_id = 0;
        }
        if (s->prop_ms && now >= s->prop_ms + c->cfg.propose_timeout_ms) {
            s->prop_ms = 0;
            s->start_on_commit = s->migrate_on_commit = s->bump_on_commit = false;
        }
    }
    for (uint32_t h = 0; h < c->s.n_hosts; h++) {
        hview *v = &c->h[h];
        if (v->admin_prop_ms && now >= v->admin_prop_ms + c->cfg.propose_timeout_ms)
            v->admin_prop_ms = 0;
        if (v->known && v->live != HAC_ALIVE && !v->lease_reported && hac__expired(c, (int32_t)h)) {
            hac__event(out, -1, (int32_t)h, "host %s: lease expired (%s)", c->s.hosts[h].name,
                  v->fenced ? "fence confirmed" : v->live == HAC_DEAD ? "dead, no report for fence_timeout * drift" : "suspect, no report for fence_timeout * drift");
            v->lease_reported = true;
        }
    }
    if (c->upg_prop_ms && now >= c->upg_prop_ms + c->cfg.propose_timeout_ms)
        c->upg_prop_ms = 0;
    hac__note_frozen(c, out);

    /* A move recorded by an earlier coordinator (or whose result was lost) is settled
     * once the source has reported, after we noticed, that no migration job for the VM
     * runs there (or the source is surely gone). A live migration leaves the VM on
     * exactly one side: if the source still runs it the move failed and is cleared;
     * otherwise the target becomes the owner (if the VM died on the way, the target
     * starts it: still one copy). Clearing without that proof could let the VM land on
     * the target after we started it again at the source. */
    for (uint32_t v = 0; v < c->s.n_vms; v++) {
        vsoft *s = &c->v[v];
        const hac_rvm *m = &c->s.vms[v];
        if (m->moving_to < 0 || !hac__vm_idle(c, v)) {
            s->orphan_ms = 0;
            continue;
        }
        if (!s->orphan_ms) {
            s->orphan_ms = now ? now : 1;
            continue;
        }
        /* Past its lease a source has destroyed only the VMs it knew to be protected: an
         * unprotected one (or one protected while it was cut off) may run there still, and
         * giving it to the target lets a later START run it twice (the simulator found
         * it: unprotected, adopted by the target, protected, started). Only a fence, or
         * the source's own report, settles those. */
        bool src_gone = hac__expired(c, m->owner) &&
                        (c->h[m->owner].fenced || (m->protected_ && m->prot_acked));
        bool src_said = m->owner >= 0 && c->h[m->owner].inv_ms > s->orphan_ms && !s->busy;
        if (!src_gone && !src_said)
            continue;
        hac_prop p = {.index = v, .owner = -1, .generation = m->generation + 1};
        const char *what;
        if (!src_gone && s->seen_on == m->owner) {
            p.kind = HAC_P_MOVING;
            what = "still on the source: move cleared";
        } else if (hac__alive(c, m->moving_to)) {
            p.kind = HAC_P_OWNER;
            p.owner = m->moving_to;
            p.restarts = m->restarts;
            p.home = m->home == m->moving_to ? -1 : m->home;
            what = "not on the source: the target owns it";
        } else if (hac__expired(c, m->moving_to)) {
            p.kind = HAC_P_MOVING;
            what = "target gone: move cleared";
        } else {
            continue;
        }
        hac__propose(out, &p);
        s->prop_ms = now ? now : 1;
        s->orphan_ms = 0;
        hac__event(out, (int32_t)v, m->moving_to, "vm %s: move %s -> %s has no command in flight, %s",
              m->name, hac__hname(c, m->owner), hac__hname(c, m->moving_to), what);
    }

    /* A VM running somewhere other than its owner, with nothing in flight: the owner
     * changes to where it runs (a finished migration whose result was lost, a VM an
     * operator moved by hand). Only where the recorded move went, or once the owner has
     * said it does not run it (or is not alive): otherwise any member could take any VM
     * by listing it (issue 12); the double report is an event (on_inventory). */
    for (uint32_t v = 0; v < c->s.n_vms; v++) {
        hac_rvm *m = &c->s.vms[v];
        int32_t at = c->v[v].seen_on;
        if (!hac__alive(c, at) || at == m->owner || !hac__vm_idle(c, v) ||
            (m->moving_to >= 0 && m->moving_to != at) || (m->moving_to != at && !owner_disowns(c, v)))
            continue;
        hac_prop p = {.kind = HAC_P_OWNER, .index = v, .owner = at,
                      .generation = m->generation + 1, .restarts = m->restarts,
                      .home = m->home == at ? -1 : m->home};
        hac__propose(out, &p);
        c->v[v].prop_ms = now ? now : 1;
        hac__event(out, (int32_t)v, at, "vm %s: runs on %s, owner was %s: adopt", m->name,
              hac__hname(c, at), hac__hname(c, m->owner));
    }

    for (uint32_t v = 0; v < c->s.n_vms; v++) {
        const hac_rvm *m = &c->s.vms[v];
        if (m->protected_ && !m->prot_acked && hac__expired(c, m->owner) &&
            !c->h[m->owner].fenced && !c->v[v].unacked_reported) {
            hac__event(out, (int32_t)v, m->owner,
                  "vm %s not restarted: protected after %s last reported it, so %s may not "
                  "have fenced it; a confirmed fence or its return settles it",
                  m->name, hac__hname(c, m->owner), hac__hname(c, m->owner));
            c->v[v].unacked_reported = true;
        }
    }
    int rc = hac__plan_restarts(c, out);
    if (rc < 0)
        return rc;

    /* A protected VM owned by a live host that runs it nowhere: start it there (a new
     * coordinator finishing a restart, a guest that crashed, or a host that refused it
     * and is able again). Not while it backs off, nor while the owner is held back: a
     * refusal by the owner sends it elsewhere (hac_restart.c); a host held back because
     * it refused another VM is waited for, and an event says so. An owner not acked
     * lately is still asked: only its refusal, then its report, lets another host start
     * the VM. */
    for (uint32_t v = 0; v < c->s.n_vms; v++) {
        const hac_rvm *m = &c->s.vms[v];
        if (!m->protected_ || !m->want_running || !hac__alive(c, m->owner) || hac__frozen(c, m->owner) ||
            !hac__vm_idle(c, v) ||
            c->v[v].seen_on >= 0 || m->moving_to >= 0 || c->h[m->owner].inv_ms == 0 ||
            now < c->v[v].retry_ms || hac__vm_held(c, v, (uint32_t)m->owner))
            continue;
        if (hac__host_held(c, (uint32_t)m->owner)) {
            uint64_t until = c->h[m->owner].hold_until_ms;
            if (c->v[v].wait_noted_ms != until + 1) {
                c->v[v].wait_noted_ms = until + 1;
                hac__event(out, (int32_t)v, m->owner, "vm %s waits, next try in %llu ms: %s is not able now: %s",
                           m->name, (unsigned long long)(until - now), hac__hname(c, m->owner),
                           c->h[m->owner].hold_why);
            }
            continue;
        }
        c->v[v].cmd_id = hac__send_cmd(c, out, HAC_CMD_START, v, (uint32_t)m->owner,
                                  (uint32_t)m->owner, NULL);
        c->v[v].cmd_kind = HAC_CMD_START;
        c->v[v].cmd_to = (uint32_t)m->owner;
        c->v[v].cmd_ms = now;
    }

    for (uint32_t h = 0; h < c->s.n_hosts; h++) {
        if (hac__evacuating(c, h) && (rc = hac__evacuate(c, h, out)) < 0)
            return rc;
        if (c->s.hosts[h].failback && c->s.hosts[h].admin == PLC_ADMIN_ACTIVE &&
            hac__alive(c, (int32_t)h))
            hac__failback(c, h, out);
        if (c->s.hosts[h].admin == PLC_ADMIN_DRAINING && hac__host_empty(c, h) &&
            !c->h[h].admin_prop_ms) {
            hac__propose_admin(c, out, h, PLC_ADMIN_MAINTENANCE, c->s.hosts[h].degraded_flag);
            hac__event(out, -1, (int32_t)h, "host %s: empty, entering maintenance",
                  c->s.hosts[h].name);
        }
    }
    hac__upgrade_step(c, out);
    return 0;
}

/* ---- inputs ----------------------------------------------------------------------- */

static void on_host(hac_coord *c, const hac_input *in, hac_out *out)
{
    hview *v = &c->h[in->host];
    uint64_t now = c->now_ms;
    v->known = true;
    if (in->live == HAC_DEAD && v->live != HAC_DEAD && c->s.hosts[in->host].frozen)
        hac__event(out, -1, (int32_t)in->host, "host %s: declared dead while frozen (its agent "
                   "stopped cleanly): its VMs are left alone", c->s.hosts[in->host].name);
    else if (in->live == HAC_DEAD && v->live != HAC_DEAD)
        hac__event(out, -1, (int32_t)in->host, "host %s: declared dead, lease ends at %llu ms",
              c->s.hosts[in->host].name,
              (unsigned long long)(in->last_ack_ms +
                                   c->cfg.fence_timeout_ms * c->cfg.drift_pct / 100));
    if (in->live == HAC_ALIVE) {
        v->fenced = false;
        v->lease_reported = false;
    }
    v->live = in->live;
    if (in->last_ack_ms > v->last_ack_ms)
        v->last_ack_ms = in->last_ack_ms;
    v->version = in->version;
    if (in->mem_mib)
        v->mem_mib = in->mem_mib;
    if (in->cpus)
        v->cpus = in->cpus;
    if (in->degraded) {
        v->good_since_ms = 0;
        if (!v->bad_since_ms)
            v->bad_since_ms = now ? now : 1;
        if (!v->degraded && now >= v->bad_since_ms + c->cfg.degrade_after_ms) {
            v->degraded = true;
            hac__event(out, -1, (int32_t)in->host, "host %s: degraded, evacuating",
                  c->s.hosts[in->host].name);
        }
    } else {
        v->bad_since_ms = 0;
        if (!v->good_since_ms)
            v->good_since_ms = now ? now : 1;
        if (v->degraded && now >= v->good_since_ms + c->cfg.recover_after_ms) {
            v->degraded = false;
            hac__event(out, -1, (int32_t)in->host, "host %s: healthy again",
                  c->s.hosts[in->host].name);
        }
    }
}

/* The owner's report says whether its guest powered itself off (after running there) or
 * was started again: the intent follows, as the operator or the guest expressed it. */
static void want_running_from(hac_coord *c, uint32_t v, uint32_t host, bool was_here, bool here,
                              bool down, hac_out *out)
{
    const hac_rvm *m = &c->s.vms[v];
    if (m->owner != (int32_t)host || m->moving_to >= 0 || !hac__vm_idle(c, v))
        return;
    bool want;
    if (m->want_running && !here && down && was_here)
        want = false;
    else if (!m->want_running && here)
        want = true;
    else
        return;
    hac_prop p = {.kind = HAC_P_WANT, .index = v, .generation = m->generation, .want_running = want};
    hac__propose(out, &p);
    c->v[v].prop_ms = c->now_ms ? c->now_ms : 1;
    hac__event(out, (int32_t)v, (int32_t)host,
               want ? "vm %s: running again on %s: kept running from now on"
                    : "vm %s: shut down from inside the guest on %s: not restarted until started again",
               m->name, hac__hname(c, (int32_t)host));
}

/* The reporting host's START jobs: its VMs listed are under way, the others are not. */
static void note_starting(hac_coord *c, const hac_input *in)
{
    for (uint32_t v = 0; v < c->s.n_vms; v++)
        if (c->s.vms[v].owner == (int32_t)in->host)
            c->v[v].starting = false;
    for (uint32_t i = 0; in->starting && i < in->n_starting; i++)
        if (in->starting[i] < c->s.n_vms && c->s.vms[in->starting[i]].owner == (int32_t)in->host)
            c->v[in->starting[i]].starting = true;
}

/* A live migration shows the VM on its source and its destination until it ends: that
 * is no news (journalled several times a second per move, it buried the rest). */
static bool moving_between(const hac_rvm *m, int32_t a, int32_t b)
{
    return m->moving_to >= 0 && ((m->owner == a && m->moving_to == b) || (m->owner == b && m->moving_to == a));
}

static void on_inventory(hac_coord *c, const hac_input *in, hac_out *out)
{
    bool here[HAC_VMS_MAX] = {false}, stale[HAC_VMS_MAX] = {false}, busy[HAC_VMS_MAX] = {false};
    bool down[HAC_VMS_MAX] = {false};
    for (uint32_t i = 0; i < in->n_down; i++)
        if (in->down && in->down[i] < c->s.n_vms)
            down[in->down[i]] = true;
    for (uint32_t i = 0; i < in->n_vms; i++)
        if (in->vms[i] < c->s.n_vms) {
            here[in->vms[i]] = true;
            stale[in->vms[i]] = in->gens && in->gens[i] < c->s.vms[in->vms[i]].generation;
        }
    for (uint32_t i = 0; i < in->n_busy; i++)
        if (in->busy[i] < c->s.n_vms && c->s.vms[in->busy[i]].owner == (int32_t)in->host)
            busy[in->busy[i]] = true;
    note_starting(c, in);
    for (uint32_t v = 0; v < c->s.n_vms; v++) {
        int32_t *seen = &c->v[v].seen_on;
        if (c->s.vms[v].owner == (int32_t)in->host)
            c->v[v].busy = busy[v];
        if (stale[v])
            continue;
        if (c->s.vms[v].owner == (int32_t)in->host)
            c->v[v].on_owner = here[v];
        want_running_from(c, v, in->host, *seen == (int32_t)in->host, here[v], down[v], out);
        if (here[v] && *seen >= 0 && *seen != (int32_t)in->host && hac__alive(c, *seen) &&
            !moving_between(&c->s.vms[v], *seen, (int32_t)in->host))
            hac__event(out, (int32_t)v, (int32_t)in->host, "vm %s reported on %s and %s",
                  c->s.vms[v].name, hac__hname(c, *seen), hac__hname(c, (int32_t)in->host));
        if (here[v]) {
            *seen = (int32_t)in->host;
            hac__start_ok(c, v);
        }
        else if (*seen == (int32_t)in->host)
            *seen = -1;
        /* The owner reports it at the current generation: it has applied the
         * protection, so it will fence the VM when cut off. */
        const hac_rvm *m = &c->s.vms[v];
        if (here[v] && m->owner == (int32_t)in->host && m->protected_ && !m->prot_acked &&
            hac__vm_idle(c, v)) {
            hac_prop p = {.kind = HAC_P_PROT_ACK, .index = v, .generation = m->generation};
            hac__propose(out, &p);
            c->v[v].prop_ms = c->now_ms ? c->now_ms : 1;
        }
    }
    c->h[in->host].inv_ms = c->now_ms ? c->now_ms : 1;
}

static int on_admin(hac_coord *c, const hac_input *in, hac_out *out)
{
    hac_prop p;
    char why[HAC_TEXT_MAX];
    int rc = hac_admin_prop(&c->s, in, c->now_ms, &p, why, sizeof why);
    if (rc < 0)
        return rc;
    int32_t host = in->req >= HAC_REQ_UPGRADE_START ? -1 : (int32_t)in->host;
    if (rc > 0) {
        if (why[0])
            hac__event(out, -1, host, "%s", why);
        return 0;
    }
    if (p.kind == HAC_P_UPGRADE)
        hac__propose_upgrade(c, out, &p.upgrade);
    else if (p.kind == HAC_P_FREEZE)
        hac__propose(out, &p);
    else
        hac__propose_admin_fb(c, out, in->host, p.admin, p.degraded_flag, p.failback);
    hac__event(out, -1, host, "%s", why);
    return 0;
}

static void on_commit(hac_coord *c, const hac_input *in, hac_out *out)
{
    const hac_prop *p = in->prop;
    bool to_drain = p->kind == HAC_P_ADMIN && p->index < c->s.n_hosts &&
                    p->admin == PLC_ADMIN_DRAINING && c->s.hosts[p->index].admin != PLC_ADMIN_DRAINING;
    int rc = hac_apply(&c->s, p);
    if (p->kind == HAC_P_ADMIN && p->index < c->s.n_hosts)
        c->h[p->index].admin_prop_ms = 0;
    /* a new drain (from any host's request) starts with a clean slate of failures */
    for (uint32_t v = 0; to_drain && rc == 0 && v < c->s.n_vms; v++)
        if (c->s.vms[v].owner == (int32_t)p->index)
            c->v[v].attempts = 0, c->v[v].stuck_reported = false, c->v[v].exclude = 0;
    if (p->kind == HAC_P_UPGRADE) {
        c->upg_prop_ms = 0;
        if (rc == 0)
            c->upg_run_id = 0;
    }
    if ((p->kind == HAC_P_PROT_ACK || p->kind == HAC_P_WANT) && p->index < c->s.n_vms)
        c->v[p->index].prop_ms = 0;
    /* The host's own agent unfroze it: it asks only once back and in contact, so the
     * request counts as its report. Without this, the commit found the host's last ack
     * from before the stop and gossip still saying dead (it learns of the restart a moment
     * later), and took the lease as expired the instant the flag cleared (lab_ha_agentstop
     * under ASan). Counting it pushes the lease later, never earlier: safe. */
    if (p->kind == HAC_P_FREEZE && !p->frozen && !p->confirm_off && rc == 0 && p->index < c->s.n_hosts &&
        c->h[p->index].last_ack_ms < c->now_ms)
        c->h[p->index].last_ack_ms = c->now_ms;
    /* The operator confirmed that a frozen host is off: as good as a fence command. */
    if (p->kind == HAC_P_FREEZE && p->confirm_off && rc == 0 && p->index < c->s.n_hosts) {
        c->h[p->index].fenced = true;
        hac__event(out, -1, (int32_t)p->index, "host %s: confirmed off by the operator; its "
                   "protected VMs restart elsewhere", c->s.hosts[p->index].name);
    }
    if ((p->kind != HAC_P_OWNER && p->kind != HAC_P_MOVING) || p->index >= c->s.n_vms)
        return;
    vsoft *s = &c->v[p->index];
    bool start = s->start_on_commit, migrate = s->migrate_on_commit, bump = s->bump_on_commit;
    s->prop_ms = 0;
    s->start_on_commit = s->migrate_on_commit = s->bump_on_commit = false;
    if (rc != 0)
        return;
    const hac_rvm *m = &c->s.vms[p->index];
    /* A bump after a refused START changes nothing but the generation: what we know of
     * the VM (nowhere, refused by its owner at start_fail_ms) still holds. */
    if (p->kind == HAC_P_OWNER && !bump) {
        /* Reports from before this commit carry an older generation and are ignored;
         * until a fresh one arrives, a moved VM is where it moved, a restarted one
         * nowhere yet. */
        s->seen_on = start ? -1 : m->owner;
        s->on_owner = !start;
        s->exclude = 0;
        s->start_fail_ms = 0; /* the new owner has refused nothing yet */
        s->attempts = 0;
        s->stuck_reported = false;
        s->restart_reported = false;
        s->limit_reported = false;
    }
    if (start && p->kind == HAC_P_OWNER && m->owner >= 0) {
        s->cmd_id = hac__send_cmd(c, out, HAC_CMD_START, p->index, (uint32_t)m->owner,
                             (uint32_t)m->owner, NULL);
        s->cmd_kind = HAC_CMD_START;
        s->cmd_to = (uint32_t)m->owner;
        s->cmd_ms = c->now_ms;
    }
    if (migrate && p->kind == HAC_P_MOVING && m->moving_to >= 0 && m->owner >= 0) {
        s->cmd_id = hac__send_cmd(c, out, HAC_CMD_MIGRATE, p->index, (uint32_t)m->owner,
                             (uint32_t)m->moving_to, NULL);
        s->cmd_kind = HAC_CMD_MIGRATE;
        s->cmd_to = (uint32_t)m->moving_to;
        s->cmd_ms = c->now_ms;
    }
}

/* Only the host a command went to answers it (issue 12): another member's result, forged
 * or misrouted, must not settle a move, a start or an upgrade step (a forged "migrated"
 * would hand the VM to a target that never got it, and a later START would run it twice).
 * An id this coordinator never issued (ids count up from 1 per coordinator, and results
 * reach it only at its own term) answers nothing any host was asked: refused too, as is a
 * late result of a recent command (HAC__SENT_RING) from another host than its own. A
 * late result from its own host changes nothing (no command in flight). */
static bool result_from_dest(const hac_coord *c, const hac_input *in)
{
    if (!in->cmd_id || in->cmd_id > c->next_id)
        return false;
    if (in->cmd_id == c->upg_run_id)
        return in->host == c->upg_run_to;
    for (uint32_t v = 0; v < c->s.n_vms; v++)
        if (c->v[v].cmd_id == in->cmd_id)
            return in->host == c->v[v].cmd_dest;
    uint32_t slot = (uint32_t)(in->cmd_id % HAC__SENT_RING);
    return c->sent_id[slot] != in->cmd_id || c->sent_to[slot] == in->host;
}

static void on_result(hac_coord *c, const hac_input *in, hac_out *out)
{
    hac_upgrade *u = &c->s.upgrade;
    if (in->cmd_id && in->cmd_id == c->upg_run_id) {
        if (u->state != HAC_UPG_RUNNING || u->phase != HAC_UPH_RUN)
            return;
        uint32_t h = u->order[u->cur];
        if (!in->ok && hac__refusal_class(in->text) == HAC__REF_HOST) {
            /* Not able right now (reconciling after the agent's own restart, say): the
             * command did not run; it is sent again once the hold ends (hac_upgrade.c). */
            uint64_t held = hac__hold_host(c, h, in->text);
            c->upg_run_id = 0;
            hac__event(out, -1, (int32_t)h, "upgrade: %s refused the command, not able now; sent again in %llu ms: %s",
                       hac__hname(c, (int32_t)h), (unsigned long long)held, in->text);
            return;
        }
        hac_upgrade n = *u;
        n.phase_since_ms = c->now_ms;
        if (in->ok) {
            n.phase = HAC_UPH_REJOIN;
        } else {
            n.state = HAC_UPG_PAUSED;
            c->upg_run_id = 0;
        }
        hac__propose_upgrade(c, out, &n);
        hac__event(out, -1, (int32_t)h, "upgrade: command on %s %s%s%s",
              hac__hname(c, (int32_t)h), in->ok ? "done" : "failed, paused",
              in->ok ? "" : ": ", in->ok ? "" : in->text);
        return;
    }
    uint32_t v;
    for (v = 0; v < c->s.n_vms; v++)
        if (c->v[v].cmd_id == in->cmd_id && in->cmd_id)
            break;
    if (v == c->s.n_vms)
        return; /* late result of a command we gave up on: inventories will tell */
    vsoft *s = &c->v[v];
    hac_rvm *m = &c->s.vms[v];
    s->cmd_id = 0;
    if (s->cmd_kind == HAC_CMD_START) {
        if (in->ok) {
            hac__start_ok(c, v);
            c->h[s->cmd_to].hold_n = 0;
            c->h[s->cmd_to].hold_until_ms = 0;
            s->seen_on = (int32_t)s->cmd_to;
            hac__event(out, (int32_t)v, (int32_t)s->cmd_to, "vm %s: running on %s", m->name,
                  hac__hname(c, (int32_t)s->cmd_to));
        } else {
            /* held back for a while, never excluded: hac_restart.c */
            hac__start_failed(c, v, s->cmd_to, in->text, out);
        }
        return;
    }
    if (in->ok && m->moving_to == (int32_t)s->cmd_to) {
        int32_t from = m->owner;
        if (from >= 0)
            c->h[from].hold_n = 0;   /* the source is able again: its next hold starts short */
        bool drained = from >= 0 && c->s.hosts[from].admin == PLC_ADMIN_DRAINING;
        int32_t home = m->home == (int32_t)s->cmd_to ? -1 : drained ? from : m->home;
        hac_prop p = {.kind = HAC_P_OWNER, .index = v, .owner = (int32_t)s->cmd_to,
                      .generation = m->generation + 1, .restarts = m->restarts, .home = home};
        hac__propose(out, &p);
        s->prop_ms = c->now_ms ? c->now_ms : 1;
        s->seen_on = (int32_t)s->cmd_to;
        hac__event(out, (int32_t)v, (int32_t)s->cmd_to, "vm %s: moved %s -> %s", m->name,
              hac__hname(c, from), hac__hname(c, (int32_t)s->cmd_to));
        return;
    }
    if (!in->ok && m->owner >= 0 && hac__refusal_class(in->text) == HAC__REF_HOST) {
        /* The source (the command's host) is not able to run a job now: its libvirtd
         * silent, its job table full. Neither the destination's fault nor an attempt:
         * spending attempts here gave up a VM in 60 ms; the source's moves wait out a
         * hold that doubles (hac__evacuate). */
        uint64_t held = hac__hold_host(c, (uint32_t)m->owner, in->text);
        hac__event(out, (int32_t)v, m->owner, "vm %s: %s cannot migrate it now (next try in %llu ms): %s",
                   m->name, hac__hname(c, m->owner), (unsigned long long)held, in->text);
    } else {
        s->attempts++;
        s->exclude |= 1ull << s->cmd_to;
        hac__event(out, (int32_t)v, (int32_t)s->cmd_to, "vm %s: migration to %s failed (%u/%u): %s",
                   m->name, hac__hname(c, (int32_t)s->cmd_to), s->attempts,
                   c->cfg.migrate_attempts_max, in->text);
    }
    hac_prop p = {.kind = HAC_P_MOVING, .index = v, .owner = -1,
                  .generation = m->generation + 1};
    hac__propose(out, &p);
    s->prop_ms = c->now_ms ? c->now_ms : 1;
}

/* ---- public ----------------------------------------------------------------------- */

hac_coord *hac_coord_new(const hac_config *cfg, const hac_rstate *s, uint64_t term)
{
    hac_coord *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->cfg = *cfg;
    c->s = *s;
    c->term = term;
    plc_view_init(&c->view);
    for (uint32_t h = 0; h < HAC_HOSTS_MAX; h++) {
        char label[16];
        snprintf(label, sizeof label, "h%u", h);
        if (plc_view_intern(&c->view, PLC_T_HOSTGROUP, label) < 0) {
            free(c);
            return NULL;
        }
        c->h[h].live = HAC_SUSPECT;
    }
    for (uint32_t v = 0; v < HAC_VMS_MAX; v++)
        c->v[v].seen_on = c->v[v].why_host = -1;
    return c;
}

void hac_coord_free(hac_coord *c)
{
    free(c);
}

const hac_rstate *hac_coord_state(const hac_coord *c)
{
    return &c->s;
}

int hac_coord_step(hac_coord *c, const hac_event *ev, hac_out *out)
{
    if (c == NULL || ev == NULL || ev->in == NULL || out == NULL)
        return -EINVAL;
    const hac_input *in = ev->in;
    if (ev->now_ms > c->now_ms)
        c->now_ms = ev->now_ms;
    switch (in->kind) {
    case HAC_IN_TICK:
        break;
    case HAC_IN_HOST:
        if (in->host >= c->s.n_hosts)
            return -EINVAL;
        on_host(c, in, out);
        break;
    case HAC_IN_INVENTORY:
        if (in->host >= c->s.n_hosts || (in->n_vms && in->vms == NULL))
            return -EINVAL;
        on_inventory(c, in, out);
        break;
    case HAC_IN_STARTING:
        if (in->host >= c->s.n_hosts || (in->n_starting && in->starting == NULL))
            return -EINVAL;
        note_starting(c, in);
        break;
    case HAC_IN_ADMIN: {
        int rc = on_admin(c, in, out);
        if (rc < 0)
            return rc;
        break;
    }
    case HAC_IN_COMMIT:
        if (in->prop == NULL)
            return -EINVAL;
        on_commit(c, in, out);
        break;
    case HAC_IN_RESULT:
        if (in->host >= c->s.n_hosts)
            return -EINVAL;
        if (!result_from_dest(c, in))
            return -EPERM;
        on_result(c, in, out);
        break;
    case HAC_IN_CONSTRAINTS:
        if (in->vm >= c->s.n_vms || in->host >= c->s.n_hosts)
            return -EINVAL;
        /* the owner's placement view speaks for its VM; another host's would let any
         * member bar a VM from every host (no restart anywhere) */
        if (c->s.vms[in->vm].owner != (int32_t)in->host)
            return -EPERM;
        c->v[in->vm].must_not = in->must_not;
        break;
    case HAC_IN_FENCED:
        if (in->host >= c->s.n_hosts)
            return -EINVAL;
        c->h[in->host].fenced = true;
        hac__event(out, -1, (int32_t)in->host, "host %s: fence confirmed",
              c->s.hosts[in->host].name);
        break;
    default:
        return -EINVAL;
    }
    /* Until every host has been heard of once, inputs are recorded only: deciding
     * between a new coordinator's first HOST inputs would plan with the others still
     * unknown ("no live host"). */
    for (uint32_t h = 0; !c->heard_all && h < c->s.n_hosts; h++)
        if (!c->h[h].known)
            return 0;
    c->heard_all = true;
    return reconcile(c, out);
}
