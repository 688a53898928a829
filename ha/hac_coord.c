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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hac.h"

typedef struct hview {
    bool known;
    hac_live live;
    bool degraded;         /* after hysteresis */
    uint64_t bad_since_ms; /* 0 = signal good */
    uint64_t good_since_ms;
    uint64_t last_ack_ms;
    uint64_t inv_ms;       /* last inventory report (0 = none yet) */
    plc_version version;
    uint64_t mem_mib;
    uint32_t cpus;
    bool fenced;           /* fence_command confirmed */
    bool dead_reported;
    bool lease_reported;
    uint64_t admin_prop_ms; /* a proposal for this host is pending since (0 = none) */
} hview;

typedef struct vsoft {
    int32_t seen_on;        /* host whose inventory lists it, -1 = none */
    uint64_t cmd_id;        /* command in flight, 0 = none */
    hac_cmd_kind cmd_kind;
    uint32_t cmd_to;
    uint64_t cmd_ms;
    uint64_t prop_ms;       /* a proposal for this VM is pending since (0 = none) */
    bool start_on_commit;   /* the pending OWNER is a restart: START when it commits */
    bool migrate_on_commit; /* the pending MOVING starts a migration */
    uint64_t exclude;       /* hosts a migration/start failed on (bit per host) */
    uint32_t attempts;
    bool stuck_reported;
    bool limit_reported;
    bool unacked_reported;
    uint64_t orphan_ms;     /* a recorded move with no command of ours since (0 = none) */
    bool busy;              /* its owner's last report lists a migration job for it */
} vsoft;

struct hac_coord {
    hac_config cfg;
    hac_rstate s;
    uint64_t term;
    uint64_t next_id;
    uint64_t now_ms;
    hview h[HAC_HOSTS_MAX];
    vsoft v[HAC_VMS_MAX];
    uint64_t upg_prop_ms;
    uint64_t upg_run_id;    /* RUN command in flight for the current host */
    uint64_t upg_run_ms;
    plc_view view;
    plc_host ph[HAC_HOSTS_MAX];
    plc_vm pv[HAC_VMS_MAX];
};

/* ---- small helpers -------------------------------------------------------------- */

