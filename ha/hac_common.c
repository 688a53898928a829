/* hac_common.c — the coordinator's small shared pieces: events, proposals and commands
 * as outputs, what it believes of hosts (alive, lease over, degraded), and the
 * placement view it builds from the replicated state plus what it sees. The view is
 * rebuilt for every plan: it is a few thousand bytes of copying against a plan that
 * scores every host for every VM, and it keeps placement's input exactly the state.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hac_int.h"

/* ---- small helpers -------------------------------------------------------------- */

void hac__event(hac_out *out, int32_t vm, int32_t host, const char *fmt, ...)
{
    hac_out_item it = {.kind = HAC_O_EVENT, .vm = vm, .host = host};
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(it.text, sizeof it.text, fmt, ap);
    va_end(ap);
    hac_out_push(out, &it);
}

void hac__propose(hac_out *out, const hac_prop *p)
{
    hac_out_item it = {.kind = HAC_O_PROPOSE, .prop = *p, .vm = -1, .host = -1};
    hac_out_push(out, &it);
}

uint64_t hac__send_cmd(hac_coord *c, hac_out *out, hac_cmd_kind kind, uint32_t vm,
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
    /* where it went: only that host's result answers it (hac_coord.c, on_result) */
    uint32_t dest = kind == HAC_CMD_MIGRATE ? from : to;
    c->sent_id[it.cmd.id % HAC__SENT_RING] = it.cmd.id;
    c->sent_to[it.cmd.id % HAC__SENT_RING] = dest;
    if (kind == HAC_CMD_RUN)
        c->upg_run_to = to;
    else
        c->v[vm].cmd_dest = dest;
    return it.cmd.id;
}

const char *hac__hname(const hac_coord *c, int32_t h)
{
    return h >= 0 && (uint32_t)h < c->s.n_hosts ? c->s.hosts[h].name : "-";
}

bool hac__alive(const hac_coord *c, int32_t h)
{
    return h >= 0 && (uint32_t)h < c->s.n_hosts && c->h[h].known && c->h[h].live == HAC_ALIVE;
}

uint64_t hac__lease_end_ms(const hac_coord *c, uint32_t h)
{
    return c->h[h].last_ack_ms + c->cfg.fence_timeout_ms * c->cfg.drift_pct / 100;
}

/* The host surely runs nothing protected any more: past its lease, or fenced. The lease
 * alone is the safety argument (an agent that got no answer for fence_timeout destroyed
 * them); gossip only has to agree that something is wrong (suspect is enough), so a
 * dead host's VMs restart one lease after its last report instead of waiting out the
 * suspicion timeout as well. */
bool hac__expired(const hac_coord *c, int32_t h)
{
    if (h < 0 || (uint32_t)h >= c->s.n_hosts)
        return false;
    const hview *v = &c->h[h];
    if (!v->known || v->live == HAC_ALIVE)
        return false;
    if (v->fenced)
        return true;
    /* A frozen host's agent stopped cleanly and its QEMUs run on: no lease ends. */
    return !c->s.hosts[h].frozen && c->now_ms >= hac__lease_end_ms(c, (uint32_t)h);
}

bool hac__frozen(const hac_coord *c, int32_t h)
{
    return h >= 0 && (uint32_t)h < c->s.n_hosts && c->s.hosts[h].frozen;
}

/* Once per freeze, when the lease of a frozen host that is gone would have ended (its VMs
 * would be restarting now): say that they are not, why, and the way out. */
void hac__note_frozen(hac_coord *c, hac_out *out)
{
    for (uint32_t h = 0; h < c->s.n_hosts; h++) {
        hview *v = &c->h[h];
        if (!c->s.hosts[h].frozen) {
            v->frozen_ms = 0;
            v->frozen_reported = false;
            continue;
        }
        if (!v->frozen_ms)
            v->frozen_ms = c->now_ms ? c->now_ms : 1;
        if (v->frozen_reported || !v->known || v->live == HAC_ALIVE || v->fenced ||
            c->now_ms < hac__lease_end_ms(c, h))
            continue;
        uint32_t n = 0;
        for (uint32_t m = 0; m < c->s.n_vms; m++)
            n += c->s.vms[m].owner == (int32_t)h && c->s.vms[m].protected_;
        v->frozen_reported = true;
        hac__event(out, -1, (int32_t)h,
                   "host %s frozen for %llu s: its %u protected VMs are not recovered until it is "
                   "back or an operator confirms it is off (drover host unfreeze %s --confirm-off)",
                   c->s.hosts[h].name, (unsigned long long)((c->now_ms - v->frozen_ms) / 1000), n,
                   c->s.hosts[h].name);
    }
}