static void event(hac_out *out, int32_t vm, int32_t host, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#include <stdarg.h>
static void event(hac_out *out, int32_t vm, int32_t host, const char *fmt, ...)
{
    hac_out_item it = {.kind = HAC_O_EVENT, .vm = vm, .host = host};
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(it.text, sizeof it.text, fmt, ap);
    va_end(ap);
    hac_out_push(out, &it);
}

static void propose(hac_out *out, const hac_prop *p)
{
    hac_out_item it = {.kind = HAC_O_PROPOSE, .prop = *p, .vm = -1, .host = -1};
    hac_out_push(out, &it);
}

static uint64_t send_cmd(hac_coord *c, hac_out *out, hac_cmd_kind kind, uint32_t vm,
                         uint32_t from, uint32_t to, const char *text)
{
    hac_out_item it = {.kind = HAC_O_CMD, .vm = (int32_t)vm, .host = (int32_t)to};
    it.cmd = (hac_cmd){.kind = kind, .id = ++c->next_id, .term = c->term, .vm = vm,
                       .from = from, .to = to};
    if (kind != HAC_CMD_RUN)
        it.cmd.generation = c->s.vms[vm].generation;
    if (text)
        snprintf(it.cmd.text, sizeof it.cmd.text, "%s", text);
    if (!hac_out_push(out, &it))
        return 0;
    return it.cmd.id;
}

static const char *hname(const hac_coord *c, int32_t h)
{
    return h >= 0 && (uint32_t)h < c->s.n_hosts ? c->s.hosts[h].name : "-";
}

static bool alive(const hac_coord *c, int32_t h)
{
    return h >= 0 && (uint32_t)h < c->s.n_hosts && c->h[h].known && c->h[h].live == HAC_ALIVE;
}

static uint64_t lease_end_ms(const hac_coord *c, uint32_t h)
{
    return c->h[h].last_ack_ms + c->cfg.fence_timeout_ms * c->cfg.drift_pct / 100;
}

/* The host surely runs nothing any more: declared dead and past its lease, or fenced. */
static bool expired(const hac_coord *c, int32_t h)
{
    if (h < 0 || (uint32_t)h >= c->s.n_hosts)
        return false;
    const hview *v = &c->h[h];
    if (!v->known || v->live != HAC_DEAD)
        return false;
    return v->fenced || c->now_ms >= lease_end_ms(c, (uint32_t)h);
}

static bool vm_idle(const hac_coord *c, uint32_t vm)
{
    return c->v[vm].cmd_id == 0 && c->v[vm].prop_ms == 0;
}

/* Degraded for evacuation: after hysteresis (or the operator's flag). */
static bool degraded(const hac_coord *c, uint32_t h)
{
    return c->h[h].degraded || c->s.hosts[h].degraded_flag;
}

/* Degraded for placement: a signal bad right now already keeps new VMs away; only
 * emptying the host waits for degrade_after_ms. */
static bool unfit(const hac_coord *c, uint32_t h)
{
    return degraded(c, h) || c->h[h].bad_since_ms != 0;
}

/* Where placement should count the VM: a move in flight counts at its target, a VM
 * seen on a live host there, otherwise at its owner (if it is meant to run). */
static int32_t vm_pos(const hac_coord *c, uint32_t vm)
{
    const hac_rvm *m = &c->s.vms[vm];
    if (m->moving_to >= 0)
        return m->moving_to;
    if (alive(c, c->v[vm].seen_on))
        return c->v[vm].seen_on;
    /* A stopped VM keeps its place on its owner: its definition lives there, and an
     * evacuation moves it (cold) like the running ones. */
    return m->owner;
}

static void build_view(hac_coord *c)
{
    plc_view *w = &c->view;
    w->cfg = c->cfg.plc;
    w->hosts = c->ph;
    w->n_hosts = c->s.n_hosts;
    w->vms = c->pv;
    w->n_vms = c->s.n_vms;
    for (uint32_t i = 0; i < c->s.n_hosts; i++) {
        plc_host *p = &c->ph[i];
        const hac_rhost *r = &c->s.hosts[i];
        plc_host_init(p);
        snprintf(p->name, sizeof p->name, "%s", r->name);
        p->mem_mib = c->h[i].mem_mib ? c->h[i].mem_mib : r->mem_mib;
        p->cpus = c->h[i].cpus ? c->h[i].cpus : r->cpus;
        p->admin = r->admin;
        p->health = !alive(c, (int32_t)i) ? PLC_HEALTH_DOWN
                  : unfit(c, i)           ? PLC_HEALTH_DEGRADED
                                          : PLC_HEALTH_OK;
        p->agent_version = c->h[i].version;
        plc_set_add(&p->groups, i);
    }
    for (uint32_t v = 0; v < c->s.n_vms; v++) {
        const hac_rvm *m = &c->s.vms[v];
        plc_vm *p = &c->pv[v];
        plc_vm_init(p);
        snprintf(p->name, sizeof p->name, "%s", m->name);
        p->host = vm_pos(c, v);
        p->mem_mib = m->mem_mib;
        p->vcpus = m->vcpus;
        p->protected_ = m->protected_;
        p->priority = m->priority;
        p->restart_order = m->restart_order;
        for (uint32_t h = 0; h < c->s.n_hosts; h++)
            if (c->v[v].exclude >> h & 1u)
                plc_set_add(&p->host_must_not, h);
        if (m->moving_to >= 0) {
            c->ph[m->moving_to].migrations_in++;
            if (m->owner >= 0)
                c->ph[m->owner].migrations_out++;
        }
    }
}

static void first_why(const plc_plan *plan, uint32_t vm, const char **code, const char **ex)
{
    *code = "unplaced";
    *ex = "";
    for (uint32_t i = 0; i < plan->n_unplaced; i++)
        if (plan->unplaced[i].vm == vm) {
            if (plan->unplaced[i].n_why)
                *code = plan->unplaced[i].why[0].code;
            *ex = plan->unplaced[i].example;
        }
}

/* ---- restarts ------------------------------------------------------------------- */

/* A protected VM that should run, runs nowhere we can see, and whose owner surely runs
 * nothing (or refused to start it). A move in flight to a live target blocks it until
 * that target reported, after the owner's lease ended, that it does not have the VM. */
static bool needs_restart(const hac_coord *c, uint32_t vm)
{
    const hac_rvm *m = &c->s.vms[vm];
    if (!m->protected_ || !m->want_running || !vm_idle(c, vm) || alive(c, c->v[vm].seen_on))
        return false;
    if (!m->prot_acked && !(m->owner >= 0 && c->h[m->owner].fenced))
        return false;
    /* Reported running by a host after its lease ended: that host is back and runs it
     * (gossip has not caught up yet). */
    int32_t at = c->v[vm].seen_on;
    if (at >= 0 && c->h[at].inv_ms > lease_end_ms(c, (uint32_t)at))
        return false;
    bool owner_gone = expired(c, m->owner) ||
                      (alive(c, m->owner) && (c->v[vm].exclude >> m->owner & 1u));
    if (m->owner < 0 || !owner_gone)
        return false;
    if (m->moving_to >= 0 && !expired(c, m->moving_to)) {
        if (!alive(c, m->moving_to))
            return false;
        uint64_t end = expired(c, m->owner) && !c->h[m->owner].fenced
                         ? lease_end_ms(c, (uint32_t)m->owner) : 0;
        if (c->h[m->moving_to].inv_ms <= end)
            return false;
    }
    return true;
}

static int plan_restarts(hac_coord *c, hac_out *out)
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
                event(out, (int32_t)v, m->owner, "vm %s not restarted: max_restarts %u reached",
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
    build_view(c);
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
        propose(out, &p);
        c->v[v].prop_ms = c->now_ms ? c->now_ms : 1;
        c->v[v].start_on_commit = true;
        event(out, (int32_t)v, (int32_t)plan.moves[i].to,
              "vm %s: restart on %s (host %s %s), generation %llu, order %d",
              m->name, hname(c, (int32_t)plan.moves[i].to), hname(c, m->owner),
              c->h[m->owner].fenced ? "fenced" : alive(c, m->owner) ? "refused it"
                                                                   : "lease expired",
              (unsigned long long)p.generation, m->restart_order);
        want[v] = false;
    }
    for (uint32_t v = 0; v < c->s.n_vms; v++) {
        if (!want[v] || c->v[v].stuck_reported)
            continue;
        const char *code, *ex;
        first_why(&plan, v, &code, &ex);
        event(out, (int32_t)v, c->s.vms[v].owner, "vm %s cannot be restarted: %s%s%s",
              c->s.vms[v].name, code, ex[0] ? ": " : "", ex);
        c->v[v].stuck_reported = true;
    }
    plc_plan_free(&plan);
    return 0;
}

/* ---- evacuation (drain, degradation, upgrade) and failback ----------------------- */

static bool evacuating(const hac_coord *c, uint32_t h)
{
    if (!alive(c, (int32_t)h))
        return false;
    plc_admin a = c->s.hosts[h].admin;
    return a == PLC_ADMIN_DRAINING || (degraded(c, h) && a != PLC_ADMIN_MAINTENANCE);
}

static void start_move(hac_coord *c, hac_out *out, uint32_t v, uint32_t to)
{
    hac_rvm *m = &c->s.vms[v];
    hac_prop p = {.kind = HAC_P_MOVING, .index = v, .owner = (int32_t)to,
                  .generation = m->generation + 1};
    propose(out, &p);
    c->v[v].prop_ms = c->now_ms ? c->now_ms : 1;
    c->v[v].migrate_on_commit = true;
}

static int evacuate(hac_coord *c, uint32_t h, hac_out *out)
{
    bool any = false;
    for (uint32_t v = 0; v < c->s.n_vms; v++) {
        const hac_rvm *m = &c->s.vms[v];
        if (m->owner == (int32_t)h && m->moving_to < 0 && vm_idle(c, v) &&
            (c->v[v].seen_on == (int32_t)h || !alive(c, c->v[v].seen_on)))
            any = true;
    }
    if (!any)
        return 0;
    build_view(c);
    /* VMs busy with something else stay out of this plan (they count where they are). */
    plc_plan plan;
    int rc = plc_plan_evacuate(&c->view, h, &plan);
    if (rc < 0)
        return rc;
    for (uint32_t i = 0; i < plan.n_moves; i++) {
        uint32_t v = plan.moves[i].vm;
        const hac_rvm *m = &c->s.vms[v];
        if (plan.moves[i].wave != 0 || m->owner != (int32_t)h || m->moving_to >= 0 ||
            !vm_idle(c, v) || (c->v[v].seen_on != (int32_t)h && alive(c, c->v[v].seen_on)))
            continue;
        if (c->v[v].attempts >= c->cfg.migrate_attempts_max)
            continue;
        start_move(c, out, v, plan.moves[i].to);
        event(out, (int32_t)v, (int32_t)h, "vm %s: %s %s -> %s (%s)", m->name,
              c->v[v].seen_on == (int32_t)h ? "migrate" : "move stopped",
              hname(c, (int32_t)h), hname(c, (int32_t)plan.moves[i].to),
              c->s.hosts[h].admin == PLC_ADMIN_DRAINING ? "drain" : "host degraded");
    }
    for (uint32_t v = 0; v < c->s.n_vms; v++) {
        vsoft *s = &c->v[v];
        if (c->s.vms[v].owner != (int32_t)h || s->stuck_reported || !vm_idle(c, v))
            continue;
        const char *code = NULL, *ex = "";
        if (s->attempts >= c->cfg.migrate_attempts_max)
            code = "migration.failed";
        else
            for (uint32_t i = 0; i < plan.n_unplaced; i++)
                if (plan.unplaced[i].vm == v)
                    first_why(&plan, v, &code, &ex);
        if (code && s->exclude && s->attempts < c->cfg.migrate_attempts_max) {
            /* Every candidate failed once: try them again until attempts run out. */
            s->exclude = 0;
            continue;
        }
        if (code) {
            event(out, (int32_t)v, (int32_t)h, "vm %s cannot leave %s: %s%s%s (%u attempts)",
                  c->s.vms[v].name, hname(c, (int32_t)h), code, ex[0] ? ": " : "", ex,
                  s->attempts);
            s->stuck_reported = true;
        }
    }
    plc_plan_free(&plan);
    return 0;
}