bool hac__vm_idle(const hac_coord *c, uint32_t vm)
{
    return c->v[vm].cmd_id == 0 && c->v[vm].prop_ms == 0;
}

/* Degraded for evacuation: after hysteresis (or the operator's flag). */
bool hac__degraded(const hac_coord *c, uint32_t h)
{
    return c->h[h].degraded || c->s.hosts[h].degraded_flag;
}

/* Degraded for placement: a signal bad right now already keeps new VMs away; only
 * emptying the host waits for degrade_after_ms. */
bool hac__unfit(const hac_coord *c, uint32_t h)
{
    return hac__degraded(c, h) || c->h[h].bad_since_ms != 0;
}

/* Where placement should count the VM: a move in flight counts at its target, a VM
 * seen on a live host there, otherwise at its owner (if it is meant to run). */
int32_t hac__vm_pos(const hac_coord *c, uint32_t vm)
{
    const hac_rvm *m = &c->s.vms[vm];
    if (m->moving_to >= 0)
        return m->moving_to;
    if (hac__alive(c, c->v[vm].seen_on))
        return c->v[vm].seen_on;
    /* A stopped VM keeps its place on its owner: its definition lives there, and an
     * evacuation moves it (cold) like the running ones. */
    return m->owner;
}

/* Group names -> placement group indices, the same for every VM of one view. */
static int group_index(char names[][HAC_GROUP_MAX], uint32_t *n, const char *g)
{
    if (!g[0])
        return -1;
    for (uint32_t i = 0; i < *n; i++)
        if (strcmp(names[i], g) == 0)
            return (int)i;
    if (*n >= PLC_SET_BITS)
        return -1;   /* more distinct groups than a set holds: the rule is not applied */
    snprintf(names[*n], HAC_GROUP_MAX, "%s", g);
    return (int)(*n)++;
}

/* MOVES: a drain's or failback's plan, which keeps the destinations a migration of the
 * VM failed to out (exclude). A restart's plan leaves them in: a failed live migration
 * says little about a cold start there; refusals of STARTs are held back by the restart
 * planner itself, for a while (hac_restart.c). */
void hac__build_view(hac_coord *c, bool moves)
{
    char groups[PLC_SET_BITS][HAC_GROUP_MAX];
    uint32_t n_groups = 0;
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
        /* a frozen host that is back is about to unfreeze itself: nothing goes there */
        p->health = !hac__alive(c, (int32_t)i) || r->frozen ? PLC_HEALTH_DOWN
                  : hac__unfit(c, i)           ? PLC_HEALTH_DEGRADED
                                          : PLC_HEALTH_OK;
        p->agent_version = c->h[i].version;
        plc_set_add(&p->groups, i);
    }
    for (uint32_t v = 0; v < c->s.n_vms; v++) {
        const hac_rvm *m = &c->s.vms[v];
        plc_vm *p = &c->pv[v];
        plc_vm_init(p);
        snprintf(p->name, sizeof p->name, "%s", m->name);
        p->host = hac__vm_pos(c, v);
        p->mem_mib = m->mem_mib;
        p->vcpus = m->vcpus;
        p->protected_ = m->protected_;
        p->priority = m->priority;
        p->restart_order = m->restart_order;
        for (uint32_t h = 0; h < c->s.n_hosts; h++)
            if (((moves ? c->v[v].exclude : 0) | c->v[v].must_not) >> h & 1u)
                plc_set_add(&p->host_must_not, h);
        int g = group_index(groups, &n_groups, m->anti_group);
        if (g >= 0)
            plc_set_add(&p->anti_affinity, (uint32_t)g);
        g = group_index(groups, &n_groups, m->affinity_group);
        if (g >= 0)
            plc_set_add(&p->affinity, (uint32_t)g);
        if (m->moving_to >= 0) {
            c->ph[m->moving_to].migrations_in++;
            if (m->owner >= 0)
                c->ph[m->owner].migrations_out++;
        }
    }
    /* placement counts group members only for groups its table names */
    plc_table *gt = &w->tables[PLC_T_GROUP];
    gt->n = n_groups;
    for (uint32_t i = 0; i < n_groups; i++)
        snprintf(gt->name[i], sizeof gt->name[i], "%.*s", HAC_GROUP_MAX - 1, groups[i]);
}

void hac__first_why(const plc_plan *plan, uint32_t vm, const char **code, const char **ex)
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

/* ---- which hosts can take a START now ------------------------------------------- */