static void failback(hac_coord *c, uint32_t h, hac_out *out)
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
    build_view(c);
    for (uint32_t v = 0; v < c->s.n_vms; v++) {
        const hac_rvm *m = &c->s.vms[v];
        vsoft *s = &c->v[v];
        if (m->home != (int32_t)h || s->stuck_reported)
            continue;
        left = true;
        if (in_flight >= c->cfg.plc.max_in_per_host || m->moving_to >= 0 || !vm_idle(c, v) ||
            !alive(c, m->owner) || s->seen_on != m->owner)
            continue;
        plc_report r;
        if (plc_check_kind(&c->view, PLC_KIND_MIGRATE, v, h, &r) < 0)
            continue;
        if (r.n_blocking == 0 && s->attempts < c->cfg.migrate_attempts_max) {
            start_move(c, out, v, h);
            event(out, (int32_t)v, (int32_t)h, "vm %s: failback %s -> %s", m->name,
                  hname(c, m->owner), hname(c, (int32_t)h));
            in_flight++;
        } else {
            const char *why = s->attempts >= c->cfg.migrate_attempts_max
                                  ? "migration.failed"
                                  : r.items[0].code;
            event(out, (int32_t)v, (int32_t)h, "vm %s cannot go home to %s: %s%s%s", m->name,
                  hname(c, (int32_t)h), why, r.n_blocking ? ": " : "",
                  r.n_blocking ? r.items[0].reason : "");
            s->stuck_reported = true;
        }
    }
    if (!left && !c->h[h].admin_prop_ms) {
        hac_prop p = {.kind = HAC_P_ADMIN, .index = h, .admin = c->s.hosts[h].admin,
                      .degraded_flag = c->s.hosts[h].degraded_flag, .failback = false};
        propose(out, &p);
        c->h[h].admin_prop_ms = c->now_ms ? c->now_ms : 1;
        event(out, -1, (int32_t)h, "host %s: failback done", c->s.hosts[h].name);
    }
}

/* ---- host admin ----------------------------------------------------------------- */

/* ADMIN proposal; the failback intent is replicated so a new coordinator keeps it. */
static void propose_admin_fb(hac_coord *c, hac_out *out, uint32_t h, plc_admin a, bool flag,
                             bool failback)
{
    hac_prop p = {.kind = HAC_P_ADMIN, .index = h, .admin = a, .degraded_flag = flag,
                  .failback = failback};
    propose(out, &p);
    c->h[h].admin_prop_ms = c->now_ms ? c->now_ms : 1;
}

static void propose_admin(hac_coord *c, hac_out *out, uint32_t h, plc_admin a, bool flag)
{
    hac_prop p = {.kind = HAC_P_ADMIN, .index = h, .admin = a, .degraded_flag = flag,
                  .failback = c->s.hosts[h].failback};
    propose(out, &p);
    c->h[h].admin_prop_ms = c->now_ms ? c->now_ms : 1;
}

static bool host_empty(const hac_coord *c, uint32_t h)
{
    for (uint32_t v = 0; v < c->s.n_vms; v++)
        if (c->s.vms[v].owner == (int32_t)h || c->s.vms[v].moving_to == (int32_t)h)
            return false;
    return true;
}

/* ---- rolling upgrade -------------------------------------------------------------- */

static void propose_upgrade(hac_coord *c, hac_out *out, const hac_upgrade *u)
{
    hac_prop p = {.kind = HAC_P_UPGRADE, .upgrade = *u};
    p.upgrade.seq = c->s.upgrade.seq + 1;
    propose(out, &p);
    c->upg_prop_ms = c->now_ms ? c->now_ms : 1;
}

static void upgrade_step(hac_coord *c, hac_out *out)
{
    const hac_upgrade *u = &c->s.upgrade;
    if (u->state != HAC_UPG_RUNNING || c->upg_prop_ms)
        return;
    hac_upgrade n = *u;
    if (u->cur >= u->n) {
        n.state = HAC_UPG_DONE;
        propose_upgrade(c, out, &n);
        event(out, -1, -1, "upgrade: done, %u hosts", u->n);
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
            propose_admin(c, out, h, PLC_ADMIN_DRAINING, r->degraded_flag);
            event(out, -1, (int32_t)h, "upgrade: drain %s (%u/%u)", r->name, u->cur + 1, u->n);
        } else if (r->admin == PLC_ADMIN_MAINTENANCE && alive(c, (int32_t)h)) {
            n.phase = HAC_UPH_RUN;
            n.version_before = c->h[h].version;
            propose_upgrade(c, out, &n);
        }
        return;
    case HAC_UPH_RUN:
        /* No answer within cmd_timeout_ms: send it again (the command must be
         * idempotent, as it is also re-sent by a new coordinator). */
        if (c->upg_run_id && c->now_ms >= c->upg_run_ms + c->cfg.cmd_timeout_ms)
            c->upg_run_id = 0;
        if (c->upg_run_id == 0 && alive(c, (int32_t)h)) {
            c->upg_run_id = send_cmd(c, out, HAC_CMD_RUN, 0, h, h, u->command);
            c->upg_run_ms = c->now_ms;
            event(out, -1, (int32_t)h, "upgrade: run on %s: %s", r->name, u->command);
        }
        return;
    case HAC_UPH_REJOIN: {
        const hview *v = &c->h[h];
        if (alive(c, (int32_t)h) && !degraded(c, h) && v->version >= u->version_before &&
            v->last_ack_ms > u->phase_since_ms && v->inv_ms > u->phase_since_ms) {
            n.phase = HAC_UPH_UNDRAIN;
            propose_upgrade(c, out, &n);
            event(out, -1, (int32_t)h, "upgrade: %s rejoined healthy", r->name);
        } else if (c->now_ms > u->phase_since_ms + c->cfg.rejoin_timeout_ms) {
            n.state = HAC_UPG_PAUSED;
            propose_upgrade(c, out, &n);
            event(out, -1, (int32_t)h, "upgrade paused: %s did not rejoin healthy in %llu ms",
                  r->name, (unsigned long long)c->cfg.rejoin_timeout_ms);
        }
        return;
    }
    case HAC_UPH_UNDRAIN:
        if (c->h[h].admin_prop_ms)
            return;
        if (r->admin != PLC_ADMIN_ACTIVE) {
            propose_admin(c, out, h, PLC_ADMIN_ACTIVE, r->degraded_flag);
        } else {
            n.cur++;
            n.phase = HAC_UPH_DRAIN;
            propose_upgrade(c, out, &n);
            event(out, -1, (int32_t)h, "upgrade: %s done", r->name);
        }
        return;
    }
}

/* ---- the level-triggered pass ----------------------------------------------------- */

static int reconcile(hac_coord *c, hac_out *out)
{
    uint64_t now = c->now_ms;
    for (uint32_t v = 0; v < c->s.n_vms; v++) {
        vsoft *s = &c->v[v];
        uint64_t limit = s->cmd_kind == HAC_CMD_START ? c->cfg.start_timeout_ms
                                                      : c->cfg.cmd_timeout_ms;
        if (s->cmd_id && now >= s->cmd_ms + limit) {
            event(out, (int32_t)v, (int32_t)s->cmd_to, "vm %s: command %llu lost (no result)",
                  c->s.vms[v].name, (unsigned long long)s->cmd_id);
            /* A lost MIGRATE may still be running: the recorded move stays until the
             * source reports no migration job for it (orphan rule below). */
            s->cmd_id = 0;
        }
        if (s->prop_ms && now >= s->prop_ms + c->cfg.propose_timeout_ms) {
            s->prop_ms = 0;
            s->start_on_commit = s->migrate_on_commit = false;
        }
    }
    for (uint32_t h = 0; h < c->s.n_hosts; h++) {
        hview *v = &c->h[h];
        if (v->admin_prop_ms && now >= v->admin_prop_ms + c->cfg.propose_timeout_ms)
            v->admin_prop_ms = 0;
        if (v->known && v->live == HAC_DEAD && !v->lease_reported && expired(c, (int32_t)h)) {
            event(out, -1, (int32_t)h, "host %s: lease expired (%s)", c->s.hosts[h].name,
                  v->fenced ? "fence confirmed" : "dead past fence_timeout * drift");
            v->lease_reported = true;
        }
    }
    if (c->upg_prop_ms && now >= c->upg_prop_ms + c->cfg.propose_timeout_ms)
        c->upg_prop_ms = 0;

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
        if (m->moving_to < 0 || !vm_idle(c, v)) {
            s->orphan_ms = 0;
            continue;
        }
        if (!s->orphan_ms) {
            s->orphan_ms = now ? now : 1;
            continue;
        }
        bool src_gone = expired(c, m->owner);
        bool src_said = m->owner >= 0 && c->h[m->owner].inv_ms > s->orphan_ms && !s->busy;
        if (!src_gone && !src_said)
            continue;
        hac_prop p = {.index = v, .owner = -1, .generation = m->generation + 1};
        const char *what;
        if (!src_gone && s->seen_on == m->owner) {
            p.kind = HAC_P_MOVING;
            what = "still on the source: move cleared";
        } else if (alive(c, m->moving_to)) {
            p.kind = HAC_P_OWNER;
            p.owner = m->moving_to;
            p.restarts = m->restarts;
            p.home = m->home == m->moving_to ? -1 : m->home;
            what = "not on the source: the target owns it";
        } else if (expired(c, m->moving_to)) {
            p.kind = HAC_P_MOVING;
            what = "target gone: move cleared";
        } else {
            continue;
        }
        propose(out, &p);
        s->prop_ms = now ? now : 1;
        s->orphan_ms = 0;
        event(out, (int32_t)v, m->moving_to, "vm %s: move %s -> %s has no command in flight, %s",
              m->name, hname(c, m->owner), hname(c, m->moving_to), what);
    }

    /* A VM running somewhere other than its owner, with nothing in flight: the owner
     * changes to where it runs (a finished migration whose result was lost). */
    for (uint32_t v = 0; v < c->s.n_vms; v++) {
        hac_rvm *m = &c->s.vms[v];
        int32_t at = c->v[v].seen_on;
        if (!alive(c, at) || at == m->owner || !vm_idle(c, v) ||
            (m->moving_to >= 0 && m->moving_to != at))
            continue;
        hac_prop p = {.kind = HAC_P_OWNER, .index = v, .owner = at,
                      .generation = m->generation + 1, .restarts = m->restarts,
                      .home = m->home == at ? -1 : m->home};
        propose(out, &p);
        c->v[v].prop_ms = now ? now : 1;
        event(out, (int32_t)v, at, "vm %s: runs on %s, owner was %s: adopt", m->name,
              hname(c, at), hname(c, m->owner));
    }

    for (uint32_t v = 0; v < c->s.n_vms; v++) {
        const hac_rvm *m = &c->s.vms[v];
        if (m->protected_ && !m->prot_acked && expired(c, m->owner) &&
            !c->h[m->owner].fenced && !c->v[v].unacked_reported) {
            event(out, (int32_t)v, m->owner,
                  "vm %s not restarted: protected after %s last reported it, so %s may not "
                  "have fenced it; a confirmed fence or its return settles it",
                  m->name, hname(c, m->owner), hname(c, m->owner));
            c->v[v].unacked_reported = true;
        }
    }
    int rc = plan_restarts(c, out);
    if (rc < 0)
        return rc;

    /* A protected VM owned by a live host that runs it nowhere: start it there (a new
     * coordinator finishing a restart, or a guest that crashed). */
    for (uint32_t v = 0; v < c->s.n_vms; v++) {
        const hac_rvm *m = &c->s.vms[v];
        if (!m->protected_ || !m->want_running || !alive(c, m->owner) || !vm_idle(c, v) ||
            c->v[v].seen_on >= 0 || m->moving_to >= 0 || c->h[m->owner].inv_ms == 0 ||
            (c->v[v].exclude >> m->owner & 1u))
            continue;
        c->v[v].cmd_id = send_cmd(c, out, HAC_CMD_START, v, (uint32_t)m->owner,
                                  (uint32_t)m->owner, NULL);
        c->v[v].cmd_kind = HAC_CMD_START;
        c->v[v].cmd_to = (uint32_t)m->owner;
        c->v[v].cmd_ms = now;
    }

    for (uint32_t h = 0; h < c->s.n_hosts; h++) {
        if (evacuating(c, h) && (rc = evacuate(c, h, out)) < 0)
            return rc;
        if (c->s.hosts[h].failback && c->s.hosts[h].admin == PLC_ADMIN_ACTIVE &&
            alive(c, (int32_t)h))
            failback(c, h, out);
        if (c->s.hosts[h].admin == PLC_ADMIN_DRAINING && host_empty(c, h) &&
            !c->h[h].admin_prop_ms) {
            propose_admin(c, out, h, PLC_ADMIN_MAINTENANCE, c->s.hosts[h].degraded_flag);
            event(out, -1, (int32_t)h, "host %s: empty, entering maintenance",
                  c->s.hosts[h].name);
        }
    }
    upgrade_step(c, out);
    return 0;
}