/* Refusals that say the host is not able right now, for any VM, as the fence core and the
 * agent word them (hac.h, HAC_IN_RESULT). Anything else is about the VM on that host. A
 * text we do not know is the safe guess: it holds back one host for one VM. */
static const char *const host_refusals[] = {
    "fenced",                  /* hac_fence.c: no quorum contact */
    "reconciling",             /* hac_fence.c: log not caught up after a return */
    "stale term",              /* hac_fence.c: a newer coordinator exists */
    "too many libvirt jobs",   /* agent/ha_exec.c: busy */
    "cannot queue the job",    /* agent/ha_exec.c: busy */
    "too many commands waiting", /* agent/ha_fence.c: parked behind the log, busy */
    "this host's log",         /* agent/ha_drv.c: log did not reach the commit in time */
};

hac__refusal hac__refusal_class(const char *text)
{
    for (size_t i = 0; i < sizeof host_refusals / sizeof host_refusals[0]; i++)
        if (strncmp(text, host_refusals[i], strlen(host_refusals[i])) == 0)
            return HAC__REF_HOST;
    /* agent/ha_exec.c: "VM unknown here: this host's log is behind" */
    if (strstr(text, "log is behind"))
        return HAC__REF_HOST;
    return HAC__REF_VM;
}

/* Acked within half a lease: the host is in contact with the quorum. One acked longer
 * ago is about to self-fence, or has (its agent's lease ends at most fence_timeout_ms
 * after our last ack, hac.h), and would refuse a START. */
bool hac__fresh(const hac_coord *c, uint32_t h)
{
    return c->now_ms < c->h[h].last_ack_ms + c->cfg.fence_timeout_ms / 2;
}

bool hac__host_held(const hac_coord *c, uint32_t h)
{
    return c->now_ms < c->h[h].hold_until_ms;
}

/* Once per pass: is any live, unheld host fresh? Only then are the stale ones passed
 * over (a preference: when none is fresh, say because this coordinator's own contact
 * is late, staleness tells nothing apart). */
void hac__note_fresh(hac_coord *c)
{
    c->any_fresh = false;
    for (uint32_t h = 0; h < c->s.n_hosts && !c->any_fresh; h++)
        c->any_fresh = hac__alive(c, (int32_t)h) && !hac__host_held(c, h) && hac__fresh(c, h);
}

/* Alive, not frozen, not holding back after refusing a START, and in contact (as far as
 * we can tell): a START sent there now should be carried out. */
bool hac__able(const hac_coord *c, int32_t h)
{
    if (!hac__alive(c, h) || hac__host_held(c, (uint32_t)h) || hac__frozen(c, h))
        return false;
    return hac__fresh(c, (uint32_t)h) || !c->any_fresh;
}

bool hac__vm_held(const hac_coord *c, uint32_t vm, uint32_t h)
{
    for (uint32_t i = 0; i < HAC__HOLDS; i++)
        if (c->v[vm].holds[i].host == h && c->now_ms < c->v[vm].holds[i].until_ms)
            return true;
    return false;
}

/* VM may be sent a START to host H now: H is able and has not refused it lately. */
bool hac__may_start(const hac_coord *c, uint32_t vm, int32_t h)
{
    return hac__able(c, h) && !hac__vm_held(c, vm, (uint32_t)h);
}

/* ---- host admin ----------------------------------------------------------------- */

/* ADMIN proposal; the failback intent is replicated so a new coordinator keeps it. */
void hac__propose_admin_fb(hac_coord *c, hac_out *out, uint32_t h, plc_admin a, bool flag,
                             bool failback)
{
    hac_prop p = {.kind = HAC_P_ADMIN, .index = h, .admin = a, .degraded_flag = flag,
                  .failback = failback};
    hac__propose(out, &p);
    c->h[h].admin_prop_ms = c->now_ms ? c->now_ms : 1;
}

void hac__propose_admin(hac_coord *c, hac_out *out, uint32_t h, plc_admin a, bool flag)
{
    hac_prop p = {.kind = HAC_P_ADMIN, .index = h, .admin = a, .degraded_flag = flag,
                  .failback = c->s.hosts[h].failback};
    hac__propose(out, &p);
    c->h[h].admin_prop_ms = c->now_ms ? c->now_ms : 1;
}

bool hac__host_empty(const hac_coord *c, uint32_t h)
{
    for (uint32_t v = 0; v < c->s.n_vms; v++)
        if (c->s.vms[v].owner == (int32_t)h || c->s.vms[v].moving_to == (int32_t)h)
            return false;
    return true;
}