/* ---- inputs ----------------------------------------------------------------------- */

static void on_host(hac_coord *c, const hac_input *in, hac_out *out)
{
    hview *v = &c->h[in->host];
    uint64_t now = c->now_ms;
    v->known = true;
    if (in->live == HAC_DEAD && v->live != HAC_DEAD)
        event(out, -1, (int32_t)in->host, "host %s: declared dead, lease ends at %llu ms",
              c->s.hosts[in->host].name,
              (unsigned long long)(in->last_ack_ms +
                                   c->cfg.fence_timeout_ms * c->cfg.drift_pct / 100));
    if (in->live != HAC_DEAD) {
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
            event(out, -1, (int32_t)in->host, "host %s: degraded, evacuating",
                  c->s.hosts[in->host].name);
        }
    } else {
        v->bad_since_ms = 0;
        if (!v->good_since_ms)
            v->good_since_ms = now ? now : 1;
        if (v->degraded && now >= v->good_since_ms + c->cfg.recover_after_ms) {
            v->degraded = false;
            event(out, -1, (int32_t)in->host, "host %s: healthy again",
                  c->s.hosts[in->host].name);
        }
    }
}

static void on_inventory(hac_coord *c, const hac_input *in, hac_out *out)
{
    bool here[HAC_VMS_MAX] = {false}, stale[HAC_VMS_MAX] = {false}, busy[HAC_VMS_MAX] = {false};
    for (uint32_t i = 0; i < in->n_vms; i++)
        if (in->vms[i] < c->s.n_vms) {
            here[in->vms[i]] = true;
            stale[in->vms[i]] = in->gens && in->gens[i] < c->s.vms[in->vms[i]].generation;
        }
    for (uint32_t i = 0; i < in->n_busy; i++)
        if (in->busy[i] < c->s.n_vms && c->s.vms[in->busy[i]].owner == (int32_t)in->host)
            busy[in->busy[i]] = true;
    for (uint32_t v = 0; v < c->s.n_vms; v++) {
        int32_t *seen = &c->v[v].seen_on;
        if (c->s.vms[v].owner == (int32_t)in->host)
            c->v[v].busy = busy[v];
        if (stale[v])
            continue;
        if (here[v] && *seen >= 0 && *seen != (int32_t)in->host && alive(c, *seen))
            event(out, (int32_t)v, (int32_t)in->host, "vm %s reported on %s and %s",
                  c->s.vms[v].name, hname(c, *seen), hname(c, (int32_t)in->host));
        if (here[v])
            *seen = (int32_t)in->host;
        else if (*seen == (int32_t)in->host)
            *seen = -1;
        /* The owner reports it at the current generation: it has applied the
         * protection, so it will fence the VM when cut off. */
        const hac_rvm *m = &c->s.vms[v];
        if (here[v] && m->owner == (int32_t)in->host && m->protected_ && !m->prot_acked &&
            vm_idle(c, v)) {
            hac_prop p = {.kind = HAC_P_PROT_ACK, .index = v, .generation = m->generation};
            propose(out, &p);
            c->v[v].prop_ms = c->now_ms ? c->now_ms : 1;
        }
    }
    c->h[in->host].inv_ms = c->now_ms ? c->now_ms : 1;
}

static int on_admin(hac_coord *c, const hac_input *in, hac_out *out)
{
    if (in->req >= HAC_REQ_UPGRADE_START) {
        hac_upgrade u = c->s.upgrade;
        switch (in->req) {
        case HAC_REQ_UPGRADE_START:
            if (u.state == HAC_UPG_RUNNING || u.state == HAC_UPG_PAUSED) {
                event(out, -1, -1, "upgrade start refused: a plan is %s",
                      u.state == HAC_UPG_RUNNING ? "running" : "paused");
                return 0;
            }
            if (in->n_order == 0 || in->n_order > HAC_HOSTS_MAX)
                return -EINVAL;
            for (uint32_t i = 0; i < in->n_order; i++)
                if (in->order[i] >= c->s.n_hosts)
                    return -EINVAL;
            memset(&u.order, 0, sizeof u.order);
            memcpy(u.order, in->order, in->n_order * sizeof *in->order);
            u.n = in->n_order;
            u.cur = 0;
            u.phase = HAC_UPH_DRAIN;
            u.state = HAC_UPG_RUNNING;
            snprintf(u.command, sizeof u.command, "%s", in->text);
            break;
        case HAC_REQ_UPGRADE_PAUSE:
            if (u.state != HAC_UPG_RUNNING)
                return 0;
            u.state = HAC_UPG_PAUSED;
            break;
        case HAC_REQ_UPGRADE_RESUME:
            if (u.state != HAC_UPG_PAUSED)
                return 0;
            u.state = HAC_UPG_RUNNING;
            break;
        default:
            if (u.state != HAC_UPG_RUNNING && u.state != HAC_UPG_PAUSED)
                return 0;
            u.state = HAC_UPG_ABORTED;
            break;
        }
        u.phase_since_ms = c->now_ms;
        propose_upgrade(c, out, &u);
        event(out, -1, -1, "upgrade: %s requested",
              in->req == HAC_REQ_UPGRADE_START  ? "start"
              : in->req == HAC_REQ_UPGRADE_PAUSE ? "pause"
              : in->req == HAC_REQ_UPGRADE_RESUME ? "resume" : "abort");
        return 0;
    }
    if (in->host >= c->s.n_hosts)
        return -EINVAL;
    const hac_rhost *r = &c->s.hosts[in->host];
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
        for (uint32_t v = 0; v < c->s.n_vms; v++)
            if (c->s.vms[v].owner == (int32_t)in->host)
                c->v[v].attempts = 0, c->v[v].stuck_reported = false, c->v[v].exclude = 0;
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
    default:
        return -EINVAL;
    }
    propose_admin_fb(c, out, in->host, a, flag, fb);
    event(out, -1, (int32_t)in->host, "host %s: %s -> %s%s%s", r->name, hac_admin_name(r->admin),
          hac_admin_name(a), flag ? " (degraded flag)" : "", fb ? " (failback)" : "");
    return 0;
}

static void on_commit(hac_coord *c, const hac_input *in, hac_out *out)
{
    const hac_prop *p = in->prop;
    int rc = hac_apply(&c->s, p);
    if (p->kind == HAC_P_ADMIN && p->index < c->s.n_hosts)
        c->h[p->index].admin_prop_ms = 0;
    if (p->kind == HAC_P_UPGRADE) {
        c->upg_prop_ms = 0;
        if (rc == 0)
            c->upg_run_id = 0;
    }
    if (p->kind == HAC_P_PROT_ACK && p->index < c->s.n_vms)
        c->v[p->index].prop_ms = 0;
    if ((p->kind != HAC_P_OWNER && p->kind != HAC_P_MOVING) || p->index >= c->s.n_vms)
        return;
    vsoft *s = &c->v[p->index];
    bool start = s->start_on_commit, migrate = s->migrate_on_commit;
    s->prop_ms = 0;
    s->start_on_commit = s->migrate_on_commit = false;
    if (rc != 0)
        return;
    const hac_rvm *m = &c->s.vms[p->index];
    if (p->kind == HAC_P_OWNER) {
        /* Reports from before this commit carry an older generation and are ignored;
         * until a fresh one arrives, a moved VM is where it moved, a restarted one
         * nowhere yet. */
        s->seen_on = start ? -1 : m->owner;
        s->exclude = 0;
        s->attempts = 0;
        s->stuck_reported = false;
        s->limit_reported = false;
    }
    if (start && p->kind == HAC_P_OWNER && m->owner >= 0) {
        s->cmd_id = send_cmd(c, out, HAC_CMD_START, p->index, (uint32_t)m->owner,
                             (uint32_t)m->owner, NULL);
        s->cmd_kind = HAC_CMD_START;
        s->cmd_to = (uint32_t)m->owner;
        s->cmd_ms = c->now_ms;
    }
    if (migrate && p->kind == HAC_P_MOVING && m->moving_to >= 0 && m->owner >= 0) {
        s->cmd_id = send_cmd(c, out, HAC_CMD_MIGRATE, p->index, (uint32_t)m->owner,
                             (uint32_t)m->moving_to, NULL);
        s->cmd_kind = HAC_CMD_MIGRATE;
        s->cmd_to = (uint32_t)m->moving_to;
        s->cmd_ms = c->now_ms;
    }
}

static void on_result(hac_coord *c, const hac_input *in, hac_out *out)
{
    hac_upgrade *u = &c->s.upgrade;
    if (in->cmd_id && in->cmd_id == c->upg_run_id) {
        if (u->state != HAC_UPG_RUNNING || u->phase != HAC_UPH_RUN)
            return;
        hac_upgrade n = *u;
        n.phase_since_ms = c->now_ms;
        if (in->ok) {
            n.phase = HAC_UPH_REJOIN;
        } else {
            n.state = HAC_UPG_PAUSED;
            c->upg_run_id = 0;
        }
        propose_upgrade(c, out, &n);
        event(out, -1, (int32_t)u->order[u->cur], "upgrade: command on %s %s%s%s",
              hname(c, (int32_t)u->order[u->cur]), in->ok ? "done" : "failed, paused",
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
            s->seen_on = (int32_t)s->cmd_to;
            event(out, (int32_t)v, (int32_t)s->cmd_to, "vm %s: running on %s", m->name,
                  hname(c, (int32_t)s->cmd_to));
        } else {
            s->exclude |= 1ull << s->cmd_to;
            event(out, (int32_t)v, (int32_t)s->cmd_to, "vm %s: start on %s failed: %s", m->name,
                  hname(c, (int32_t)s->cmd_to), in->text);
        }
        return;
    }
    if (in->ok && m->moving_to == (int32_t)s->cmd_to) {
        int32_t from = m->owner;
        bool drained = from >= 0 && c->s.hosts[from].admin == PLC_ADMIN_DRAINING;
        int32_t home = m->home == (int32_t)s->cmd_to ? -1 : drained ? from : m->home;
        hac_prop p = {.kind = HAC_P_OWNER, .index = v, .owner = (int32_t)s->cmd_to,
                      .generation = m->generation + 1, .restarts = m->restarts, .home = home};
        propose(out, &p);
        s->prop_ms = c->now_ms ? c->now_ms : 1;
        s->seen_on = (int32_t)s->cmd_to;
        event(out, (int32_t)v, (int32_t)s->cmd_to, "vm %s: moved %s -> %s", m->name,
              hname(c, from), hname(c, (int32_t)s->cmd_to));
        return;
    }
    s->attempts++;
    s->exclude |= 1ull << s->cmd_to;
    event(out, (int32_t)v, (int32_t)s->cmd_to, "vm %s: migration to %s failed (%u/%u): %s",
          m->name, hname(c, (int32_t)s->cmd_to), s->attempts, c->cfg.migrate_attempts_max,
          in->text);
    hac_prop p = {.kind = HAC_P_MOVING, .index = v, .owner = -1,
                  .generation = m->generation + 1};
    propose(out, &p);
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
        c->v[v].seen_on = -1;
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
        on_result(c, in, out);
        break;
    case HAC_IN_FENCED:
        if (in->host >= c->s.n_hosts)
            return -EINVAL;
        c->h[in->host].fenced = true;
        event(out, -1, (int32_t)in->host, "host %s: fence confirmed",
              c->s.hosts[in->host].name);
        break;
    default:
        return -EINVAL;
    }
    return reconcile(c, out);
}
